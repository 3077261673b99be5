"""Reference profile: what a drift job needs from the reference data, computed once and stored
as plain JSON (pure numpy/scipy, no pandas, no Django).

Per numeric feature: the PSI decile edges (<= 9) and the reference's shares of those bins,
a bounded random sample (sorted, for KS and Wasserstein), count, mean, std, min, max, null
share. Per categorical feature: the shares of the top K categories and "__other__" for the
rest, count, null share. Also the score distribution (as a numeric feature), the reference
metrics and, for classifiers with probabilities, the calibration used to estimate accuracy.

Nulls (None, NaN, and for numerics also +-inf) count in null_share and stay out of the
distributions. Each numeric column is copied once into a float64 array and sorted in place;
edges, shares, extremes, mean, std and the sample are read from it, and it is dropped before
the next column is copied; the passes over it that compute go a chunk at a time.
"""

from collections import Counter

import numpy as np

from . import performance
from .psi import counts_sorted, decile_edges_sorted
from .stats import CHUNK, OTHER

VERSION = 1


# ---- columns ----------------------------------------------------------------------------

def sorted_float(values) -> np.ndarray:
    """A sorted float64 copy of one column (NaN last), made by one conversion and an in-place
    sort: the only array of a column's size the kernels allocate, for one column at a time
    (8 MB at a million rows, however many features there are)."""
    row = np.array(values, dtype=float)
    row.sort()
    return row


def finite_slice(sorted_row: np.ndarray) -> np.ndarray:
    """The finite part of a sorted row (-inf sorts first, +inf and NaN last)."""
    lo = np.searchsorted(sorted_row, -np.inf, side="right")
    hi = np.searchsorted(sorted_row, np.inf, side="left")
    return sorted_row[lo:hi]


def _string_counts(values: np.ndarray) -> dict:
    """Counts of a fixed-width unicode array without sorting strings: each string becomes one
    integer key, exactly when it fits in 64 bits (up to 2 characters, or up to 8 characters
    below U+0100) and decoded back from the key; longer strings through a 64-bit polynomial
    hash whose groups are verified against the strings (np.unique on the strings if two differ)."""
    values = np.ascontiguousarray(values)
    n, width = len(values), values.dtype.itemsize // 4
    if n == 0:
        return {}
    if width == 0:
        return {"": n}
    codes = values.view(np.uint32).reshape(n, width)
    if width <= 2 or (width <= 8 and codes.max() < 256):
        if width <= 2:
            padded = np.zeros((n, 2), dtype=np.uint32)
            padded[:, :width] = codes
            keys, dtype = padded.view(np.uint64).ravel(), "<u4"
        else:
            padded = np.zeros((n, 8), dtype=np.uint8)
            padded[:, :width] = codes
            keys, dtype = padded.view(np.uint64).ravel(), "u1"
        uniques, counts = np.unique(keys, return_counts=True)
        chars = uniques.view(dtype).reshape(len(uniques), -1).tolist()
        names = ["".join(map(chr, row)).rstrip("\0") for row in chars]
        return {name: int(c) for name, c in zip(names, counts.tolist())}
    powers = np.uint64(1_000_003) ** np.arange(width, dtype=np.uint64)
    keys = np.empty(n, dtype=np.uint64)
    for start in range(0, n, CHUNK):
        keys[start:start + CHUNK] = codes[start:start + CHUNK].astype(np.uint64) @ powers
    _, first, inverse, counts = np.unique(keys, return_index=True, return_inverse=True, return_counts=True)
    representatives = values[first]
    if not np.array_equal(values, representatives[inverse]):
        representatives, counts = np.unique(values, return_counts=True)
    return {str(k): int(c) for k, c in zip(representatives.tolist(), counts.tolist())}


def category_counts(values) -> tuple[dict[str, int], int]:
    """({category as str: count}, null count) without pandas. Object arrays are counted with a
    C-level Counter; numeric codes and strings with np.unique on integers."""
    values = np.asarray(values)
    kind = values.dtype.kind
    if kind == "U":
        return _string_counts(values), 0
    if kind in "iub":
        uniques, counts = np.unique(values, return_counts=True)
        return {str(k): int(c) for k, c in zip(uniques.tolist(), counts.tolist())}, 0
    if kind == "f":
        null = ~np.isfinite(values)
        uniques, counts = np.unique(values[~null], return_counts=True)
        return {str(k): int(c) for k, c in zip(uniques.tolist(), counts.tolist())}, int(null.sum())
    if kind == "S":
        uniques, counts = np.unique(values, return_counts=True)
        return {k.decode(): int(c) for k, c in zip(uniques.tolist(), counts.tolist())}, 0
    raw = Counter(iter(values.ravel()))
    result: dict[str, int] = {}
    nulls = 0
    for key, count in raw.items():
        if key is None or (isinstance(key, float) and key != key):
            nulls += count
            continue
        name = key if isinstance(key, str) else str(key)
        result[name] = result.get(name, 0) + count
    return result, nulls


# ---- profiles -----------------------------------------------------------------------------

def population_std(values: np.ndarray, mean: float) -> float:
    """sqrt(mean((values - mean)^2)), a chunk at a time (no column-sized temporaries)."""
    total = 0.0
    for start in range(0, len(values), CHUNK):
        deviations = values[start:start + CHUNK] - mean
        total += float(np.square(deviations, out=deviations).sum())
    return float(np.sqrt(total / len(values)))


def numeric_profile(sorted_row: np.ndarray, *, sample_size: int, rng: np.random.Generator) -> dict:
    n = len(sorted_row)
    valid = finite_slice(sorted_row)
    count = len(valid)
    profile = {"kind": "numeric", "count": count, "null_share": (n - count) / n if n else 0.0}
    if count == 0:
        return profile | {"edges": [], "shares": [], "sample": [], "mean": None, "std": None,
                          "min": None, "max": None}
    edges = decile_edges_sorted(valid)
    if count > sample_size:
        sample = valid[np.sort(rng.choice(count, size=sample_size, replace=False))]
    else:
        sample = valid
    mean = float(valid.mean())
    return profile | {
        "edges": edges.tolist(),
        "shares": (counts_sorted(valid, edges) / count).tolist(),
        "sample": sample.tolist(),
        "mean": mean,
        "std": population_std(valid, mean),
        "min": float(valid[0]),
        "max": float(valid[-1]),
    }


def categorical_profile(values, *, top_k: int) -> dict:
    counts, nulls = category_counts(values)
    n = len(values)
    count = sum(counts.values())
    ranked = sorted(counts.items(), key=lambda item: (-item[1], item[0]))
    shares = {name: c / count for name, c in ranked[:top_k] if name != OTHER}
    rest = count - sum(c for name, c in ranked[:top_k] if name != OTHER)
    shares[OTHER] = rest / count if count else 0.0
    return {"kind": "categorical", "count": count, "null_share": nulls / n if n else 0.0, "shares": shares}


def profile_build(columns: dict, kinds: dict, *, scores=None, labels=None, task=None,
                  sample_size: int = 10_000, top_k: int = 50, seed: int = 0) -> dict:
    """The reference profile of `columns` (name -> 1-D array), `kinds` saying which are
    "numeric" and which "categorical". JSON-serialisable: plain lists, floats and ints."""
    rng = np.random.default_rng(seed)
    unknown = {k for k in kinds.values()} - {"numeric", "categorical"}
    if unknown:
        raise ValueError(f"unknown feature kinds: {sorted(unknown)}")
    numeric = [name for name, kind in kinds.items() if kind == "numeric"]
    lengths = {len(columns[name]) for name in kinds}
    n_rows = lengths.pop() if len(lengths) == 1 else None
    if n_rows is None and kinds:
        raise ValueError("columns differ in length")
    features: dict[str, dict] = {}
    for name in numeric:
        features[name] = numeric_profile(sorted_float(columns[name]), sample_size=sample_size, rng=rng)
    for name, kind in kinds.items():
        if kind == "categorical":
            features[name] = categorical_profile(columns[name], top_k=top_k)
    features = {name: features[name] for name in kinds}

    score_profile = None
    if scores is not None:
        score_profile = numeric_profile(sorted_float(scores), sample_size=sample_size, rng=rng)
    metrics, calibration = _reference_metrics(scores, labels, task)
    return {"version": VERSION, "n_rows": int(n_rows or (len(scores) if scores is not None else 0)),
            "features": features, "score": score_profile, "metrics": metrics, "calibration": calibration}


def _reference_metrics(scores, labels, task):
    if labels is None or scores is None or task not in ("classifier", "regressor"):
        return {}, None
    labels = np.asarray(labels)
    scores = np.asarray(scores, dtype=float)
    known = ~performance.null_mask(labels) & np.isfinite(scores)
    labels, scores = labels[known], scores[known]
    if len(labels) == 0:
        return {}, None
    if task == "regressor":
        return performance.metrics_regressor(labels.astype(float), scores), None
    if len(set(labels.tolist())) > 2:  # a multi-class score is a confidence, not a class probability
        return {}, None
    positive = performance.positive_class(labels)
    truth = performance.binarise(labels, positive)
    metrics = performance.metrics_classifier(truth, (scores >= 0.5).astype(int), scores)
    return metrics, performance.calibration_fit(scores, truth)
