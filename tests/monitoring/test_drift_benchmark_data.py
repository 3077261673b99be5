"""The drift benchmark's ground truth (benchmarks/drift/generate.py): the generated data has
the shifts it claims, by about the amounts it claims, and the unshifted columns are not shifted.
The benchmark itself is not part of the suite (minutes per run); this keeps its answer key honest."""

import importlib.util
from pathlib import Path

import numpy as np
import pytest
from scipy import stats

GENERATE = Path(__file__).resolve().parents[2] / "benchmarks" / "drift" / "generate.py"
ROWS = 20_000


@pytest.fixture(scope="module")
def gen():
    spec = importlib.util.spec_from_file_location("drift_bench_generate", GENERATE)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def data(gen):
    return gen.generate(ROWS, seed=0)


def shares(values) -> dict:
    cats, counts = np.unique(values.astype(str), return_counts=True)
    return dict(zip(cats.tolist(), (counts / counts.sum()).tolist(), strict=True))


def test_layout(gen, data):
    reference, current = data
    assert len(gen.NUMERIC) == 20 and len(gen.CATEGORICAL) == 5
    assert len(gen.SHIFTED) == 8 and len(gen.UNSHIFTED) == 17
    assert set(reference) == set(current) == set(gen.COLUMNS)
    assert all(len(v) == ROWS for v in [*reference.values(), *current.values()])
    truth = gen.truth(ROWS, 0)
    assert set(truth["shifted"]) == set(gen.SHIFTED) and set(truth["unshifted"]) == set(gen.UNSHIFTED)


def test_same_seed_same_data_other_seed_other_data(gen, data):
    again, _ = gen.generate(ROWS, seed=0)
    other, _ = gen.generate(ROWS, seed=1)
    reference, _ = data
    assert all(np.array_equal(reference[c], again[c], equal_nan=c in gen.NUMERIC) for c in gen.COLUMNS)
    assert not np.array_equal(reference["normal"], other["normal"])


def test_mean_shift_is_two_tenths_of_a_std(data):
    ref, cur = (d["shift_mean"] for d in data)
    assert (cur.mean() - ref.mean()) / ref.std() == pytest.approx(0.2, abs=0.04)
    assert cur.std() / ref.std() == pytest.approx(1.0, abs=0.03)


def test_scale_change_is_one_and_a_half(data):
    ref, cur = (d["shift_scale"] for d in data)
    assert cur.std() / ref.std() == pytest.approx(1.5, abs=0.04)
    assert abs(cur.mean() - ref.mean()) < 0.05


def test_log_normal_log_mean_moved_by_two_tenths(data):
    ref, cur = (d["shift_lognormal"] for d in data)
    assert ref.min() > 0 and cur.min() > 0
    assert np.log(cur).mean() - np.log(ref).mean() == pytest.approx(0.2, abs=0.04)
    assert np.log(cur).std() == pytest.approx(np.log(ref).std(), abs=0.03)


def test_two_percent_outliers_in_one_tail_at_five_to_ten_std(data):
    ref, cur = (d["shift_outliers"] for d in data)
    mean, std = 50.0, 5.0
    assert ref.mean() == pytest.approx(mean, abs=0.1) and ref.std() == pytest.approx(std, abs=0.1)
    far = cur > mean + 4.9 * std
    assert far.mean() == pytest.approx(0.02, abs=0.004)
    assert (ref > mean + 4.9 * std).mean() < 0.0005
    assert cur[far].max() <= mean + 10 * std
    assert (cur < mean - 4.9 * std).mean() < 0.0005  # one tail only
    assert np.median(cur[~far]) == pytest.approx(np.median(ref), abs=0.15)  # the body did not move


def test_count_rate_three_to_three_point_six(data):
    ref, cur = (d["shift_count"] for d in data)
    assert np.array_equal(ref, np.round(ref)) and ref.min() >= 0
    assert ref.mean() == pytest.approx(3.0, abs=0.05) and ref.var() == pytest.approx(3.0, abs=0.15)
    assert cur.mean() == pytest.approx(3.6, abs=0.05)


def test_mixture_weight_moves_from_three_to_four_tenths(data):
    ref, cur = (d["shift_mixture"] for d in data)
    assert (ref > 0.5).mean() == pytest.approx(0.3, abs=0.015)
    assert (cur > 0.5).mean() == pytest.approx(0.4, abs=0.015)


def test_category_shares_moved(gen, data):
    ref, cur = (shares(d["shift_cat_shares"]) for d in data)
    for cat, share in gen.CAT_SHARES_REF.items():
        assert ref[cat] == pytest.approx(share, abs=0.015)
    for cat, share in gen.CAT_SHARES_CUR.items():
        assert cur[cat] == pytest.approx(share, abs=0.015)


def test_new_category_five_percent(gen, data):
    ref, cur = (shares(d["shift_cat_new"]) for d in data)
    assert gen.NEW_CATEGORY not in ref
    assert cur[gen.NEW_CATEGORY] == pytest.approx(0.05, abs=0.006)
    assert set(cur) == set(ref) | {gen.NEW_CATEGORY}
    for cat, share in gen.CAT_NEW_REF.items():
        assert cur[cat] == pytest.approx(share * 0.95, abs=0.015)


def test_unshifted_columns_are_not_shifted(gen, data):
    reference, current = data
    for name in gen.UNSHIFTED:
        ref, cur = reference[name], current[name]
        if name in gen.NUMERIC:
            ref, cur = ref[np.isfinite(ref)], cur[np.isfinite(cur)]
            assert stats.ks_2samp(ref, cur).statistic < 0.025, name  # ~0.014 is the 95 % noise level here
            assert (
                abs(np.isnan(reference[name].astype(float)).mean() - np.isnan(current[name].astype(float)).mean())
                < 0.003
            )
        else:
            a, b = shares(ref), shares(cur)
            assert set(a) == set(b) or name == "cat_zipf100", name
            assert max(abs(a.get(k, 0) - b.get(k, 0)) for k in set(a) | set(b)) < 0.015, name


def test_shifted_columns_are_detectably_shifted(gen, data):
    reference, current = data
    for name in gen.SHIFTED:
        if name in gen.NUMERIC:
            assert stats.ks_2samp(reference[name], current[name]).statistic > 0.018, name
    assert np.isnan(reference["normal_nulls"]).mean() == pytest.approx(0.01, abs=0.003)


def test_the_scipy_check_compares_our_kernels_with_scipy_on_the_full_columns():
    """independent.py: our drift statistics from a stored profile against scipy's own answers on
    the full columns; a sample-free statistic (JS on deciles) agrees, the sampled ones differ by
    sampling error only, and a new category is what goodness of fit cannot see."""
    from monitoring.drift.compare import drift_compare
    from monitoring.drift.profile import profile_build

    spec = importlib.util.spec_from_file_location("drift_bench_independent", GENERATE.with_name("independent.py"))
    independent = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(independent)
    rng = np.random.default_rng(5)
    reference = {"x": rng.normal(size=30_000), "c": rng.choice(np.array(["a", "b", "c"], dtype=object), 30_000)}
    current = {"x": rng.normal(0.3, 1, size=30_000),
               "c": rng.choice(np.array(["a", "b", "c", "new"], dtype=object), 30_000, p=[0.3, 0.3, 0.3, 0.1])}
    kinds = {"x": "numeric", "c": "categorical"}
    ours = {r["feature"]: r for r in drift_compare(profile_build(reference, kinds), current)["features"]}

    result = independent.check(reference, current, kinds, ours)

    x = result["per_column"]["x"]
    assert x["scipy"]["ks_stat"] == pytest.approx(stats.ks_2samp(reference["x"], current["x"]).statistic)
    assert x["abs_diff"]["js"] < 1e-9
    assert x["abs_diff"]["ks_stat"] < 0.03 and x["abs_diff"]["wasserstein_std"] < 0.05
    c = result["per_column"]["c"]
    assert c["scipy"]["current_share_unseen_in_reference"] == pytest.approx(0.1, abs=0.01)
    assert ours["c"]["chi2_stat"] > 10 * c["scipy"]["chi2_stat"]
    assert set(result["max_abs_diff"]) == {"ks_stat", "ks_pvalue", "wasserstein_std", "js", "chi2_stat_relative", "chi2_pvalue"}
