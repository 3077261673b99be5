"""Turn validated rows into predictions with a loaded model."""

import threading
import warnings
import weakref

import numpy as np
import pandas as pd

from registry.model_loading import LoadedModel

from .batching import combined
from .compiled_trees import compile_hgb

NUMERIC_TYPES = {"double", "float", "integer", "long", "boolean"}
# A scikit-learn model fitted on a DataFrame warns when given an array; the array path
# below is taken only for models that score it the same, so the warning is noise.
warnings.filterwarnings("ignore", message="X does not have valid feature names")

# Loaded models (by id) that failed on a plain array: they need a DataFrame.
_needs_frame: set[int] = set()


# Up to this many rows the compiled tree walk beats scikit-learn's (it walks every row
# through every tree level at once, which costs more than sklearn's loop on big inputs).
COMPILED_MAX_ROWS = 32
_compiled: "weakref.WeakKeyDictionary[LoadedModel, object]" = weakref.WeakKeyDictionary()
_compiled_lock = threading.Lock()


def prepare(loaded: LoadedModel) -> None:
    """Once per loaded model and process: compile a tree ensemble when that gives the same
    answers (serving.compiled_trees). Called on the load path, so its cost counts as the
    model's cold start, not as a prediction's latency."""
    if loaded in _compiled:
        return
    with _compiled_lock:
        if loaded not in _compiled:
            _compiled[loaded] = compile_hgb(loaded.model) if loaded.flavor == "sklearn" else None


def _array_method(loaded: LoadedModel, name: str):
    fallback = getattr(loaded, name)
    compiled = _compiled.get(loaded)
    if compiled is None:
        return fallback
    fast = getattr(compiled, name)
    return lambda data: fast(data) if len(data) <= COMPILED_MAX_ROWS else fallback(data)


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
    name = "predict_proba" if proba else "predict"
    method = getattr(loaded, name)
    data = _inputs(loaded, rows, numeric)
    if isinstance(data, np.ndarray):
        try:  # concurrent requests in this process share the model's calls
            return combined(loaded, name, _array_method(loaded, name))(data)
        except Exception:  # e.g. a pipeline that selects columns by name
            _needs_frame.add(id(loaded))
            data = _inputs(loaded, rows, numeric)
    return method(data)


def score(loaded: LoadedModel, rows: list[dict], schema: list[dict] | None = None) -> list:
    """Classifiers with probabilities answer {label, probability} per row (the
    probability of the predicted label), plus every class's probability when the model
    declares predict_proba as its predict function; a model that declares another method
    answers that method's output; other models answer the predicted value."""
    prepare(loaded)
    numeric = bool(schema) and all(c["type"] in NUMERIC_TYPES for c in schema) and not any(
        row.get(c["name"]) is None for row in rows for c in schema
    )
    if loaded.predict_fn not in ("predict", "predict_proba"):
        values = getattr(loaded.model, loaded.predict_fn)(_inputs(loaded, rows, numeric))
    elif loaded.has_proba and hasattr(loaded.model, "classes_"):
        proba = _predict(loaded, rows, numeric, proba=True)
        best = proba.argmax(axis=1)
        classes = loaded.model.classes_
        answers = [{"label": _plain(classes[i]), "probability": float(p[i])} for i, p in zip(best, proba)]
        if loaded.predict_fn == "predict_proba":
            for answer, p in zip(answers, proba):
                answer["probabilities"] = [float(x) for x in p]
        return answers
    else:
        values = _predict(loaded, rows, numeric, proba=False)
    if hasattr(values, "tolist"):
        values = values.tolist()
    elif hasattr(values, "to_dict"):
        values = values.to_dict(orient="records")
    return [_plain(v) for v in values]
