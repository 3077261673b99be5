"""Compare a window of current data with a reference profile (pure numpy/scipy, no Django).

Each numeric feature (and the score) is copied into a float64 array and sorted once, in place,
one feature at a time; the PSI/JS bin counts (a search of <= 9 edges), the KS statistic (a
search of the reference sample) and the exact Wasserstein distance (one chunked pass) all read
that sorted copy, which is dropped before the next feature's is made. KS p-values of the
large samples are computed in one vectorised call. Categorical features are counted once (no
pandas) and aligned with the reference on the union of categories. Every feature then gets its severity from `severity.severity_of`, with the number
of tests (features plus the score) for the Bonferroni correction.
"""

import numpy as np

from .profile import category_counts, finite_slice, sorted_float
from .psi import counts_sorted, psi_from_shares
from .severity import DEFAULT_THRESHOLDS, severity_of, worst
from .stats import (OTHER, align_categories, chi_square, js_distance, ks,
                    ks_exact_is_cheap, ks_pvalue_asymptotic, ks_statistic_sorted, std_scale, wasserstein_sorted)

PREDICTION = "prediction"
HISTOGRAM_CATEGORIES = 50  # categories shown in a report's histogram; the rest in "__other__"


def _empty(name: str, kind: str, null_share) -> dict:
    return {"feature": name, "kind": kind, "psi": None, "ks_stat": None, "ks_pvalue": None, "js": None,
            "wasserstein_std": None, "chi2_stat": None, "chi2_pvalue": None, "null_share": null_share,
            "severity": "none", "histogram": None}


def _numeric(name: str, reference: dict, sorted_row: np.ndarray) -> dict:
    n = len(sorted_row)
    current = finite_slice(sorted_row)
    result = _empty(name, "numeric", (n - len(current)) / n if n else None)
    sample = np.sort(np.asarray(reference.get("sample") or [], dtype=float))
    if len(current) == 0 or len(sample) == 0:
        return result
    edges = np.asarray(reference["edges"], dtype=float)
    ref_shares = np.asarray(reference["shares"], dtype=float)
    cur_shares = counts_sorted(current, edges) / len(current)
    result["psi"] = psi_from_shares(ref_shares, cur_shares)
    result["js"] = js_distance(ref_shares, cur_shares)
    if ks_exact_is_cheap(len(sample), len(current)):
        result["ks_stat"], result["ks_pvalue"] = ks(sample, current, assume_sorted=True)
    else:  # p-value filled in by the vectorised call in drift_compare
        result["ks_stat"] = ks_statistic_sorted(sample, current)
        result["_ks_sizes"] = (len(sample), len(current))
    scale = std_scale(reference.get("std") or 0.0, reference.get("mean") or 0.0)
    result["wasserstein_std"] = wasserstein_sorted(sample, current) / scale
    result["histogram"] = {"edges": edges.tolist(), "reference": ref_shares.tolist(),
                           "current": cur_shares.tolist()}
    return result


def _histogram_categories(categories, ref, cur) -> dict:
    if len(categories) <= HISTOGRAM_CATEGORIES + 1:
        return {"categories": list(categories), "reference": ref.tolist(), "current": cur.tolist()}
    keep = np.argsort(-np.maximum(ref, cur), kind="stable")
    keep = [i for i in keep if categories[i] != OTHER][:HISTOGRAM_CATEGORIES]
    rest = np.ones(len(categories), dtype=bool)
    rest[keep] = False
    return {"categories": [categories[i] for i in keep] + [OTHER],
            "reference": ref[keep].tolist() + [float(ref[rest].sum())],
            "current": cur[keep].tolist() + [float(cur[rest].sum())]}


def _categorical(name: str, reference: dict, values) -> dict:
    counts, nulls = category_counts(values)
    n = len(values)
    result = _empty(name, "categorical", nulls / n if n else None)
    n_current = sum(counts.values())
    n_reference = int(reference.get("count") or 0)
    if n_current == 0 or n_reference == 0:
        return result
    categories, ref_shares, cur_counts = align_categories(reference["shares"], counts)
    cur_shares = cur_counts / n_current
    result["psi"] = psi_from_shares(ref_shares, cur_shares)
    result["js"] = js_distance(ref_shares, cur_shares)
    result["chi2_stat"], result["chi2_pvalue"] = chi_square(np.round(ref_shares * n_reference), cur_counts)
    result["histogram"] = _histogram_categories(categories, ref_shares, cur_shares)
    return result


def drift_compare(profile: dict, columns: dict, *, thresholds: dict | None = None, scores=None) -> dict:
    """Per-feature statistics and severities of `columns` (name -> 1-D array) against
    `profile` (from profile_build). Features of the profile missing from `columns` are not
    compared; a feature present but entirely null is. `thresholds` override DEFAULT_THRESHOLDS."""
    limits = {**DEFAULT_THRESHOLDS, **(thresholds or {})}
    features = profile["features"]
    numeric = [n for n, f in features.items() if f["kind"] == "numeric" and n in columns]
    categorical = [n for n, f in features.items() if f["kind"] == "categorical" and n in columns]
    score_profile = profile.get("score") if scores is not None else None

    rows = [(name, features[name], columns[name]) for name in numeric]
    if score_profile:
        rows.append((PREDICTION, score_profile, scores))
    results: dict[str, dict] = {}
    for name, reference, values in rows:
        results[name] = _numeric(name, reference, sorted_float(values))
    pending = [r for r in results.values() if "_ks_sizes" in r]
    if pending:
        sizes = np.array([r.pop("_ks_sizes") for r in pending], dtype=float)
        pvalues = ks_pvalue_asymptotic([r["ks_stat"] for r in pending], sizes[:, 0], sizes[:, 1])
        for r, p in zip(pending, np.atleast_1d(pvalues)):
            r["ks_pvalue"] = float(p)
    for name in categorical:
        results[name] = _categorical(name, features[name], columns[name])

    n_tests = len(results)
    for name, r in results.items():
        reference = score_profile if name == PREDICTION else features[name]
        r["severity"] = severity_of(r, limits, n_tests, reference_empty=not reference.get("count"))
    prediction = results.pop(PREDICTION, None)
    ordered = [results[name] for name in features if name in results]
    overall = worst([r["severity"] for r in ordered] + ([prediction["severity"]] if prediction else []))
    return {"features": ordered, "prediction": prediction, "severity": overall,
            "drifted_features": [r["feature"] for r in ordered if r["severity"] != "none"]}
