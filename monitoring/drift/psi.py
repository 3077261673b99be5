"""Population Stability Index on shares, exactly as our drift rule states (pure numpy).

Inner edges are the reference's quantiles at 10 %, 20 %, ..., 90 % (numpy's default
linear method, duplicates dropped); the outer bins are open to minus and plus infinity;
a value v falls in the first bin whose upper edge is >= v. Shares below 1e-4 are raised
to 1e-4 and renormalised to sum 1. PSI = sum (current - reference) * ln(current / reference).

`decile_edges_sorted` and `shares_sorted` give the same edges and shares from an
already sorted column in O(log n): the drift jobs sort each column once and reuse it.
"""

import numpy as np

FLOOR = 1e-4
DECILES = np.linspace(0.1, 0.9, 9)


def decile_edges(reference: np.ndarray) -> np.ndarray:
    return np.unique(np.quantile(reference, DECILES))


def decile_edges_sorted(sorted_values: np.ndarray) -> np.ndarray:
    """`decile_edges` of an ascending array without NaN, bit for bit, without a partition:
    numpy's linear method (virtual index (n - 1) * q, and its two-sided lerp)."""
    n = len(sorted_values)
    if n == 0:
        return np.empty(0)
    virtual = (n - 1) * DECILES
    previous = np.floor(virtual).astype(np.intp)
    gamma = virtual - previous
    if n == 1:  # numpy takes the last element for an index at or past the end
        previous[:], gamma[:] = -1, 1.0
    nxt = np.minimum(previous + 1, n - 1) if n > 1 else previous
    a, b = sorted_values[previous], sorted_values[nxt]
    diff = b - a
    values = np.where(gamma >= 0.5, b - diff * (1 - gamma), a + diff * gamma)
    return np.unique(values)


def shares(values: np.ndarray, edges: np.ndarray) -> np.ndarray:
    """Share of values per bin: bins (-inf, e0], (e0, e1], ..., (e_last, inf)."""
    counts = np.bincount(np.searchsorted(edges, values, side="left"), minlength=len(edges) + 1)
    return counts / max(len(values), 1)


def counts_sorted(sorted_values: np.ndarray, edges: np.ndarray) -> np.ndarray:
    """Counts per bin of `shares` for an ascending array: the number of values <= each edge."""
    upto = np.searchsorted(sorted_values, edges, side="right")
    return np.diff(np.concatenate(([0], upto, [len(sorted_values)])))


def shares_sorted(sorted_values: np.ndarray, edges: np.ndarray) -> np.ndarray:
    return counts_sorted(sorted_values, edges) / max(len(sorted_values), 1)


def smooth(p: np.ndarray) -> np.ndarray:
    p = np.maximum(p, FLOOR)
    return p / p.sum()


def psi_from_shares(reference: np.ndarray, current: np.ndarray) -> float:
    ref, cur = smooth(reference), smooth(current)
    return float(np.sum((cur - ref) * np.log(cur / ref)))


def psi(reference, current) -> float:
    reference = np.asarray(reference, dtype=float)
    current = np.asarray(current, dtype=float)
    edges = decile_edges(reference)
    return psi_from_shares(shares(reference, edges), shares(current, edges))
