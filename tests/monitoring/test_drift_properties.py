"""Properties of the drift measures (hypothesis): a sample against itself gives about zero,
the bounds hold, and PSI, KS and JS do not change when a feature is rescaled or shifted.

Rescaling is tested with scale factors in [1e-3, 1e3] and shifts in [-1e3, 1e3] on data whose
distinct values stay distinct and in order after the transform: integers for the reference,
integers plus 1/3 for the current sample. (Two things break invariance in floating point with
any implementation of the rule: a*x + b merging two distinct floats by rounding, and a current
value lying exactly on an interpolated decile edge, which rounding then puts on either side.
Integer references have their edges on multiples of 0.1, which k + 1/3 never meets.)"""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from monitoring.drift.psi import decile_edges, psi, shares
from monitoring.drift.stats import (chi_square, js_distance, ks, psi_categorical, wasserstein_sorted,
                                    wasserstein_std)

SETTINGS = settings(max_examples=50, deadline=None)

finite = st.floats(min_value=-1e9, max_value=1e9, allow_nan=False, allow_infinity=False)
samples = arrays(np.float64, st.integers(1, 200), elements=finite)
integer_samples = arrays(np.float64, st.integers(2, 200), elements=st.integers(-1000, 1000).map(float))
scales = st.floats(min_value=1e-3, max_value=1e3)
shifts = st.floats(min_value=-1e3, max_value=1e3)


def binned_js(reference, current):
    edges = decile_edges(reference)
    return js_distance(shares(reference, edges), shares(current, edges))


@SETTINGS
@given(samples)
def test_a_sample_against_itself_gives_zero(x):
    assert psi(x, x) == pytest.approx(0.0, abs=1e-12)
    assert binned_js(x, x) == pytest.approx(0.0, abs=1e-7)
    stat, p = ks(x, x)
    assert stat == 0.0 and p == pytest.approx(1.0)
    assert wasserstein_sorted(np.sort(x), np.sort(x)) == 0.0
    assert wasserstein_std(x, x, float(np.std(x)), mean=float(np.mean(x))) == 0.0


@SETTINGS
@given(samples, samples)
def test_bounds_hold(a, b):
    assert psi(a, b) >= 0.0
    assert 0.0 <= binned_js(a, b) <= 1.0
    stat, p = ks(a, b)
    assert 0.0 <= stat <= 1.0 and 0.0 <= p <= 1.0
    assert wasserstein_sorted(np.sort(a), np.sort(b)) >= 0.0


@SETTINGS
@given(st.lists(st.sampled_from("abcdefgh"), min_size=1, max_size=200),
       st.lists(st.sampled_from("abcdefghij"), min_size=1, max_size=200))
def test_categorical_bounds_hold(reference, current):
    categories = sorted(set(reference) | set(current))
    ref = np.array([reference.count(c) for c in categories], dtype=float)
    cur = np.array([current.count(c) for c in categories], dtype=float)
    shares_ref = {c: n / len(reference) for c, n in zip(categories, ref) if n}
    shares_cur = {c: n / len(current) for c, n in zip(categories, cur) if n}
    assert psi_categorical(shares_ref | {"__other__": 0.0}, shares_cur) >= 0.0
    assert 0.0 <= js_distance(ref, cur) <= 1.0
    stat, p = chi_square(ref, cur)
    assert stat >= 0.0 and 0.0 <= p <= 1.0
    assert psi_categorical(shares_ref, shares_ref) == pytest.approx(0.0, abs=1e-12)


@settings(max_examples=30, deadline=None)
@given(integer_samples, integer_samples, scales, shifts)
def test_psi_ks_and_js_do_not_change_when_a_feature_is_rescaled(a, b, scale, shift):
    b = b + 1 / 3
    before = (psi(a, b), binned_js(a, b), *ks(a, b))
    scaled = (psi(a * scale, b * scale), binned_js(a * scale, b * scale), *ks(a * scale, b * scale))
    moved = (psi(a * scale + shift, b * scale + shift), binned_js(a * scale + shift, b * scale + shift),
             *ks(a * scale + shift, b * scale + shift))
    assert scaled == pytest.approx(before, abs=1e-12)
    assert moved == pytest.approx(before, abs=1e-12)
