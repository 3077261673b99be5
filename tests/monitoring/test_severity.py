"""The severity rule (monitoring.drift.severity) on known shifts of different kinds, and on
the cases that motivate it: PSI alone misses a tail and a log-scale shift, a p-value alone
flags a negligible shift once samples are large. Pure: no database."""

import numpy as np
import pytest

from monitoring.drift.compare import drift_compare
from monitoring.drift.profile import profile_build
from monitoring.drift.severity import DEFAULT_THRESHOLDS, severity_of

N = 100_000
CATEGORIES = np.array(["a", "b", "c", "new"], dtype=object)


def with_outliers(rng, values, share=0.02):
    """`share` of the values replaced by outliers 5 to 10 std out in the upper tail."""
    values = values.copy()
    hit = rng.random(len(values)) < share
    values[hit] = rng.uniform(5, 10, hit.sum())
    return values


def draw(rng, n, shifted: bool) -> dict:
    s = shifted
    columns = {
        "mean_shift": rng.normal(0.2 if s else 0.0, 1.0, n),
        "scale_change": rng.normal(0.0, 1.5 if s else 1.0, n),
        "log_mean_shift": rng.lognormal(0.2 if s else 0.0, 1.0, n),
        "tail_outliers": with_outliers(rng, rng.normal(0.0, 1.0, n)) if s else rng.normal(0.0, 1.0, n),
        "count_rate": rng.poisson(3.6 if s else 3.0, n).astype(float),
        "category_shares": CATEGORIES[rng.choice(3, n, p=[0.35, 0.35, 0.3] if s else [0.5, 0.3, 0.2])],
        "new_category": CATEGORIES[rng.choice(4, n, p=[0.475, 0.285, 0.19, 0.05] if s else [0.5, 0.3, 0.2, 0.0])],
        # the same distributions, a fresh draw on each side
        "stable_normal": rng.normal(5.0, 2.0, n),
        "stable_lognormal": rng.lognormal(0.0, 1.5, n),
        "stable_outliers": with_outliers(rng, rng.normal(0.0, 1.0, n)),
        "stable_counts": rng.poisson(3.0, n).astype(float),
        "stable_category": CATEGORIES[rng.choice(3, n, p=[0.5, 0.3, 0.2])],
    }
    return columns


SHIFTED = ["mean_shift", "scale_change", "log_mean_shift", "tail_outliers", "count_rate", "category_shares",
           "new_category"]
KINDS = {name: "categorical" if "categor" in name else "numeric" for name in draw(np.random.default_rng(0), 1, False)}


@pytest.fixture(scope="module")
def report():
    rng = np.random.default_rng(20261127)
    profile = profile_build(draw(rng, N, shifted=False), KINDS, sample_size=10_000)
    return drift_compare(profile, draw(rng, N, shifted=True))


def test_every_known_shift_is_flagged_and_no_unshifted_column_is(report):
    severity = {f["feature"]: f["severity"] for f in report["features"]}
    assert {name: severity[name] for name in SHIFTED} == {
        "mean_shift": "moderate", "scale_change": "moderate", "log_mean_shift": "moderate",
        "tail_outliers": "moderate", "count_rate": "moderate", "category_shares": "moderate",
        "new_category": "major"}
    assert {name: s for name, s in severity.items() if name.startswith("stable")} == dict.fromkeys(
        [n for n in severity if n.startswith("stable")], "none")
    assert report["drifted_features"] == SHIFTED and report["severity"] == "major"


def test_psi_alone_misses_a_tail_and_a_log_scale_shift(report):
    stats = {f["feature"]: f for f in report["features"]}
    for name in ("tail_outliers", "log_mean_shift", "mean_shift"):
        assert stats[name]["psi"] < DEFAULT_THRESHOLDS["psi_moderate"], name
    # what catches them: the distance in std units, and the KS statistic over its floor
    assert stats["tail_outliers"]["wasserstein_std"] > 0.12
    assert stats["log_mean_shift"]["ks_stat"] > 2 * DEFAULT_THRESHOLDS["ks_effect_floor"]


def test_a_p_value_alone_flags_a_negligible_shift_at_a_million_rows_and_the_rule_does_not():
    rng = np.random.default_rng(3)
    n = 1_000_000
    reference, current = rng.normal(0.0, 1.0, n), rng.normal(0.01, 1.0, n)  # a hundredth of a std
    profile = profile_build({"x": reference}, {"x": "numeric"}, sample_size=n)  # sample = all rows
    feature = drift_compare(profile, {"x": current})["features"][0]
    # significant even after Bonferroni over 25 features, yet a negligible change
    assert feature["ks_pvalue"] < DEFAULT_THRESHOLDS["ks_pvalue"] / 25 and feature["ks_stat"] < 0.01
    assert feature["psi"] < 0.001 and feature["wasserstein_std"] < 0.02
    assert feature["severity"] == "none"


def stats(**values):
    base = {"psi": 0.0, "js": 0.0, "wasserstein_std": 0.0, "ks_stat": None, "ks_pvalue": None,
            "chi2_stat": None, "chi2_pvalue": None, "null_share": 0.0}
    return base | values


T = DEFAULT_THRESHOLDS


@pytest.mark.parametrize("values,expected", [
    ({}, "none"),
    ({"psi": 0.1}, "moderate"),
    ({"psi": 0.25}, "major"),
    ({"wasserstein_std": 0.12}, "moderate"),
    ({"wasserstein_std": 0.6}, "major"),
    ({"js": 0.15}, "moderate"),
    ({"js": 0.25}, "major"),
    ({"psi": 0.3, "js": 0.01, "wasserstein_std": 0.01}, "major"),  # the worst of the distances
    ({"ks_stat": 0.05, "ks_pvalue": 1e-4}, "moderate"),  # significant and over the floor
    ({"ks_stat": 0.03, "ks_pvalue": 1e-30}, "none"),  # significant, but under the floor
    ({"ks_stat": 0.9, "ks_pvalue": 0.01}, "none"),  # over the floor, not significant after Bonferroni
    ({"ks_stat": 0.9, "ks_pvalue": 1e-30}, "moderate"),  # a test never makes a feature major
    ({"js": 0.06, "chi2_stat": 50.0, "chi2_pvalue": 1e-10}, "moderate"),
    ({"js": 0.03, "chi2_stat": 500.0, "chi2_pvalue": 1e-100}, "none"),
    ({"psi": None, "js": None, "wasserstein_std": None, "null_share": 1.0}, "major"),  # the feature vanished
])
def test_the_rule(values, expected):
    assert severity_of(stats(**values), T, n_tests=25) == expected


def test_bonferroni_divides_the_level_by_the_number_of_features():
    feature = stats(ks_stat=0.05, ks_pvalue=0.004)
    assert severity_of(feature, T, n_tests=10) == "moderate"  # 0.004 < 0.05 / 10
    assert severity_of(feature, T, n_tests=25) == "none"  # 0.004 > 0.05 / 25


def test_thresholds_are_per_model_and_partial_overrides_keep_the_defaults():
    assert severity_of(stats(psi=0.15), {"psi_moderate": 0.2}, n_tests=1) == "none"
    assert severity_of(stats(ks_stat=0.03, ks_pvalue=1e-9), {"ks_effect_floor": 0.02}, n_tests=1) == "moderate"
    assert severity_of(stats(psi=None, js=None, wasserstein_std=None, null_share=1.0), T, n_tests=1,
                       reference_empty=True) == "none"
