"""The severity rule of drift, in one place.

A feature's drift (and the score's, for prediction drift) is "none", "moderate" or "major".
The numbers below are the defaults (DEFAULT_THRESHOLDS); a model's monitor policy may change them.

1. Distances decide first. Three measures of how far the current distribution is from the
   reference are held against their thresholds, and the worst level wins:
   - PSI on the reference's decile bins (numerics) or on the categories: moderate from 0.1,
     major from 0.25;
   - Wasserstein distance divided by the reference standard deviation (numerics): how far,
     in standard deviations, values had to move on average; moderate from 0.1, major from 0.5;
   - Jensen-Shannon distance (base 2, between 0 and 1) on the same bins or categories:
     moderate from 0.1, major from 0.2.
2. A significance test may raise a feature to moderate, never further, and only together
   with an effect size over a floor. The test is KS for numerics and chi-square for
   categoricals, at 0.05 divided by the number of features tested (Bonferroni, the score
   counting as one); the effect size is the KS statistic (floor 0.04) for numerics and the
   Jensen-Shannon distance (floor 0.05) for categoricals.
3. A feature with no value at all in the window (every row null) while the reference had
   values is major.

Why PSI alone is not enough: PSI only sees how the shares of ten quantile bins changed.
When 2 % of the values jump 5 to 10 standard deviations into one tail, the top bin gains
2 points and PSI is about 0.003, although the mean moved by 0.15 std; and since the bins are
quantiles, a shift of 0.2 on the log scale of a log-normal feature (every value 22 % larger)
gives a PSI of about 0.04. Wasserstein in std units sees the tail and the multiplicative
shift; KS sees changes of shape that a heavy tail hides from the std.

Why a p-value alone is not enough: a p-value measures evidence, not size. With a million
rows on each side a KS test rejects for a gap of 0.003 between the two CDFs (a mean shift of
a hundredth of a std) that nobody would act upon, and a busy model's features would be
"drifted" on most days. The floors name the smallest change worth an alarm. Bonferroni keeps the
chance of a false alarm across 25 features at 5 % instead of 72 %.

The floors: a KS statistic of 0.04 means no value's percentile rank moved by more than 4
points; a normal feature whose mean moves by 0.1 std reaches it, the same size as the
Wasserstein moderate threshold, so the two agree on the smallest numeric drift. With the
default reference sample of 10,000 values the Bonferroni-corrected KS test alone would
already reject from about 0.02, and the floor keeps holding when that sample is made larger.
For categoricals, JS is close to 0.85 x Cramer's V of the reference/current table with both
samples weighted equally (the chi-square test's usual effect size, without its dependence on
the two sample sizes); JS 0.05 is a two-valued feature moving from 50/50 to 44/56.

Distances are not tested for significance, so small windows carry noise of their own: for
an unchanged normal feature, 1 % of fresh draws reach Wasserstein/std 0.08 at 1,000 rows and
0.12 at 500, and PSI 0.1 or JS 0.14 at 200 rows; from a few thousand rows on the noise stays
far below the thresholds (the default window is 10,000 rows). Below about 2,700 rows the KS
test's own critical value lies above its floor, and the test raises features at its nominal
5 % family-wise rate.
"""

SEVERITIES = ("none", "moderate", "major")

DEFAULT_THRESHOLDS = {
    "psi_moderate": 0.1,
    "psi_major": 0.25,
    "ks_pvalue": 0.05,  # Bonferroni: divided by the number of features tested
    "ks_effect_floor": 0.04,  # KS statistic below this never raises a feature
    "wasserstein_moderate": 0.1,  # in reference std units
    "wasserstein_major": 0.5,
    "js_moderate": 0.1,
    "js_major": 0.2,
    "chi2_effect_floor": 0.05,  # JS distance below this never lets chi-square raise a feature
}


def worst(levels) -> str:
    return max(levels, key=SEVERITIES.index, default="none")


def _level(value, moderate: float, major: float) -> str:
    if value is None or value != value:
        return "none"
    if value >= major:
        return "major"
    if value >= moderate:
        return "moderate"
    return "none"


def _significant(pvalue, effect, floor: float, alpha: float) -> bool:
    return pvalue is not None and effect is not None and pvalue < alpha and effect >= floor


def severity_of(stats: dict, thresholds: dict, n_tests: int, *, reference_empty: bool = False) -> str:
    """Severity of one feature from its statistics (a per-feature dict of drift_compare);
    `thresholds` as DEFAULT_THRESHOLDS, `n_tests` the number of features tested together."""
    t = {**DEFAULT_THRESHOLDS, **thresholds}
    if stats.get("null_share") == 1.0 and not reference_empty:
        return "major"
    levels = [
        _level(stats.get("psi"), t["psi_moderate"], t["psi_major"]),
        _level(stats.get("wasserstein_std"), t["wasserstein_moderate"], t["wasserstein_major"]),
        _level(stats.get("js"), t["js_moderate"], t["js_major"]),
    ]
    alpha = t["ks_pvalue"] / max(n_tests, 1)
    if _significant(stats.get("ks_pvalue"), stats.get("ks_stat"), t["ks_effect_floor"], alpha) or \
            _significant(stats.get("chi2_pvalue"), stats.get("js"), t["chi2_effect_floor"], alpha):
        levels.append("moderate")
    return worst(levels)
