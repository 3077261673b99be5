"""Population Stability Index on shares, exactly as our drift rule states (pure numpy).

Inner edges are the reference's quantiles at 10 %, 20 %, ..., 90 % (numpy's default
linear method, duplicates dropped); the outer bins are open to minus and plus infinity;
a value v falls in the first bin whose upper edge is >= v. Shares below 1e-4 are raised
to 1e-4 and renormalised to sum 1. PSI = sum (current - reference) * ln(current / reference).
"""

import numpy as np

FLOOR = 1e-4


def decile_edges(reference: np.ndarray) -> np.ndarray:
    return np.unique(np.quantile(reference, np.linspace(0.1, 0.9, 9)))


def shares(values: np.ndarray, edges: np.ndarray) -> np.ndarray:
    """Share of values per bin: bins (-inf, e0], (e0, e1], ..., (e_last, inf)."""
    counts = np.bincount(np.searchsorted(edges, values, side="left"), minlength=len(edges) + 1)
    return counts / max(len(values), 1)


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
