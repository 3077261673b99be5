"""Champion versus challenger on the same labelled rows: the policy's metric for each, the
improvement with a paired bootstrap confidence interval, score histograms as shares,
calibration, and the PSI between the two score distributions. Pure numpy, no Django.

Scores are a binary classifier's positive-class probabilities (labels 0/1) or a regressor's
values. The interval comes from a Poisson bootstrap (each row weighted by a Poisson(1) draw
per replicate, the same weights for both models, so the pairing holds), which lets AUC be
computed per replicate in one pass over rows sorted once: O(n) per replicate, not a re-sort.
Above `max_rows` rows the interval is computed on a random subset of that many rows (the
point estimate always uses every row): a subset gives a wider, never a narrower, interval.

`ComparisonStream` does the whole comparison over chunks in memory bounded by the chunk and
`max_rows`, whatever the row count: the point estimates from running sums (ROC AUC exactly
on the rows while they all fit the sample, above that from per-class counts in AUC_BINS
fine bins, with the largest error that binning can cause reported), the interval from a
uniform random sample of at most `max_rows` labelled rows (each row gets a random key and
the smallest keys are kept), histograms, calibration and the reference profile's score bins
from counts. `compare` is the same over one chunk.
"""

from dataclasses import dataclass

import numpy as np

from monitoring.drift.psi import psi_from_shares

HIGHER_IS_BETTER = ("roc_auc", "accuracy", "f1")
LOWER_IS_BETTER = ("rmse", "mae")
CLASSIFIER_METRICS = HIGHER_IS_BETTER
BINS = 20
CALIBRATION_BINS = 10
AUC_BINS = 1 << 18
MAX_ROWS = 200_000


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
    max_rows: int = MAX_ROWS,
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




def score_edges(low: float, high: float) -> tuple[str, np.ndarray]:
    """The histogram's kind and common edges from the lowest and highest score of both models
    (NaN when there is none): probabilities on [0, 1], other values on [low, high]."""
    if not np.isfinite(low):
        return "empty", np.linspace(0.0, 1.0, BINS + 1)
    if low >= 0.0 and high <= 1.0:
        return "probability", np.linspace(0.0, 1.0, BINS + 1)
    return "value", np.histogram_bin_edges(np.array([low, high]), bins=BINS)


def _bin_counts(values: np.ndarray, edges: np.ndarray) -> np.ndarray:
    """np.histogram's counts (the last bin closed) for evenly spaced edges, by arithmetic."""
    bins = len(edges) - 1
    index = np.floor((values - edges[0]) * (bins / (edges[-1] - edges[0]))).astype(np.int64)
    return np.bincount(np.clip(index, 0, bins - 1), minlength=bins)


def _shares_of(counts: np.ndarray) -> list[float]:
    total = counts.sum()
    return (counts / total).round(6).tolist() if total else [0.0] * len(counts)


class _PointSums:
    """One model's running sums for the metric's point estimate (labelled rows only)."""

    def __init__(self, metric: str, low: float, high: float):
        self.metric, self.low, self.high = metric, low, high
        self.sums = np.zeros(AUC_BINS * 2 if metric == "roc_auc" else 3)

    def add(self, y: np.ndarray, scores: np.ndarray) -> None:
        if self.metric == "roc_auc":
            edges = np.array([self.low, self.high if self.high > self.low else self.low + 1.0])
            index = np.floor((scores - edges[0]) * (AUC_BINS / (edges[1] - edges[0]))).astype(np.int64)
            index = np.clip(index, 0, AUC_BINS - 1) + AUC_BINS * (y >= 0.5)
            self.sums += np.bincount(index, minlength=AUC_BINS * 2)
        elif self.metric == "accuracy":
            self.sums += [((scores >= 0.5) == (y >= 0.5)).sum(), len(y), 0]
        elif self.metric == "f1":
            predicted, actual = scores >= 0.5, y >= 0.5
            self.sums += [(predicted & actual).sum(), (predicted & ~actual).sum(), (~predicted & actual).sum()]
        else:
            loss = (scores - y) ** 2 if self.metric == "rmse" else np.abs(scores - y)
            self.sums += [loss.sum(), len(y), 0]

    def value(self) -> tuple[float, float]:
        """The estimate and the largest error binning can have put into it (AUC only)."""
        a, b, c = self.sums[:3]
        if self.metric == "roc_auc":
            neg, pos = self.sums[:AUC_BINS], self.sums[AUC_BINS:]
            total_pos, total_neg = pos.sum(), neg.sum()
            if total_pos == 0 or total_neg == 0:
                return float("nan"), 0.0
            below = np.cumsum(neg) - neg
            pairs = total_pos * total_neg
            # A positive and a negative in one bin count as a tie (half); ordered, they count 0 or 1.
            return float((pos * (below + 0.5 * neg)).sum() / pairs), float(0.5 * (pos * neg).sum() / pairs)
        if self.metric == "accuracy" or self.metric == "mae":
            return (float(a / b) if b else float("nan")), 0.0
        if self.metric == "rmse":
            return (float(np.sqrt(a / b)) if b else float("nan")), 0.0
        return (float(2 * a / (2 * a + b + c)) if (2 * a + b + c) else 0.0), 0.0


class _Sample:
    """A uniform random sample of at most `size` rows: the rows with the smallest random keys."""

    def __init__(self, size: int, seed: int):
        self.size, self.rng, self.seen = size, np.random.default_rng(seed), 0
        self.keys, self.rows = np.empty(0), np.empty((3, 0))

    def add(self, rows: np.ndarray) -> None:
        self.seen += rows.shape[1]
        keys = np.concatenate([self.keys, self.rng.random(rows.shape[1])])
        rows = np.concatenate([self.rows, rows], axis=1)
        if len(keys) > self.size:
            keep = np.argpartition(keys, self.size - 1)[: self.size]
            keep.sort()  # rows in the order they came, as when they all fit
            keys, rows = keys[keep], rows[:, keep]
        self.keys, self.rows = keys, rows

    @property
    def complete(self) -> bool:
        return self.seen == self.rows.shape[1]


class ComparisonStream:
    """Champion (None: there is none) against challenger over chunks of rows. `low`/`high`:
    the lowest and highest score of both models over all rows (the histogram's range).
    `reference_edges`: the reference profile's score bins (PSI decile edges), if any."""

    def __init__(
        self, metric: str, *, low: float, high: float, with_champion: bool, reference_edges=None,
        max_rows: int = MAX_ROWS, seed: int = 0,
    ):
        if metric not in HIGHER_IS_BETTER + LOWER_IS_BETTER:
            raise ValueError(f"unknown metric {metric!r}")
        self.metric, self.with_champion = metric, with_champion
        self.kind, self.edges = score_edges(low, high)
        self.models = ("champion", "challenger") if with_champion else ("challenger",)
        self.points = {m: _PointSums(metric, self.edges[0], self.edges[-1]) for m in self.models}
        self.histogram = {m: np.zeros(BINS, dtype=np.int64) for m in self.models}
        self.calibration = {m: np.zeros((3, CALIBRATION_BINS)) for m in self.models}  # rows, scores, labels
        self.reference_edges = None if reference_edges is None else np.asarray(reference_edges, dtype=float)
        self.reference = {m: np.zeros(len(reference_edges) + 1, dtype=np.int64) for m in self.models} \
            if reference_edges is not None else {}
        self.sample = _Sample(max_rows, seed)
        self.rows = 0

    def add(self, y, champion, challenger) -> None:
        """`y` NaN for an unlabelled row (it counts in the histograms only)."""
        y = np.asarray(y, dtype=float)
        scores = {"challenger": np.asarray(challenger, dtype=float)}
        if self.with_champion:
            scores["champion"] = np.asarray(champion, dtype=float)
        self.rows += len(y)
        labelled = ~np.isnan(y)
        for model, values in scores.items():
            self.histogram[model] += _bin_counts(values, self.edges)
            if self.reference_edges is not None:
                self.reference[model] += np.bincount(
                    np.searchsorted(self.reference_edges, values, side="left"), minlength=len(self.reference_edges) + 1
                )
            self.points[model].add(y[labelled], values[labelled])
            if self.kind == "probability":
                index = np.clip(np.digitize(values[labelled], np.linspace(0.0, 1.0, CALIBRATION_BINS + 1)[1:-1]),
                                0, CALIBRATION_BINS - 1)
                for row, weights in enumerate((None, values[labelled], y[labelled])):
                    self.calibration[model][row] += np.bincount(index, weights=weights, minlength=CALIBRATION_BINS)
        champion_labelled = scores["champion"][labelled] if self.with_champion else np.full(labelled.sum(), np.nan)
        self.sample.add(np.vstack([y[labelled], champion_labelled, scores["challenger"][labelled]]))

    def _value(self, model: str) -> tuple[float, float]:
        if self.sample.complete and self.sample.seen:  # every labelled row is at hand: exact
            y, champion, challenger = self.sample.rows
            return metric_value(self.metric, y, champion if model == "champion" else challenger), 0.0
        return self.points[model].value()

    def _calibration(self, model: str) -> list[dict]:
        rows, scores, labels = self.calibration[model]
        edges = np.linspace(0.0, 1.0, CALIBRATION_BINS + 1)
        return [{
            "bin": [round(float(edges[b]), 3), round(float(edges[b + 1]), 3)],
            "rows": int(rows[b]),
            "mean_score": round(float(scores[b] / rows[b]), 6) if rows[b] else None,
            "observed_rate": round(float(labels[b] / rows[b]), 6) if rows[b] else None,
        } for b in range(CALIBRATION_BINS)]

    def result(self, *, min_improvement: float = 0.0, replicates: int = 200, seed: int = 0,
               latency_ms: dict | None = None) -> dict:
        """The comparison as plain JSON; without a champion the challenger's metric alone,
        and it "beats" nothing."""
        labelled = self.sample.seen
        challenger_value, challenger_error = self._value("challenger") if labelled else (None, 0.0)
        result = {
            "metric": self.metric,
            "rows": int(labelled),
            "challenger_value": challenger_value,
            "champion_value": None,
            "improvement": None,
            "interval": None,
            "min_improvement": min_improvement,
            "beats_champion": False,
            "latency_ms": latency_ms or {},
            "histograms": {
                "kind": self.kind,
                "edges": [round(float(e), 6) for e in self.edges],
                "champion": _shares_of(self.histogram["champion"]) if self.with_champion else [],
                "challenger": _shares_of(self.histogram["challenger"]),
            },
        }
        if challenger_error:
            result["metric_bin_error"] = {"challenger": challenger_error}
        if self.metric in CLASSIFIER_METRICS and self.kind == "probability" and labelled:
            result["calibration"] = {m: self._calibration(m) if m in self.models else []
                                     for m in ("challenger", "champion")}
        if not self.with_champion or not labelled:
            return result
        champion_value, champion_error = self._value("champion")
        if champion_error:
            result.setdefault("metric_bin_error", {})["champion"] = champion_error
        result["champion_value"] = champion_value
        result["improvement"] = improvement_of(self.metric, champion_value, challenger_value)
        y, champion, challenger = self.sample.rows
        interval = bootstrap_improvement(self.metric, y, champion, challenger, replicates=replicates, seed=seed)
        result["interval"] = {
            "low": interval.low, "high": interval.high, "level": interval.level,
            "replicates": interval.replicates, "rows": interval.rows,
        }
        result["beats_champion"] = bool(np.isfinite(interval.low) and interval.low > min_improvement)
        result["score_psi"] = psi_from_shares(
            np.asarray(result["histograms"]["champion"]), np.asarray(result["histograms"]["challenger"])
        )
        return result

    def reference_psi(self, reference_shares) -> dict:
        """PSI of each model's scores against the reference profile's score distribution."""
        reference = np.asarray(reference_shares, dtype=float)
        return {m: psi_from_shares(reference, counts / max(counts.sum(), 1)) for m, counts in self.reference.items()}


def _low_high(*arrays) -> tuple[float, float]:
    values = np.concatenate([np.asarray(a, dtype=float).ravel() for a in arrays if a is not None] or [np.array([])])
    values = values[np.isfinite(values)]
    return (float(values.min()), float(values.max())) if len(values) else (float("nan"), float("nan"))


def compare(
    *, metric: str, y, champion, challenger, min_improvement: float = 0.0, replicates: int = 200, seed: int = 0,
    latency_ms: dict | None = None,
) -> dict:
    """The whole comparison of labelled rows held in memory (one chunk of ComparisonStream)."""
    low, high = _low_high(champion, challenger)
    stream = ComparisonStream(metric, low=low, high=high, with_champion=champion is not None, seed=seed)
    stream.add(y, champion, challenger)
    return stream.result(min_improvement=min_improvement, replicates=replicates, seed=seed, latency_ms=latency_ms)
