"""Drift kernels: pure numpy/scipy, no Django (nor pandas) import anywhere in this package.

- psi.py          the PSI rule on shares (decile edges, open outer bins, 1e-4 floor)
- stats.py        KS, Jensen-Shannon, Wasserstein / std, chi-square, categorical PSI
- profile.py      profile_build: the compact JSON profile of the reference data
- compare.py      drift_compare: a window of current data against a profile
- severity.py     the one severity rule and its default thresholds
- performance.py  realised metrics, calibration and estimated accuracy
"""
