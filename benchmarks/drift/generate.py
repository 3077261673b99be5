"""Data for the drift benchmark: a reference and a current set with known shifts.

25 features: 20 numeric and 5 categorical. Eight of them are shifted in the current set, each
by a known amount of a different kind; the other 17 are fresh draws from the same distribution
as in the reference (several shapes: symmetric, skewed, heavy-tailed, bounded, discrete with
ties, zero-inflated, with nulls, high-cardinality categorical).

Every column has its own random stream (seed, column index, side), so a column's values do not
depend on which other columns exist, and the same seed and size give the same files.

    python benchmarks/drift/generate.py --rows 100000 --out /tmp/drift-bench-data

writes <out>/rows-100000/reference.parquet, current.parquet and truth.json (the ground truth:
which columns are shifted, how, and which are not). Parquet via pyarrow, plain columns: float64
for continuous, int64 for counts, UTF-8 strings for categoricals (not dictionary-encoded, so
no tool gets a pre-encoded column for free).
"""

import argparse
import json
import time
from pathlib import Path

import numpy as np

FORMAT_VERSION = 1  # bump when the data changes: cached files with another version are rebuilt

CAT_SHARES_REF = {"a": 0.5, "b": 0.3, "c": 0.2}
CAT_SHARES_CUR = {"a": 0.35, "b": 0.35, "c": 0.3}
CAT_NEW_REF = {"north": 0.4, "south": 0.3, "east": 0.2, "west": 0.1}
NEW_CATEGORY = "newcomer"
NEW_CATEGORY_SHARE = 0.05
ZIPF_CATEGORIES = 100


def _zipf_shares(k: int = ZIPF_CATEGORIES, s: float = 1.1) -> dict:
    w = 1.0 / np.arange(1, k + 1) ** s
    return {f"z{i:03d}": float(x) for i, x in enumerate(w / w.sum())}


def _choice(rng, shares: dict, n: int) -> np.ndarray:
    cats = np.array(list(shares), dtype=object)
    p = np.array(list(shares.values()), dtype=float)
    return cats[rng.choice(len(cats), size=n, p=p / p.sum())]


def _mixture(rng, n: int, w_high: float) -> np.ndarray:
    """Two sub-populations: N(-1, 0.5) and N(2, 0.5); w_high is the share of the second."""
    high = rng.random(n) < w_high
    return np.where(high, rng.normal(2.0, 0.5, n), rng.normal(-1.0, 0.5, n))


def _outliers(rng, n: int, mean: float, std: float, share: float) -> np.ndarray:
    x = rng.normal(mean, std, n)
    if share:
        hit = rng.random(n) < share
        x[hit] = mean + std * rng.uniform(5.0, 10.0, hit.sum())
    return x


def _with_nulls(rng, x: np.ndarray, share: float) -> np.ndarray:
    x = x.astype(float)
    x[rng.random(len(x)) < share] = np.nan
    return x


# name -> (kind, reference draw, current draw, description of the shift or None).
# Draw functions take (rng, n). The shifted ones say what changed and by how much.
COLUMNS = {
    # --- shifted (8) ---
    "shift_mean": (
        "numeric",
        lambda r, n: r.normal(10.0, 2.0, n),
        lambda r, n: r.normal(10.4, 2.0, n),
        "mean shift: N(10, 2) -> N(10.4, 2), +0.2 std",
    ),
    "shift_scale": (
        "numeric",
        lambda r, n: r.normal(0.0, 1.0, n),
        lambda r, n: r.normal(0.0, 1.5, n),
        "scale change: N(0, 1) -> N(0, 1.5), std x1.5, same mean",
    ),
    "shift_lognormal": (
        "numeric",
        lambda r, n: r.lognormal(0.0, 1.0, n),
        lambda r, n: r.lognormal(0.2, 1.0, n),
        "log-scale shift: LogNormal(mu 0, sigma 1) -> LogNormal(mu 0.2, sigma 1)",
    ),
    "shift_outliers": (
        "numeric",
        lambda r, n: _outliers(r, n, 50.0, 5.0, 0.0),
        lambda r, n: _outliers(r, n, 50.0, 5.0, 0.02),
        "2 % outliers in one tail: N(50, 5), 2 % of current rows replaced by 50 + 5 * U(5, 10)",
    ),
    "shift_count": (
        "numeric",
        lambda r, n: r.poisson(3.0, n),
        lambda r, n: r.poisson(3.6, n),
        "count-rate change: Poisson(3) -> Poisson(3.6)",
    ),
    "shift_mixture": (
        "numeric",
        lambda r, n: _mixture(r, n, 0.3),
        lambda r, n: _mixture(r, n, 0.4),
        "sub-population mix: 0.7 N(-1, 0.5) + 0.3 N(2, 0.5) -> 0.6 / 0.4",
    ),
    "shift_cat_shares": (
        "categorical",
        lambda r, n: _choice(r, CAT_SHARES_REF, n),
        lambda r, n: _choice(r, CAT_SHARES_CUR, n),
        "category shares: a/b/c 0.5/0.3/0.2 -> 0.35/0.35/0.3",
    ),
    "shift_cat_new": (
        "categorical",
        lambda r, n: _choice(r, CAT_NEW_REF, n),
        lambda r, n: _choice(
            r,
            {**{k: v * (1 - NEW_CATEGORY_SHARE) for k, v in CAT_NEW_REF.items()}, NEW_CATEGORY: NEW_CATEGORY_SHARE},
            n,
        ),
        "new category: 5 % of current rows in a category the reference never had, others x0.95",
    ),
    # --- unshifted (17): the same distribution on both sides ---
    "normal": ("numeric", lambda r, n: r.normal(0.0, 1.0, n), None, None),
    "normal_offset": ("numeric", lambda r, n: r.normal(1000.0, 50.0, n), None, None),
    "uniform": ("numeric", lambda r, n: r.uniform(0.0, 100.0, n), None, None),
    "exponential": ("numeric", lambda r, n: r.exponential(2.0, n), None, None),
    "lognormal": ("numeric", lambda r, n: r.lognormal(1.0, 0.8, n), None, None),
    "gamma": ("numeric", lambda r, n: r.gamma(2.0, 3.0, n), None, None),
    "student_t3": ("numeric", lambda r, n: r.standard_t(3.0, n), None, None),
    "beta_u": ("numeric", lambda r, n: r.beta(0.5, 0.5, n), None, None),
    "pareto": ("numeric", lambda r, n: 1.0 + r.pareto(3.0, n), None, None),
    "poisson_low": ("numeric", lambda r, n: r.poisson(0.5, n), None, None),
    "binary01": ("numeric", lambda r, n: (r.random(n) < 0.3).astype(np.int64), None, None),
    "age_int": ("numeric", lambda r, n: r.integers(18, 91, n), None, None),
    "zero_inflated": ("numeric", lambda r, n: np.where(r.random(n) < 0.7, 0.0, r.exponential(10.0, n)), None, None),
    "normal_nulls": ("numeric", lambda r, n: _with_nulls(r, r.normal(5.0, 1.0, n), 0.01), None, None),
    "cat3": ("categorical", lambda r, n: _choice(r, {"red": 0.6, "green": 0.3, "blue": 0.1}, n), None, None),
    "cat_zipf100": ("categorical", lambda r, n: _choice(r, _zipf_shares(), n), None, None),
    "cat_yes_no": ("categorical", lambda r, n: _choice(r, {"yes": 0.8, "no": 0.2}, n), None, None),
}

NUMERIC = [c for c, spec in COLUMNS.items() if spec[0] == "numeric"]
CATEGORICAL = [c for c, spec in COLUMNS.items() if spec[0] == "categorical"]
SHIFTED = [c for c, spec in COLUMNS.items() if spec[3] is not None]
UNSHIFTED = [c for c, spec in COLUMNS.items() if spec[3] is None]


def generate(n_rows: int, seed: int = 0) -> tuple[dict, dict]:
    """(reference, current): dicts of column name -> numpy array, n_rows each."""
    reference, current = {}, {}
    for index, (name, (_kind, draw_ref, draw_cur, _desc)) in enumerate(COLUMNS.items()):
        reference[name] = draw_ref(np.random.default_rng([seed, index, 0]), n_rows)
        current[name] = (draw_cur or draw_ref)(np.random.default_rng([seed, index, 1]), n_rows)
    return reference, current


def truth(n_rows: int, seed: int) -> dict:
    return {
        "format_version": FORMAT_VERSION,
        "rows": n_rows,
        "seed": seed,
        "kinds": {c: COLUMNS[c][0] for c in COLUMNS},
        "numeric": NUMERIC,
        "categorical": CATEGORICAL,
        "shifted": {c: COLUMNS[c][3] for c in SHIFTED},
        "unshifted": UNSHIFTED,
    }


def _to_table(columns: dict):
    import pyarrow as pa

    arrays = {}
    for name, values in columns.items():
        if COLUMNS[name][0] == "categorical":
            arrays[name] = pa.array(values, type=pa.string())
        else:
            arrays[name] = pa.array(values)
    return pa.table(arrays)


def write(n_rows: int, seed: int, out_dir: Path) -> Path:
    """Write reference.parquet, current.parquet and truth.json under out_dir/rows-N; return that dir.

    Files already there with the same rows, seed and format version are reused."""
    import pyarrow.parquet as pq

    target = Path(out_dir) / f"rows-{n_rows}"
    meta = target / "truth.json"
    if meta.exists() and (target / "reference.parquet").exists() and (target / "current.parquet").exists():
        old = json.loads(meta.read_text())
        if (old.get("rows"), old.get("seed"), old.get("format_version")) == (n_rows, seed, FORMAT_VERSION):
            return target
    target.mkdir(parents=True, exist_ok=True)
    reference, current = generate(n_rows, seed)
    for side, cols in (("reference", reference), ("current", current)):
        pq.write_table(_to_table(cols), target / f"{side}.parquet", compression="snappy")
    meta.write_text(json.dumps(truth(n_rows, seed), indent=2) + "\n")
    return target


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, nargs="+", default=[100_000], help="rows per set (default 100000)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, default=Path("/tmp/drift-bench-data"))
    args = parser.parse_args(argv)
    for n in args.rows:
        t0 = time.perf_counter()
        target = write(n, args.seed, args.out)
        print(f"{target}: {time.perf_counter() - t0:.1f} s")


if __name__ == "__main__":
    main()
