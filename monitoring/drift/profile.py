"""Reference profile: what a drift job needs from the reference data, computed once and stored
as plain JSON (pure numpy/scipy, no pandas, no Django).

Per numeric feature: the PSI decile edges (<= 9) and the reference's shares of those bins,
a bounded random sample (sorted, for KS and Wasserstein), count, mean, std, min, max, null
share. Per categorical feature: the shares of the top K categories and "__other__" for the
rest, count, null share. Also the score distribution (as a numeric feature), the reference
metrics and, for classifiers with probabilities, the calibration used to estimate accuracy.

Nulls (None, NaN, and for numerics also +-inf) count in null_share and stay out of the
distributions. Numeric columns are stacked into one 2-D float array (a row per feature)
and sorted in place along the rows once; edges, shares, extremes and the sample are read
from the sorted rows.
"""

from collections import Counter

import numpy as np

from . import performance
from .psi import counts_sorted, decile_edges_sorted
from .stats import OTHER

VERSION = 1
_HASH_CHUNK = 1 << 16


# ---- columns ----------------------------------------------------------------------------

def sorted_numeric_rows(arrays: list) -> np.ndarray:
    """One (features, rows) float64 array, each row sorted ascending in place. NaN sort last."""
    lengths = {len(a) for a in arrays}
    if len(lengths) > 1:
        raise ValueError(f"columns differ in length: {sorted(lengths)}")
    matrix = np.empty((len(arrays), lengths.pop() if lengths else 0), dtype=float)
    for row, values in zip(matrix, arrays):
        values = np.asarray(values)
        row[:] = np.asarray(values, dtype=float) if values.dtype.kind == "O" else values
    matrix.sort(axis=1)
    return matrix


# Numeric features are sorted this many at a time: one (block, rows) array, so memory stays
# at a few columns' worth (32 MB at a million rows) however many features there are.
BLOCK_FEATURES = 4


def sorted_numeric_blocks(arrays: list):
    """Each array as a sorted float row, produced BLOCK_FEATURES rows at a time."""
    for start in range(0, len(arrays), BLOCK_FEATURES):
        yield from sorted_numeric_rows(arrays[start : start + BLOCK_FEATURES])


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
    for start in range(0, n, _HASH_CHUNK):
        keys[start:start + _HASH_CHUNK] = codes[start:start + _HASH_CHUNK].astype(np.uint64) @ powers
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
        "std": float(np.sqrt(np.mean(np.square(valid - mean)))),
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
    for name, row in zip(numeric, sorted_numeric_blocks([columns[name] for name in numeric])):
        features[name] = numeric_profile(row, sample_size=sample_size, rng=rng)
    for name, kind in kinds.items():
        if kind == "categorical":
            features[name] = categorical_profile(columns[name], top_k=top_k)
    features = {name: features[name] for name in kinds}

    score_profile = None
    if scores is not None:
        score_row = sorted_numeric_rows([scores])[0]
        score_profile = numeric_profile(score_row, sample_size=sample_size, rng=rng)
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
