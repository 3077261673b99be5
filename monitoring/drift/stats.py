"""Two-sample drift statistics (pure numpy/scipy, no Django).

Numeric features are compared through sorted arrays: the jobs sort a current column once
and reuse it for the KS statistic, the Wasserstein distance and the PSI bin counts.

- `ks`: two-sample Kolmogorov-Smirnov statistic and p-value as `scipy.stats.ks_2samp`
  (two-sided) gives them. The p-value is scipy's exact one where that is cheap (both samples
  at most 10,000 values and either of equal size or with n1 * n2 <= 10^6, a few ms), and
  otherwise scipy's asymptotic one (`kstwo.sf(D, round(n1 n2 / (n1 + n2)))`, what
  ks_2samp(method="asymp") gives): scipy's exact path for unequal samples near 10,000 takes
  up to a second per feature when D is large, and the two agree to about 1 % relative where
  a decision is made (p from 1e-8 to 0.5). The statistic is computed here in O(m log n): the
  largest gap between two empirical CDFs is reached at a point of the smaller sample (right
  limit for one sign, left limit for the other), so only the reference sample is searched in
  the sorted current column.
- `js_distance`: Jensen-Shannon distance, base 2, on unsmoothed shares of the same bins;
  in [0, 1] (0 identical, 1 disjoint).
- `wasserstein`: exact Wasserstein-1 distance between two empirical distributions, the
  integral of |Q_a(u) - Q_b(u)| over u in [0, 1], in one O(n) pass over the longer sorted
  array; `wasserstein_std` divides it by the reference standard deviation.
- `chi_square`: homogeneity test of the reference counts against the current counts over
  the union of categories (see its docstring for unseen categories).
- `psi_categorical`: PSI on the union of categories with the same 1e-4 smoothing as the
  numeric PSI.
"""

import warnings
from collections.abc import Mapping

import numpy as np
from scipy import special
from scipy import stats as sps

from .psi import psi_from_shares

EXACT_KS_MAX_N = 10_000  # scipy's "auto" rule: exact only when both samples are at most this long
EXACT_KS_MAX_PRODUCT = 1_000_000  # and, for unequal sizes, when n1 * n2 stays below this
OTHER = "__other__"
MIN_EXPECTED = 5.0  # Cochran: categories expected below this are pooled for chi-square
CHUNK = 1 << 16  # values per step of a pass that would otherwise allocate a column's size


def _sorted(values, assume_sorted: bool) -> np.ndarray:
    values = np.asarray(values, dtype=float)
    return values if assume_sorted else np.sort(values)


def ks_statistic_sorted(a: np.ndarray, b: np.ndarray) -> float:
    """sup |F_a - F_b| for two ascending arrays, evaluated at the points of the shorter one."""
    if len(a) > len(b):
        a, b = b, a
    m, n = len(a), len(b)
    if m == 0:
        return float("nan")
    plus = np.searchsorted(a, a, side="right") / m - np.searchsorted(b, a, side="right") / n
    minus = np.searchsorted(b, a, side="left") / n - np.searchsorted(a, a, side="left") / m
    return float(min(max(plus.max(), minus.max(), 0.0), 1.0))


def ks_pvalue_asymptotic(d, n1, n2):
    """scipy's two-sided asymptotic p-value; vectorised over arrays of d, n1, n2."""
    d, n1, n2 = np.broadcast_arrays(np.asarray(d, float), np.asarray(n1, float), np.asarray(n2, float))
    en = np.round(n1 * n2 / (n1 + n2))
    return np.clip(sps.kstwo.sf(d, en), 0.0, 1.0)


def ks_exact_is_cheap(n1: int, n2: int) -> bool:
    return max(n1, n2) <= EXACT_KS_MAX_N and (n1 == n2 or n1 * n2 <= EXACT_KS_MAX_PRODUCT)


def ks(reference, current, *, assume_sorted: bool = False) -> tuple[float, float]:
    """(statistic, p-value) of the two-sample KS test, as scipy.stats.ks_2samp gives them
    (exact or asymptotic p-value, see the module docstring)."""
    ref, cur = _sorted(reference, assume_sorted), _sorted(current, assume_sorted)
    if len(ref) == 0 or len(cur) == 0:
        return float("nan"), float("nan")
    if ks_exact_is_cheap(len(ref), len(cur)):
        with warnings.catch_warnings():  # scipy falls back to "asymp" itself when exact fails
            warnings.filterwarnings("ignore", "ks_2samp: Exact calculation unsuccessful", RuntimeWarning)
            result = sps.ks_2samp(ref, cur)
        return float(result.statistic), float(result.pvalue)
    d = ks_statistic_sorted(ref, cur)
    return d, float(ks_pvalue_asymptotic(d, len(ref), len(cur)))


def js_distance(reference, current, axis: int = -1):
    """Jensen-Shannon distance in base 2 of two share vectors (normalised here, never
    smoothed): sqrt of (KL(p || m) + KL(q || m)) / 2 with m = (p + q) / 2."""
    p = np.asarray(reference, dtype=float)
    q = np.asarray(current, dtype=float)
    p = p / np.maximum(p.sum(axis=axis, keepdims=True), np.finfo(float).tiny)
    q = q / np.maximum(q.sum(axis=axis, keepdims=True), np.finfo(float).tiny)
    m = (p + q) / 2
    divergence = (special.rel_entr(p, m).sum(axis=axis) + special.rel_entr(q, m).sum(axis=axis)) / 2
    result = np.sqrt(np.clip(divergence / np.log(2), 0.0, 1.0))
    return float(result) if np.ndim(result) == 0 else result




def wasserstein_sorted(a: np.ndarray, b: np.ndarray) -> float:
    """Exact W1 between the empirical distributions of two ascending arrays.

    With n = len(a) >= m = len(b): on the u-interval (j/n, (j+1)/n] the quantile of a is a[j]
    and the quantile of b is b[floor(j m / n)], except past a breakpoint i/m of b lying inside
    the interval (at most one, as 1/m >= 1/n), where it is b[i]; those m - 1 corrections are
    added separately. b[i] is the quantile of b for the j from ceil(i n / m) on, so the pass
    over a repeats a run of b's values, subtracts and sums, a chunk of a at a time."""
    if len(a) < len(b):
        a, b = b, a
    n, m = len(a), len(b)
    if m == 0:
        return float("nan")
    total = 0.0
    if n == m:
        for start in range(0, n, CHUNK):
            total += float(np.abs(a[start:start + CHUNK] - b[start:start + CHUNK]).sum())
        return total / n
    first_j = (np.arange(m + 1, dtype=np.int64) * n + m - 1) // m  # first j whose quantile of b is b[i]
    step = max(1, CHUNK * m // n)  # values of b per chunk
    for i0 in range(0, m, step):
        i1 = min(i0 + step, m)
        gaps = np.repeat(b[i0:i1], np.diff(first_j[i0:i1 + 1]))
        np.subtract(a[first_j[i0]:first_j[i1]], gaps, out=gaps)
        total += float(np.abs(gaps, out=gaps).sum())
    total /= n
    i = np.arange(1, m, dtype=np.int64)
    j = first_j[1:m] - 1
    after = ((j + 1) * m - i * n) / (n * m)  # width of the part of interval j past u = i/m
    total += np.sum((np.abs(a[j] - b[i]) - np.abs(a[j] - b[i - 1])) * after)
    return float(max(total, 0.0))


def std_scale(std: float, mean: float) -> float:
    """The divisor for Wasserstein: the reference std; for a constant reference its |mean|
    (a relative change), or 1 when that is 0 too."""
    if std > 0:
        return float(std)
    return abs(float(mean)) or 1.0


def wasserstein_std(reference, current, std: float, *, mean: float = 0.0, assume_sorted: bool = False) -> float:
    """W1(reference, current) / reference std (see `std_scale` for a constant reference)."""
    w = wasserstein_sorted(_sorted(reference, assume_sorted), _sorted(current, assume_sorted))
    return w / std_scale(std, mean)


def align_categories(reference: Mapping[str, float], current: Mapping[str, float]):
    """(categories, reference shares, current counts-or-shares) on the union of categories.

    The reference keeps its top categories and pools the rest in "__other__". When that pool
    is not empty, a current category missing from the reference may be one of the pooled ones,
    so it is counted in "__other__"; when it is empty the reference saw every category, and a
    missing one is new: it gets its own bin with a reference share of 0. Categories empty on
    both sides (an empty "__other__") are left out, so they take no smoothing mass."""
    categories = [c for c in reference]
    pooled = float(reference.get(OTHER, 0.0)) > 0
    current_aligned = {c: 0.0 for c in categories}
    for category, value in current.items():
        if category in current_aligned:
            current_aligned[category] += value
        elif pooled:
            current_aligned[OTHER] += value
        else:
            categories.append(category)
            current_aligned[category] = value
    ref = np.array([float(reference.get(c, 0.0)) for c in categories])
    cur = np.array([float(current_aligned[c]) for c in categories])
    seen = (ref > 0) | (cur > 0)  # an empty "__other__" is no category of either side
    return [c for c, keep in zip(categories, seen) if keep], ref[seen], cur[seen]


def psi_categorical(reference: Mapping[str, float], current: Mapping[str, float]) -> float:
    """PSI on the union of categories (see `align_categories`), same 1e-4 smoothing."""
    _, ref, cur = align_categories(reference, current)
    if ref.sum() <= 0 or cur.sum() <= 0:
        return float("nan")
    return psi_from_shares(ref / ref.sum(), cur / cur.sum())


def chi_square(reference_counts, current_counts) -> tuple[float, float]:
    """Chi-square test of homogeneity on a 2 x K table (reference row, current row), aligned
    on the union of categories.

    Categories unseen in the reference are handled by testing homogeneity rather than fit:
    expected counts come from the pooled column totals, so a category that only the current
    data has still has a positive expected count in both rows, and its appearance adds to the
    statistic instead of dividing by zero (a goodness-of-fit test against the reference shares
    would give an infinite statistic for any new category). Categories empty in both rows are
    dropped; categories whose expected count is below 5 in either row are pooled into one
    column (Cochran's rule), so a long tail of rare values does not inflate the statistic.
    Returns (0.0, 1.0) when fewer than two columns remain."""
    table = np.vstack([np.asarray(reference_counts, float), np.asarray(current_counts, float)])
    table = table[:, table.sum(axis=0) > 0]
    rows = table.sum(axis=1, keepdims=True)
    if table.shape[1] < 2 or np.any(rows == 0):
        return 0.0, 1.0
    expected = rows * table.sum(axis=0) / table.sum()
    rare = expected.min(axis=0) < MIN_EXPECTED
    if rare.sum() > 0:
        table = np.hstack([table[:, ~rare], table[:, rare].sum(axis=1, keepdims=True)])
        table = table[:, table.sum(axis=0) > 0]
        if table.shape[1] < 2:
            return 0.0, 1.0
        expected = rows * table.sum(axis=0) / table.sum()
    stat = float(((table - expected) ** 2 / expected).sum())
    return stat, float(sps.chi2.sf(stat, table.shape[1] - 1))
