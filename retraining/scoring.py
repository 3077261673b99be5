"""Scoring logged rows offline: typed columns from the log's text values, and a model's
score per row (a binary classifier's positive-class probability, else its prediction).
No Django; the caller reads the rows and loads the model."""

import numpy as np
import pandas as pd

NUMERIC = ("double", "float", "long", "integer")
INTEGRAL = ("long", "integer")


def typed_frame(columns: dict[str, pd.Series | np.ndarray], schema: list[dict]) -> pd.DataFrame:
    """A frame with the schema's columns in order: numbers as numbers (text that is no
    number: NaN), integers as int64 when nothing is missing, booleans as bools."""
    typed = {}
    for column in schema:
        name, kind = column["name"], column["type"]
        values = pd.Series(columns[name]) if name in columns else pd.Series([None] * _length(columns))
        if kind in NUMERIC:
            values = pd.to_numeric(values, errors="coerce") if values.dtype == object else values.astype(float)
            if kind in INTEGRAL and not values.isna().any():
                values = values.astype("int64")
        elif kind == "boolean":
            values = values.map(lambda v: {"true": True, "false": False}.get(str(v).lower()) if v is not None else None)
        else:
            values = values.astype(object).where(values.notna(), None)
        typed[name] = values.reset_index(drop=True)
    return pd.DataFrame(typed)


def _length(columns) -> int:
    return len(next(iter(columns.values()))) if columns else 0


def positive_index(model) -> int | None:
    """Column of predict_proba holding the positive class (scikit-learn's last class) of a
    binary classifier; None for anything else."""
    classes = getattr(model, "classes_", None)
    if classes is None or len(classes) != 2 or not hasattr(model, "predict_proba"):
        return None
    return 1


def positive_label(model):
    classes = getattr(model, "classes_", None)
    return None if classes is None or len(classes) != 2 else classes[1]


def scores_of(model, frame: pd.DataFrame) -> np.ndarray:
    index = positive_index(model)
    if index is not None:
        return np.asarray(model.predict_proba(frame))[:, index].astype(float)
    return np.asarray(model.predict(frame), dtype=float).reshape(len(frame))


def labels_01(raw: pd.Series, positive) -> np.ndarray:
    """Ground truth as 1.0 (the positive class), 0.0, or NaN (no label). Text from the log
    ("1", "true", "churned") is compared with the positive class as text and as a number."""
    text = raw.astype(object)
    present = text.notna() & (text.astype(str) != "")
    wanted = str(positive).lower()
    as_text = text.astype(str).str.lower()
    numeric = pd.to_numeric(text, errors="coerce")
    try:
        wanted_number = float(positive)
    except (TypeError, ValueError):
        wanted_number = None
    hit = as_text == wanted
    if wanted_number is not None:
        hit = hit | (numeric == wanted_number)
    if isinstance(positive, (bool, np.bool_)):
        hit = as_text == ("true" if positive else "false")
    out = np.where(hit, 1.0, 0.0)
    out[~present.to_numpy()] = np.nan
    return out


def values_float(raw: pd.Series) -> np.ndarray:
    return pd.to_numeric(raw.astype(object), errors="coerce").to_numpy(dtype=float)
