"""Reads over the prediction log for serving's analysis and evidence."""

from datetime import datetime

import numpy as np

from monitoring.models import PredictionLog

from .analysis import VariantStats


def score_of(prediction) -> float | None:
    """One number per prediction for comparing distributions: a classifier's probability
    of the positive class (of its label when there are more classes), else the value."""
    if isinstance(prediction, dict) and "probability" in prediction:
        p = float(prediction["probability"])
        return p if prediction.get("label") in (1, True, "1") else 1.0 - p
    if isinstance(prediction, bool) or not isinstance(prediction, (int, float)):
        return None
    return float(prediction)


def variant_stats(*, deployment_id: int, variant: str, since: datetime) -> VariantStats:
    rows = PredictionLog.objects.filter(deployment_id=deployment_id, variant=variant, ts__gte=since).values_list(
        "latency_ms", "prediction", "extra"
    )
    latencies, scores, errors = [], [], 0
    for latency, prediction, extra in rows.iterator(chunk_size=5000):
        latencies.append(latency)
        if extra and extra.get("error"):
            errors += 1
            continue
        score = score_of(prediction)
        if score is not None:
            scores.append(score)
    return VariantStats(
        requests=len(latencies), errors=errors, latencies_ms=np.asarray(latencies), scores=np.asarray(scores)
    )
