"""The independent check of our drift statistics: scipy's own functions on the FULL reference
and current columns, none of our conventions (no stored 10,000-value sample, no pooling of
rare categories, no smoothing floor, no tie rule of ours). It reports, per measure, how far
our answer (from the stored profile) is from scipy's; benchmarks/drift/README.md gives the
reason for each difference.

Measures (per column):
  numeric      ks_stat, ks_pvalue      scipy.stats.ks_2samp(reference, current)
               wasserstein_std         scipy.stats.wasserstein_distance(reference, current) / np.std(reference)
               js                      scipy.spatial.distance.jensenshannon(base=2) of the shares in the
                                       reference's deciles (np.quantile): JS needs bins for a continuous
                                       variable, and deciles are what the product bins by
  categorical  chi2_stat, chi2_pvalue  scipy.stats.chisquare(current counts, reference shares x n): the
                                       goodness-of-fit test, on the reference's categories, unpooled
               js                      jensenshannon(base=2) of the shares over every category, unpooled
PSI is not in scipy: it is reported by run_ours.py's own numpy check only.
"""

from collections import Counter

import numpy as np
from scipy import stats
from scipy.spatial.distance import jensenshannon


def _decile_shares(values: np.ndarray, edges: np.ndarray) -> np.ndarray:
    counts = np.bincount(np.searchsorted(edges, values, side="left"), minlength=len(edges) + 1)
    return counts / counts.sum()


def numeric(reference, current) -> dict:
    ref = np.asarray(reference, dtype=float)
    cur = np.asarray(current, dtype=float)
    ref, cur = ref[np.isfinite(ref)], cur[np.isfinite(cur)]
    ks = stats.ks_2samp(ref, cur)
    std = float(np.std(ref))
    edges = np.unique(np.quantile(ref, np.linspace(0.1, 0.9, 9)))
    return {
        "ks_stat": float(ks.statistic),
        "ks_pvalue": float(ks.pvalue),
        "wasserstein_std": float(stats.wasserstein_distance(ref, cur) / std) if std > 0 else None,
        "js": float(jensenshannon(_decile_shares(ref, edges), _decile_shares(cur, edges), base=2)),
    }


def categorical(reference, current) -> dict:
    ref = Counter(v for v in reference if v is not None)
    cur = Counter(v for v in current if v is not None)
    known = sorted(ref)
    observed = np.array([cur.get(k, 0) for k in known], dtype=float)
    expected = np.array([ref[k] for k in known], dtype=float)
    expected *= observed.sum() / expected.sum()
    test = stats.chisquare(observed, expected)
    union = sorted(set(ref) | set(cur))
    ref_shares = np.array([ref.get(k, 0) for k in union], dtype=float)
    cur_shares = np.array([cur.get(k, 0) for k in union], dtype=float)
    return {
        "chi2_stat": float(test.statistic),
        "chi2_pvalue": float(test.pvalue),
        "js": float(jensenshannon(ref_shares / ref_shares.sum(), cur_shares / cur_shares.sum(), base=2)),
        "current_share_unseen_in_reference": float(sum(c for k, c in cur.items() if k not in ref) / max(sum(cur.values()), 1)),
    }


def check(reference: dict, current: dict, kinds: dict, ours: dict) -> dict:
    """{max_abs_diff: {measure: {max, column}}, per_column: {column: {scipy, ours, abs_diff}}}.
    `ours`: {column: our statistics}. chi2_stat is compared relatively (|ours - scipy| / scipy)."""
    per_column = {}
    for name, kind in kinds.items():
        scipy_answer = numeric(reference[name], current[name]) if kind == "numeric" else categorical(reference[name], current[name])
        mine = ours[name]
        diffs = {}
        for measure, value in scipy_answer.items():
            if measure not in mine or value is None:
                continue
            if mine[measure] is None:
                diffs[measure] = float("inf")
            elif measure == "chi2_stat":
                diffs["chi2_stat_relative"] = abs(mine[measure] - value) / max(value, 1e-12)
            else:
                diffs[measure] = abs(mine[measure] - value)
        per_column[name] = {"scipy": scipy_answer, "ours": {k: mine.get(k) for k in scipy_answer}, "abs_diff": diffs}
    measures = sorted({k for col in per_column.values() for k in col["abs_diff"]})
    worst = {}
    for measure in measures:
        value, column = max((col["abs_diff"][measure], name) for name, col in per_column.items() if measure in col["abs_diff"])
        worst[measure] = {"max": value, "column": column}
    return {"max_abs_diff": worst, "per_column": per_column}
