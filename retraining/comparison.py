"""Champion versus challenger on the same labelled rows: the policy's metric for each, the
improvement with a paired bootstrap confidence interval, score histograms as shares,
calibration, and the PSI between the two score distributions. Pure numpy, no Django.

Scores are a binary classifier's positive-class probabilities (labels 0/1) or a regressor's
values. The interval comes from a Poisson bootstrap (each row weighted by a Poisson(1) draw
per replicate, the same weights for both models, so the pairing holds), which lets AUC be
computed per replicate in one pass over rows sorted once: O(n) per replicate, not a re-sort.
Above `max_rows` rows the interval is computed on a random subset of that many rows (the
point estimate always uses every row): a subset gives a wider, never a narrower, interval.
"""

from dataclasses import dataclass

import numpy as np

from monitoring.drift.psi import psi_from_shares

HIGHER_IS_BETTER = ("roc_auc", "accuracy", "f1")
LOWER_IS_BETTER = ("rmse", "mae")
CLASSIFIER_METRICS = HIGHER_IS_BETTER
BINS = 20
CALIBRATION_BINS = 10


class _SortedAuc:
    """Weighted ROC AUC of one score vector, ties averaged, for many weight vectors."""

    def __init__(self, y: np.ndarray, scores: np.ndarray):
        order = np.argsort(scores, kind="mergesort")
        sorted_scores = scores[order]
        self.order = order
        self.y = y[order].astype(float)
        self.starts = np.flatnonzero(np.r_[True, sorted_scores[1:] != sorted_scores[:-1]])

    def __call__(self, weights: np.ndarray) -> float:
        w = weights[self.order]
        pos = np.add.reduceat(w * self.y, self.starts)
        neg = np.add.reduceat(w * (1.0 - self.y), self.starts)
        total_pos, total_neg = pos.sum(), neg.sum()
        if total_pos == 0 or total_neg == 0:
            return float("nan")
        below = np.cumsum(neg) - neg
        return float((pos * (below + 0.5 * neg)).sum() / (total_pos * total_neg))


def _weighted(metric: str, y: np.ndarray, scores: np.ndarray):
    """A function weights -> metric value for one model."""
    if metric == "roc_auc":
        return _SortedAuc(y, scores)
    if metric == "accuracy":
        right = ((scores >= 0.5) == (y >= 0.5)).astype(float)
        return lambda w: float((w * right).sum() / w.sum())
    if metric == "f1":
        predicted, actual = scores >= 0.5, y >= 0.5
        tp, fp, fn = (predicted & actual).astype(float), (predicted & ~actual).astype(float), (~predicted & actual).astype(float)

        def f1(w):
            denominator = 2 * (w * tp).sum() + (w * fp).sum() + (w * fn).sum()
            return float(2 * (w * tp).sum() / denominator) if denominator else 0.0

        return f1
    if metric == "rmse":
        squared = (scores - y) ** 2
        return lambda w: float(np.sqrt((w * squared).sum() / w.sum()))
    if metric == "mae":
        absolute = np.abs(scores - y)
        return lambda w: float((w * absolute).sum() / w.sum())
    raise ValueError(f"unknown metric {metric!r}")


def metric_value(metric: str, y, scores) -> float:
    y, scores = np.asarray(y, dtype=float), np.asarray(scores, dtype=float)
    return _weighted(metric, y, scores)(np.ones(len(y)))


def improvement_of(metric: str, champion: float, challenger: float) -> float:
    """Positive when the challenger is better, in the metric's units."""
    return challenger - champion if metric in HIGHER_IS_BETTER else champion - challenger


@dataclass(frozen=True)
class Interval:
    low: float
    high: float
    level: float
    replicates: int
    rows: int


def bootstrap_improvement(
    metric: str, y, champion, challenger, *, replicates: int = 200, level: float = 0.95, seed: int = 0,
    max_rows: int = 200_000,
) -> Interval:
    y, champion, challenger = (np.asarray(a, dtype=float) for a in (y, champion, challenger))
    rng = np.random.default_rng(seed)
    if len(y) > max_rows:
        keep = rng.choice(len(y), max_rows, replace=False)
        y, champion, challenger = y[keep], champion[keep], challenger[keep]
    f_champion, f_challenger = _weighted(metric, y, champion), _weighted(metric, y, challenger)
    values = []
    for _ in range(replicates):
        w = rng.poisson(1.0, len(y)).astype(float)
        diff = improvement_of(metric, f_champion(w), f_challenger(w))
        if np.isfinite(diff):
            values.append(diff)
    if not values:
        return Interval(float("nan"), float("nan"), level, 0, len(y))
    tail = (1 - level) / 2 * 100
    low, high = np.percentile(values, [tail, 100 - tail])
    return Interval(float(low), float(high), level, len(values), len(y))


def _edges(champion: np.ndarray, challenger: np.ndarray) -> tuple[str, np.ndarray]:
    both = np.concatenate([champion, challenger])
    if len(both) and both.min() >= 0.0 and both.max() <= 1.0:
        return "probability", np.linspace(0.0, 1.0, BINS + 1)
    if not len(both):
        return "empty", np.linspace(0.0, 1.0, BINS + 1)
    return "value", np.histogram_bin_edges(both, bins=BINS)


def _shares(values: np.ndarray, edges: np.ndarray) -> list[float]:
    counts = np.histogram(values, bins=edges)[0].astype(float)
    return (counts / counts.sum()).round(6).tolist() if counts.sum() else [0.0] * (len(edges) - 1)


def histograms(champion, challenger) -> dict:
    """Score histograms as shares of each model's rows, on common edges."""
    champion_arr = np.asarray(champion if champion is not None else [], dtype=float)
    challenger = np.asarray(challenger, dtype=float)
    kind, edges = _edges(champion_arr, challenger)
    return {
        "kind": kind,
        "edges": [round(float(e), 6) for e in edges],
        "champion": _shares(champion_arr, edges) if champion is not None else [],
        "challenger": _shares(challenger, edges),
    }


def json_safe(value):
    """NaN and infinities as None, numpy scalars as Python numbers, recursively."""
    if isinstance(value, dict):
        return {k: json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [json_safe(v) for v in value]
    if isinstance(value, (np.floating, float)):
        return float(value) if np.isfinite(value) else None
    if isinstance(value, np.integer):
        return int(value)
    if isinstance(value, np.bool_):
        return bool(value)
    return value


def calibration(y: np.ndarray, scores: np.ndarray) -> list[dict]:
    edges = np.linspace(0.0, 1.0, CALIBRATION_BINS + 1)
    index = np.clip(np.digitize(scores, edges[1:-1]), 0, CALIBRATION_BINS - 1)
    out = []
    for b in range(CALIBRATION_BINS):
        mask = index == b
        n = int(mask.sum())
        out.append({
            "bin": [round(float(edges[b]), 3), round(float(edges[b + 1]), 3)],
            "rows": n,
            "mean_score": round(float(scores[mask].mean()), 6) if n else None,
            "observed_rate": round(float(y[mask].mean()), 6) if n else None,
        })
    return out


def compare(
    *, metric: str, y, champion, challenger, min_improvement: float = 0.0, replicates: int = 200, seed: int = 0,
    latency_ms: dict | None = None,
) -> dict:
    """The whole comparison as plain JSON. `champion` may be None (no Production version):
    the challenger's metric alone, and it "beats" nothing."""
    y = np.asarray(y, dtype=float)
    challenger = np.asarray(challenger, dtype=float)
    result = {
        "metric": metric,
        "rows": int(len(y)),
        "challenger_value": metric_value(metric, y, challenger) if len(y) else None,
        "champion_value": None,
        "improvement": None,
        "interval": None,
        "min_improvement": min_improvement,
        "beats_champion": False,
        "latency_ms": latency_ms or {},
    }
    classifier = metric in CLASSIFIER_METRICS
    champion_arr = np.asarray(champion, dtype=float) if champion is not None else np.array([])
    result["histograms"] = histograms(champion_arr if champion is not None else None, challenger)
    if classifier and result["histograms"]["kind"] == "probability" and len(y):
        result["calibration"] = {
            "challenger": calibration(y, challenger),
            "champion": calibration(y, champion_arr) if champion is not None else [],
        }
    if champion is None or not len(y):
        return result
    result["champion_value"] = metric_value(metric, y, champion_arr)
    result["improvement"] = improvement_of(metric, result["champion_value"], result["challenger_value"])
    interval = bootstrap_improvement(metric, y, champion_arr, challenger, replicates=replicates, seed=seed)
    result["interval"] = {
        "low": interval.low, "high": interval.high, "level": interval.level,
        "replicates": interval.replicates, "rows": interval.rows,
    }
    result["beats_champion"] = bool(np.isfinite(interval.low) and interval.low > min_improvement)
    result["score_psi"] = psi_from_shares(
        np.asarray(result["histograms"]["champion"]), np.asarray(result["histograms"]["challenger"])
    )
    return result
