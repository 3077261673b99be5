"""Turn validated rows into predictions with a loaded model."""

import warnings

import numpy as np
import pandas as pd

from registry.model_loading import LoadedModel

NUMERIC_TYPES = {"double", "float", "integer", "long", "boolean"}
# A scikit-learn model fitted on a DataFrame warns when given an array; the array path
# below is taken only for models that score it the same, so the warning is noise.
warnings.filterwarnings("ignore", message="X does not have valid feature names")

# Loaded models (by id) that failed on a plain array: they need a DataFrame.
_needs_frame: set[int] = set()


def _plain(value):
    return value.item() if hasattr(value, "item") else value


def _inputs(loaded: LoadedModel, rows: list[dict], numeric: bool):
    """A float array in schema order when every feature is numeric and the model is
    scikit-learn's own (about twice as fast for one row), else a DataFrame."""
    columns = list(loaded.input_columns)
    if numeric and loaded.flavor == "sklearn" and id(loaded) not in _needs_frame:
        return np.array([[row[c] for c in columns] for row in rows], dtype=float)
    return pd.DataFrame.from_records(rows, columns=columns or None)


def _predict(loaded: LoadedModel, rows: list[dict], numeric: bool, proba: bool):
    method = loaded.predict_proba if proba else loaded.predict
    data = _inputs(loaded, rows, numeric)
    if isinstance(data, np.ndarray):
        try:
            return method(data)
        except Exception:  # e.g. a pipeline that selects columns by name
            _needs_frame.add(id(loaded))
            data = _inputs(loaded, rows, numeric)
    return method(data)


def score(loaded: LoadedModel, rows: list[dict], schema: list[dict] | None = None) -> list:
    """Classifiers with probabilities answer {label, probability} per row (the
    probability of the predicted label); other models answer the predicted value."""
    numeric = bool(schema) and all(c["type"] in NUMERIC_TYPES for c in schema) and not any(
        row.get(c["name"]) is None for row in rows for c in schema
    )
    if loaded.has_proba and hasattr(loaded.model, "classes_"):
        proba = _predict(loaded, rows, numeric, proba=True)
        best = proba.argmax(axis=1)
        classes = loaded.model.classes_
        return [{"label": _plain(classes[i]), "probability": float(p[i])} for i, p in zip(best, proba)]
    values = _predict(loaded, rows, numeric, proba=False)
    if hasattr(values, "tolist"):
        values = values.tolist()
    elif hasattr(values, "to_dict"):
        values = values.to_dict(orient="records")
    return [_plain(v) for v in values]
