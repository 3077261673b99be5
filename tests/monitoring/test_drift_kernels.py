"""Drift kernels against independent scipy computations, the reference profile's shape and
size, the comparison's report, and realised / estimated performance. Pure: no database."""

import json
import subprocess
import sys
from collections import Counter
from pathlib import Path

import numpy as np
import pytest
from scipy import stats as sps
from scipy.spatial.distance import jensenshannon
from sklearn import metrics as skm

from monitoring.drift import performance
from monitoring.drift.compare import drift_compare
from monitoring.drift.profile import category_counts, profile_build
from monitoring.drift.psi import (decile_edges, decile_edges_sorted, psi, psi_from_shares, shares,
                                  shares_sorted)
from monitoring.drift.stats import (chi_square, js_distance, ks, ks_exact_is_cheap, ks_statistic_sorted,
                                    psi_categorical,
                                    wasserstein_sorted, wasserstein_std)

REPORT_KEYS = {"feature", "kind", "psi", "ks_stat", "ks_pvalue", "js", "wasserstein_std", "chi2_stat",
               "chi2_pvalue", "null_share", "severity", "histogram"}


def rng(seed=0):
    return np.random.default_rng(seed)


def test_the_kernels_import_neither_django_nor_pandas():
    code = ("import sys, monitoring.drift.compare, monitoring.drift.profile, monitoring.drift.performance; "
            "print(sorted({m.split('.')[0] for m in sys.modules} & {'django', 'pandas', 'sklearn'}))")
    out = subprocess.run([sys.executable, "-c", code], cwd=Path(__file__).resolve().parents[2],
                         capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


# ---- PSI ------------------------------------------------------------------------------------

@pytest.mark.parametrize("n", [1, 2, 3, 10, 11, 57, 1000, 12_345])
@pytest.mark.parametrize("kind", ["normal", "ties", "wide"])
def test_edges_and_shares_from_a_sorted_column_are_the_rules_bit_for_bit(n, kind):
    r = rng(n)
    x = {"normal": r.normal(size=n), "ties": r.integers(0, 4, n).astype(float),
         "wide": r.lognormal(0, 3, n) * 1e6 - 7}[kind]
    s = np.sort(x)
    assert np.array_equal(decile_edges_sorted(s), decile_edges(x))
    current = r.normal(size=333)
    assert np.array_equal(shares_sorted(np.sort(current), decile_edges(x)), shares(current, decile_edges(x)))


def blog_psi(expected, actual, buckets=10):
    """The density-based PSI of many blog posts: histogram densities on fixed-width bins over
    the reference range instead of shares on quantile bins."""
    e, edges = np.histogram(expected, bins=buckets, density=True)
    a, _ = np.histogram(actual, bins=edges, density=True)
    e, a = np.clip(e, 1e-6, None), np.clip(a, 1e-6, None)
    return float(np.sum((a - e) * np.log(a / e)))


def test_density_based_psi_depends_on_the_unit_and_ours_does_not():
    r = rng(7)
    metres = r.normal(1.70, 0.1, 50_000)
    metres_now = r.normal(1.74, 0.12, 50_000)
    millimetres, millimetres_now = metres * 1000, metres_now * 1000

    ours_m, ours_mm = psi(metres, metres_now), psi(millimetres, millimetres_now)
    blog_m, blog_mm = blog_psi(metres, metres_now), blog_psi(millimetres, millimetres_now)

    assert ours_m == pytest.approx(ours_mm, abs=1e-12)
    assert blog_mm == pytest.approx(blog_m / 1000, rel=1e-6)  # densities are per unit of the feature
    assert abs(blog_m - ours_m) > 0.5 * ours_m and abs(blog_mm - ours_mm) > 0.5 * ours_mm
    assert ours_m > 0.1  # a real shift: our rule calls it drift in either unit, the blog's only in metres
    assert blog_mm < 0.01


def test_the_whole_comparison_is_the_same_in_metres_and_millimetres():
    r = rng(8)
    ref, cur = r.normal(1.70, 0.1, 30_000), r.normal(1.72, 0.1, 20_000)
    in_m = drift_compare(profile_build({"h": ref}, {"h": "numeric"}), {"h": cur})["features"][0]
    in_mm = drift_compare(profile_build({"h": ref * 1000}, {"h": "numeric"}), {"h": cur * 1000})["features"][0]
    for key in ("psi", "js", "ks_stat", "ks_pvalue"):
        assert in_mm[key] == pytest.approx(in_m[key], rel=1e-12, abs=1e-15), key
    assert in_mm["wasserstein_std"] == pytest.approx(in_m["wasserstein_std"], rel=1e-9)


# ---- two-sample statistics against scipy ----------------------------------------------------

@pytest.mark.parametrize("n1,n2", [(1, 1), (5, 300), (300, 5), (1000, 1000), (10_000, 10_000), (10_000, 3_000),
                                   (10_000, 200_000)])
@pytest.mark.parametrize("ties", [False, True])
def test_ks_matches_scipy(n1, n2, ties):
    r = rng(n1 + n2)
    if ties:
        a, b = r.integers(0, 8, n1).astype(float), r.integers(1, 9, n2).astype(float)
    else:
        a, b = r.normal(size=n1), r.normal(0.05, 1.1, n2)
    expected = sps.ks_2samp(a, b, method="auto" if ks_exact_is_cheap(n1, n2) else "asymp")
    stat, p = ks(a, b)
    assert stat == pytest.approx(expected.statistic, abs=1e-12)
    assert p == pytest.approx(expected.pvalue, rel=1e-9, abs=1e-300)
    assert ks_statistic_sorted(np.sort(a), np.sort(b)) == pytest.approx(expected.statistic, abs=1e-12)
    if expected.pvalue > 1e-8:  # where scipy's "auto" would run the exact path, the two agree
        assert p == pytest.approx(sps.ks_2samp(a, b).pvalue, rel=0.03)


@pytest.mark.parametrize("n1,n2", [(1, 1), (1, 7), (7, 1), (10, 10), (333, 10_007), (10_000, 100_000), (999, 250),
                                   (150_001, 150_001), (10_000, 300_007)])  # the last two: several chunks
def test_wasserstein_matches_scipy(n1, n2):
    r = rng(n1 * n2)
    for a, b in [(r.normal(size=n1), r.standard_t(3, n2)), (r.poisson(3, n1) * 1.0, r.poisson(3.6, n2) * 1.0)]:
        expected = sps.wasserstein_distance(a, b)
        assert wasserstein_sorted(np.sort(a), np.sort(b)) == pytest.approx(expected, rel=1e-9, abs=1e-12)
        assert wasserstein_std(a, b, 2.0) == pytest.approx(expected / 2, rel=1e-9, abs=1e-12)


def test_wasserstein_std_guards_a_constant_reference():
    assert wasserstein_std(np.full(10, 5.0), np.full(10, 5.0), 0.0, mean=5.0) == 0.0
    assert wasserstein_std(np.full(10, 5.0), np.full(10, 6.0), 0.0, mean=5.0) == pytest.approx(0.2)
    assert wasserstein_std(np.zeros(10), np.ones(10), 0.0, mean=0.0) == pytest.approx(1.0)


def test_js_distance_matches_scipy_on_unsmoothed_shares():
    pairs = [([0.5, 0.3, 0.2], [0.35, 0.35, 0.3]), ([0.5, 0.5, 0.0], [0.4, 0.4, 0.2]), ([1, 0], [0, 1]),
             ([0.1] * 10, [0.1] * 10)]
    for p, q in pairs:
        assert js_distance(p, q) == pytest.approx(jensenshannon(p, q, base=2), abs=1e-12)
    assert js_distance([1, 0], [0, 1]) == pytest.approx(1.0)
    assert js_distance([0.1] * 10, [0.1] * 10) == 0.0
    matrix = js_distance(np.array([[0.5, 0.5], [1, 0]]), np.array([[0.5, 0.5], [0, 1]]))
    assert matrix == pytest.approx([0.0, 1.0])


def test_chi_square_is_scipys_homogeneity_test_and_takes_new_categories():
    ref, cur = [5000, 3000, 2000], [3500, 3500, 3000]
    expected = sps.chi2_contingency([ref, cur], correction=False)
    assert chi_square(ref, cur) == pytest.approx((expected.statistic, expected.pvalue), rel=1e-9)
    # a category the reference never saw: a finite statistic, not a division by zero
    stat, p = chi_square([5000, 3000, 2000, 0], [4750, 2850, 1900, 500])
    assert np.isfinite(stat) and stat > 400 and p < 1e-80
    # rare categories are pooled (Cochran): two singletons do not make a difference significant
    stat, p = chi_square([500, 500, 1, 0], [500, 500, 0, 1])
    assert p > 0.5
    assert chi_square([10, 0], [10, 0]) == (0.0, 1.0)


def test_psi_categorical_takes_the_union_of_categories_with_the_same_smoothing():
    reference = {"a": 0.5, "b": 0.3, "c": 0.2, "__other__": 0.0}
    current = {"a": 0.475, "b": 0.285, "c": 0.19, "new": 0.05}
    expected = psi_from_shares(np.array([0.5, 0.3, 0.2, 0.0]), np.array([0.475, 0.285, 0.19, 0.05]))
    assert psi_categorical(reference, current) == pytest.approx(expected, rel=1e-12)
    assert psi_categorical(reference, {"a": 0.5, "b": 0.3, "c": 0.2}) == 0.0  # no empty bin takes mass
    assert psi_categorical(reference, current) > 0.25  # 5 % of a new category is major
    # when the reference pooled a tail into __other__, an unknown category may be one of them
    pooled = {"a": 0.5, "b": 0.3, "__other__": 0.2}
    assert psi_categorical(pooled, {"a": 0.5, "b": 0.3, "zz": 0.2}) == pytest.approx(0.0, abs=1e-12)


@pytest.mark.parametrize("values", [
    ["a", "b", "", "a"], ["é", "ab", "€x", "z"], ["alpha", "beta", "gamma", "beta"],
    ["a long category name", "another long category name", "x"], ["日本語テキスト", "ünïcode", "ascii"],
])
def test_category_counts_match_a_plain_counter(values):
    column = np.array(values * 50)[rng(1).permutation(len(values) * 50)]
    assert category_counts(column) == (dict(Counter(column.tolist())), 0)
    assert category_counts(column.astype(object)) == (dict(Counter(column.tolist())), 0)


def test_category_counts_take_nulls_and_codes():
    assert category_counts(np.array(["a", None, float("nan"), 1, "1"], dtype=object)) == ({"a": 1, "1": 2}, 2)
    assert category_counts(np.array([3, 1, 3])) == ({"1": 1, "3": 2}, 0)
    assert category_counts(np.array([1.0, np.nan, 1.0])) == ({"1.0": 2}, 1)


# ---- profile and comparison -----------------------------------------------------------------

def columns(n, seed, shift=0.0):
    r = rng(seed)
    out = {f"x{i}": r.normal(shift if i == 0 else 0.0, 1 + i / 10, n) for i in range(20)}
    names = np.array(["red", "green", "blue", "yellow", "cyan"], dtype=object)
    for i in range(5):
        out[f"c{i}"] = names[r.choice(5, n, p=[0.4, 0.3, 0.15, 0.1, 0.05])]
    return out


KINDS = {**{f"x{i}": "numeric" for i in range(20)}, **{f"c{i}": "categorical" for i in range(5)}}


def test_profile_is_json_and_compact():
    ref = columns(50_000, 1)
    ref["x1"][::10] = np.nan
    ref["c1"][::4] = None
    profile = profile_build(ref, KINDS, sample_size=10_000)
    text = json.dumps(profile, allow_nan=False)
    assert len(text) < 5_000_000  # about 4.1 MB: 20 samples of 10,000 floats
    assert json.loads(text) == profile
    x1 = profile["features"]["x1"]
    assert x1["null_share"] == pytest.approx(0.1) and x1["count"] == 45_000
    assert len(x1["sample"]) == 10_000 and x1["sample"] == sorted(x1["sample"])
    valid = ref["x1"][~np.isnan(ref["x1"])]
    assert x1["edges"] == decile_edges(valid).tolist()
    assert x1["shares"] == pytest.approx(shares(valid, decile_edges(valid)).tolist())
    assert x1["mean"] == pytest.approx(valid.mean()) and x1["std"] == pytest.approx(valid.std())
    c1 = profile["features"]["c1"]
    assert c1["null_share"] == pytest.approx(0.25)
    assert sum(c1["shares"].values()) == pytest.approx(1.0) and c1["shares"]["__other__"] == 0.0
    assert list(profile["features"]) == list(KINDS)


def test_profile_and_compare_copy_each_column_once_and_leave_the_callers_untouched():
    r = rng(7)
    n = 200_001  # several chunks of the passes that work a chunk at a time
    ref = {"f": r.normal(1000, 50, n), "i": r.poisson(3, n),
           "o": np.array(list(r.normal(size=n - 1)) + [None], dtype=object)}
    cur = {"f": r.normal(1000, 60, n), "i": r.poisson(3.6, n),
           "o": np.array([None] + list(r.normal(size=n - 1)), dtype=object)}
    kinds = dict.fromkeys(ref, "numeric")
    before = {side: {k: v.copy() for k, v in cols.items()} for side, cols in (("ref", ref), ("cur", cur))}
    profile = profile_build(ref, kinds)
    report = {f["feature"]: f for f in drift_compare(profile, cur)["features"]}
    for side, cols in (("ref", ref), ("cur", cur)):
        for k, v in cols.items():
            assert np.array_equal(v, before[side][k]) and v.dtype == before[side][k].dtype
    f = profile["features"]["f"]
    assert f["std"] == pytest.approx(ref["f"].std(), rel=1e-12)
    assert f["mean"] == pytest.approx(ref["f"].mean(), rel=1e-12)
    assert profile["features"]["i"]["std"] == pytest.approx(ref["i"].std(), rel=1e-12)
    assert profile["features"]["o"]["count"] == n - 1
    for name in kinds:
        sample = np.array(profile["features"][name]["sample"])
        current = np.asarray(cur[name][cur[name] != None], dtype=float)  # noqa: E711 (elementwise on objects)
        assert report[name]["ks_stat"] == pytest.approx(sps.ks_2samp(sample, current).statistic, abs=1e-12)
        assert report[name]["wasserstein_std"] == pytest.approx(
            sps.wasserstein_distance(sample, current) / profile["features"][name]["std"], rel=1e-9)


def test_profile_keeps_the_top_categories_and_pools_the_rest():
    values = np.array([f"v{i}" for i in range(100)] * 3 + ["v0"] * 50, dtype=object)
    shares_ = profile_build({"c": values}, {"c": "categorical"}, top_k=10)["features"]["c"]["shares"]
    assert len(shares_) == 11 and shares_["v0"] == pytest.approx(53 / 350)
    assert shares_["__other__"] == pytest.approx(90 * 3 / 350)


def test_compare_reports_every_statistic_as_the_standalone_kernels_give_it():
    ref, cur = columns(40_000, 2), columns(30_000, 3, shift=0.3)
    cur["x2"][:100] = np.inf  # counted as null
    profile = profile_build(ref, KINDS)
    report = drift_compare(profile, cur)
    json.dumps(report, allow_nan=False)
    assert [f["feature"] for f in report["features"]] == list(KINDS)
    assert all(set(f) == REPORT_KEYS for f in report["features"])
    by_name = {f["feature"]: f for f in report["features"]}
    x0 = by_name["x0"]
    assert x0["psi"] == pytest.approx(psi(ref["x0"], cur["x0"]), abs=1e-12)
    sample = np.array(profile["features"]["x0"]["sample"])
    expected = sps.ks_2samp(sample, cur["x0"])
    assert (x0["ks_stat"], x0["ks_pvalue"]) == pytest.approx((expected.statistic, expected.pvalue), rel=1e-9)
    assert x0["wasserstein_std"] == pytest.approx(
        sps.wasserstein_distance(sample, cur["x0"]) / ref["x0"].std(), rel=1e-9)
    assert x0["js"] == pytest.approx(jensenshannon(x0["histogram"]["reference"], x0["histogram"]["current"], base=2))
    assert x0["severity"] != "none" and x0["chi2_stat"] is None
    assert by_name["x2"]["null_share"] == pytest.approx(100 / 30_000)
    c0 = by_name["c0"]
    assert c0["ks_stat"] is None and c0["wasserstein_std"] is None and c0["chi2_pvalue"] > 1e-4
    assert c0["histogram"]["categories"][:5] == ["red", "green", "blue", "yellow", "cyan"]
    assert report["drifted_features"] == ["x0"] and report["severity"] == "moderate"
    assert report["prediction"] is None


def test_compare_scores_new_categories_null_features_and_the_prediction():
    r = rng(4)
    ref = {"plan": np.array(["basic", "pro"], dtype=object)[r.integers(0, 2, 20_000)], "age": r.normal(40, 9, 20_000)}
    scores = r.beta(2, 5, 20_000)
    profile = profile_build(ref, {"plan": "categorical", "age": "numeric"}, scores=scores)
    cur = {"plan": np.where(r.random(5_000) < 0.1, "enterprise", ref["plan"][:5_000]),
           "age": np.full(5_000, None, dtype=object)}
    report = drift_compare(profile, cur, scores=r.beta(5, 2, 5_000))
    plan, age = report["features"]
    assert plan["severity"] == "major" and "enterprise" in plan["histogram"]["categories"]
    assert age["null_share"] == 1.0 and age["severity"] == "major" and age["psi"] is None
    assert report["prediction"]["feature"] == "prediction" and report["prediction"]["severity"] == "major"
    assert report["drifted_features"] == ["plan", "age"]
    # a feature the window does not carry is not compared
    assert [f["feature"] for f in drift_compare(profile, {"plan": cur["plan"]})["features"]] == ["plan"]


# ---- performance ----------------------------------------------------------------------------

def test_realised_metrics_match_scikit_learn():
    r = rng(5)
    p = r.random(5_000)
    y = (r.random(5_000) < p).astype(int)
    predicted = (p >= 0.5).astype(int)
    got = performance.metrics_classifier(y, predicted, p)
    assert got["accuracy"] == pytest.approx(skm.accuracy_score(y, predicted))
    assert got["f1"] == pytest.approx(skm.f1_score(y, predicted))
    assert got["roc_auc"] == pytest.approx(skm.roc_auc_score(y, p))
    rounded = np.round(p, 1)  # ties in the scores
    assert performance.roc_auc(y, rounded) == pytest.approx(skm.roc_auc_score(y, rounded))
    words = np.where(y == 1, "yes", "no")
    assert performance.metrics_classifier(words, np.where(predicted == 1, "yes", "no"), p) == pytest.approx(got)
    three = r.integers(0, 3, 1000)
    guess = np.where(r.random(1000) < 0.7, three, r.integers(0, 3, 1000))
    assert performance.metrics_classifier(three, guess)["f1"] == pytest.approx(skm.f1_score(three, guess, average="macro"))
    yhat = r.normal(size=100)
    yy = yhat + r.normal(size=100)
    reg = performance.metrics_regressor(yy, yhat)
    assert reg["rmse"] == pytest.approx(np.sqrt(skm.mean_squared_error(yy, yhat)))
    assert reg["mae"] == pytest.approx(skm.mean_absolute_error(yy, yhat))


def draw_calibrated(r, n, a, b):
    p = r.beta(a, b, n)
    return p, (r.random(n) < p).astype(int)


def test_estimated_accuracy_is_close_to_the_realised_one_and_follows_the_scores():
    r = rng(6)
    p_ref, y_ref = draw_calibrated(r, 100_000, 0.6, 0.6)  # confident scores
    calibration = performance.calibration_fit(p_ref, y_ref)
    p_same, y_same = draw_calibrated(r, 50_000, 0.6, 0.6)
    p_unsure, y_unsure = draw_calibrated(r, 50_000, 4, 4)  # scores drift towards 0.5
    realised_same = np.mean((p_same >= 0.5) == y_same)
    realised_unsure = np.mean((p_unsure >= 0.5) == y_unsure)
    estimate_same = performance.accuracy_estimate(p_same, calibration)
    estimate_unsure = performance.accuracy_estimate(p_unsure, calibration)
    assert estimate_same == pytest.approx(realised_same, abs=0.01)
    assert estimate_unsure == pytest.approx(realised_unsure, abs=0.01)
    assert estimate_same - estimate_unsure > 0.1
    # a miscalibrated model: the reference teaches the true rate, not the score
    overconfident = np.clip(p_ref * 1.6 - 0.3, 0, 1)
    calibration = performance.calibration_fit(overconfident, y_ref)
    assert performance.accuracy_estimate(overconfident, calibration) == pytest.approx(
        np.mean((overconfident >= 0.5) == y_ref), abs=0.01)


def test_profile_stores_reference_metrics_and_calibration():
    r = rng(9)
    p, y = draw_calibrated(r, 20_000, 1, 1)
    profile = profile_build({"x": r.normal(size=20_000)}, {"x": "numeric"}, scores=p,
                            labels=np.where(y == 1, "churn", "stay"), task="classifier")
    json.dumps(profile, allow_nan=False)
    # "stay" sorts after "churn": the second class is the positive one, as in scikit-learn
    assert profile["metrics"]["roc_auc"] == pytest.approx(skm.roc_auc_score(1 - y, p))
    assert len(profile["calibration"]["bins"]) == 21 and len(profile["calibration"]["positive_rate"]) == 20
    regressor = profile_build({"x": r.normal(size=100)}, {"x": "numeric"}, scores=np.arange(100.0),
                              labels=np.arange(100.0) + 1, task="regressor")
    assert regressor["metrics"] == {"rmse": 1.0, "mae": 1.0} and regressor["calibration"] is None
