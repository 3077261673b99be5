"""Turn validated rows into predictions with a loaded model."""

import pandas as pd

from registry.model_loading import LoadedModel


def _plain(value):
    return value.item() if hasattr(value, "item") else value


def score(loaded: LoadedModel, rows: list[dict]) -> list:
    """Classifiers with probabilities answer {label, probability} per row (the
    probability of the predicted label); other models answer the predicted value."""
    frame = pd.DataFrame.from_records(rows, columns=list(loaded.input_columns) or None)
    if loaded.has_proba and hasattr(loaded.model, "classes_"):
        proba = loaded.predict_proba(frame)
        best = proba.argmax(axis=1)
        classes = loaded.model.classes_
        return [{"label": _plain(classes[i]), "probability": float(p[i])} for i, p in zip(best, proba)]
    values = loaded.predict(frame)
    if hasattr(values, "tolist"):
        values = values.tolist()
    elif hasattr(values, "to_dict"):
        values = values.to_dict(orient="records")
    return [_plain(v) for v in values]
