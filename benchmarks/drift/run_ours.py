"""One pass of our drift kernels (monitoring/drift) over one generated data set; prints one
result line (see _common.emit). Runs with the project's own interpreter (no Django needed).

    python benchmarks/drift/run_ours.py --data /tmp/drift-bench-data/rows-100000

Timed ("compute_s"), from numpy columns in memory:
  profile_build(reference columns)  -- the one-off reference profiling (decile edges, shares,
                                       a 10,000-value sample per numeric feature, category shares)
  + a JSON round trip of the profile -- it is stored as JSON and read back by every job
  + drift_compare(profile, current columns) with the default thresholds.
The stages are also reported one by one (build_s, json_s, compare_s).

--mode job measures the scheduled job's shape instead: the profile was built earlier by
--mode build-profile (a separate process) and stored as JSON; the job process holds only the
current set, and its timing covers reading the profile JSON + drift_compare.
Not timed: importing, a warm-up pass on the first 2000 rows, reading the parquet files into
numpy (numeric columns as stored, float64 or int64; categoricals as object arrays of str, one
str object per category as pandas' to_pandas() gives them), and the independent check.

--mode check (run.py runs it once per size, in a process of its own, so that no timed pass
and no memory figure includes it) times nothing: it profiles and compares once and then runs
the two checks below.

The scipy check (independent.py) runs scipy's own ks_2samp, wasserstein_distance,
chisquare and jensenshannon on the FULL columns, none of our conventions, and reports how far
our answers are (README: the reason for each difference). The convention check (below) is
kept: it pins our arithmetic, not our choices.

The convention check recomputes, from the raw reference and current
columns with plain numpy/scipy and none of our code: the decile edges (np.quantile), PSI on
those bins (counts by comparison with the edges, 1e-4 floor, renormalised), KS statistic and
p-value (scipy.stats.ks_2samp of the profile's reference sample against the current column),
Jensen-Shannon distance (scipy.spatial.distance.jensenshannon, base 2, unsmoothed shares),
Wasserstein / reference std (scipy.stats.wasserstein_distance of the same sample), and for
categoricals PSI on the union of categories (reference top K kept, the rest pooled in
"__other__", as the issue's profile does) and the chi-square statistic
(scipy.stats.chi2_contingency on the full counts, for information: ours pools rare categories
and uses counts rebuilt from the stored shares). It reports the largest absolute difference
per statistic.
"""

import argparse
import json
import sys
import time
from collections import Counter
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
sys.path.insert(0, str(HERE))

from _common import Meter, emit, read_truth, release_arrow_memory, versions

FLOOR = 1e-4
OTHER = "__other__"


def load_columns(data_dir, side: str, truth: dict) -> dict:
    """name -> numpy array, read one column at a time (no pandas): numeric as stored,
    categoricals as object arrays sharing one str per category (what to_pandas() gives the
    peers). Single-threaded, with Arrow's freed buffers handed back after every column, so
    the process holds the arrays and not the reader's scratch memory."""
    import numpy as np
    import pyarrow.parquet as pq

    source = pq.ParquetFile(Path(data_dir) / f"{side}.parquet")
    columns = {}
    for name in truth["numeric"]:
        columns[name] = source.read(columns=[name], use_threads=False).column(0).to_numpy()
        release_arrow_memory()
    for name in truth["categorical"]:
        encoded = source.read(columns=[name], use_threads=False).column(0).combine_chunks().dictionary_encode()
        categories = np.array(encoded.dictionary.to_pylist(), dtype=object)
        columns[name] = categories[encoded.indices.to_numpy()]
        del encoded
        release_arrow_memory()
    return columns


# ---- the convention check (our arithmetic, from the raw columns) ----------------------


def _psi(ref_shares, cur_shares) -> float:
    import numpy as np

    r = np.maximum(np.asarray(ref_shares, float), FLOOR)
    c = np.maximum(np.asarray(cur_shares, float), FLOOR)
    r, c = r / r.sum(), c / c.sum()
    return float(np.sum((c - r) * np.log(c / r)))


def _bin_shares(values, edges):
    """Bins (-inf, e0], (e0, e1], ..., (e_last, inf) by counting values <= each edge."""
    import numpy as np

    at_most = np.array([np.count_nonzero(values <= e) for e in edges], dtype=float)
    counts = np.diff(np.concatenate(([0.0], at_most, [float(len(values))])))
    return counts / len(values)


def convention_check(reference: dict, current: dict, profile: dict, compared: dict, top_k: int) -> dict:
    import numpy as np
    from scipy import stats
    from scipy.spatial.distance import jensenshannon

    ours = {r["feature"]: r for r in compared["features"]}
    per_column = {}
    for name, feature in profile["features"].items():
        mine = ours[name]
        if feature["kind"] == "numeric":
            ref = np.asarray(reference[name], dtype=float)
            cur = np.asarray(current[name], dtype=float)
            ref, cur = ref[np.isfinite(ref)], cur[np.isfinite(cur)]
            edges = np.unique(np.quantile(ref, np.linspace(0.1, 0.9, 9)))
            ref_sh, cur_sh = _bin_shares(ref, edges), _bin_shares(cur, edges)
            sample = np.asarray(feature["sample"], dtype=float)
            ks = stats.ks_2samp(sample, cur)
            ks_full = stats.ks_2samp(ref, cur)
            same_edges = len(edges) == len(feature["edges"])
            w = stats.wasserstein_distance(sample, cur) / np.std(ref)
            edge_diff = float(np.max(np.abs(edges - np.asarray(feature["edges"])))) if same_edges else float("inf")
            expected = {
                "psi": _psi(ref_sh, cur_sh),
                "ks_stat": float(ks.statistic),
                "ks_pvalue": float(ks.pvalue),
                "js": float(jensenshannon(ref_sh, cur_sh, base=2)),
                "wasserstein_std": float(w),
            }
            diffs = {k: abs(expected[k] - mine[k]) if mine[k] is not None else float("inf") for k in expected}
            diffs["edges"] = edge_diff
            expected["ks_stat_full_reference"] = float(ks_full.statistic)
            expected["ks_pvalue_full_reference"] = float(ks_full.pvalue)
        else:
            ref_counts = Counter(v for v in reference[name] if v is not None)
            cur_counts = Counter(v for v in current[name] if v is not None)
            ranked = sorted(ref_counts.items(), key=lambda kv: (-kv[1], kv[0]))
            kept = {k for k, _ in ranked[:top_k]}
            pooled = len(ref_counts) > top_k
            cats = sorted(kept | ({OTHER} if pooled else set()) | (set() if pooled else set(cur_counts)))

            def fold(counts, cats=cats, kept=kept, pooled=pooled):
                out = dict.fromkeys(cats, 0)
                for k, c in counts.items():
                    out[k if (k in kept or not pooled) else OTHER] += c
                total = sum(out.values())
                return np.array([out[k] / total for k in cats])

            everything = sorted(set(ref_counts) | set(cur_counts))
            table = np.array([[ref_counts.get(k, 0) for k in everything], [cur_counts.get(k, 0) for k in everything]])
            chi2 = stats.chi2_contingency(table, correction=False)
            ref_sh, cur_sh = fold(ref_counts), fold(cur_counts)
            expected = {"psi": _psi(ref_sh, cur_sh), "js": float(jensenshannon(ref_sh, cur_sh, base=2))}
            diffs = {k: abs(expected[k] - mine[k]) if mine[k] is not None else float("inf") for k in expected}
            expected["chi2_stat"] = float(chi2.statistic)
            expected["chi2_pvalue"] = float(chi2.pvalue)
            diffs["chi2_stat_relative"] = abs(chi2.statistic - (mine["chi2_stat"] or 0.0)) / max(chi2.statistic, 1e-12)
            if pooled:
                full = everything
                r = np.array([ref_counts.get(k, 0) for k in full], float)
                c = np.array([cur_counts.get(k, 0) for k in full], float)
                expected["psi_all_categories"] = _psi(r / r.sum(), c / c.sum())
        per_column[name] = {"expected": expected, "abs_diff": diffs}
    stats_names = sorted({k for col in per_column.values() for k in col["abs_diff"]})
    max_diff = {}
    for k in stats_names:
        values = [(col["abs_diff"][k], name) for name, col in per_column.items() if k in col["abs_diff"]]
        worst = max(values)
        max_diff[k] = {"max": worst[0], "column": worst[1]}
    return {"max_abs_diff": max_diff, "per_column": per_column}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", required=True, help="a rows-N directory written by generate.py")
    parser.add_argument(
        "--repo", default=str(REPO), help="where monitoring/drift is imported from (default: this repo)"
    )
    parser.add_argument("--warmup", type=int, default=2000, help="untimed first pass on this many rows (0: none)")
    parser.add_argument(
        "--mode",
        choices=("full", "build-profile", "job", "check"),
        default="full",
        help="full (default): profile the reference and compare, timed together; build-profile: write "
        "<data>/profile-ours.json; job: read that profile and compare the current set (the daily job's shape); "
        "check: profile and compare once, then the scipy and convention checks (nothing timed)",
    )
    args = parser.parse_args(argv)

    sys.path.insert(0, args.repo)
    from monitoring.drift.compare import drift_compare
    from monitoring.drift.profile import profile_build
    from monitoring.drift.severity import DEFAULT_THRESHOLDS

    truth = read_truth(args.data)
    kinds = {name: truth["kinds"][name] for name in truth["numeric"] + truth["categorical"]}
    stages = {}

    def drift(reference, current):
        t0 = time.perf_counter()
        built = profile_build(reference, kinds)
        t1 = time.perf_counter()
        text = json.dumps(built)
        del built
        profile = json.loads(text)  # what a job reads back; the built dict and the text are gone
        del text
        t2 = time.perf_counter()
        compared = drift_compare(profile, current, thresholds=DEFAULT_THRESHOLDS)
        t3 = time.perf_counter()
        stages.update(build_s=round(t1 - t0, 4), json_s=round(t2 - t1, 4), compare_s=round(t3 - t2, 4))
        return profile, compared

    profile_path = Path(args.data) / "profile-ours.json"
    meter = Meter()
    if args.mode == "build-profile":  # the registration step, on its own: reference in, JSON out
        reference = load_columns(args.data, "reference", truth)
        meter.loaded()
        t0 = time.perf_counter()
        profile_path.write_text(json.dumps(profile_build(reference, kinds)))
        stages["build_s"] = round(time.perf_counter() - t0, 4)
        meter.computed()
        emit({"tool": "ours-build", **meter.as_dict(), **stages, "versions": versions("numpy", "scipy", "pyarrow")})
        return
    if args.mode == "job":  # the scheduled job: stored profile + current data, no reference
        current = load_columns(args.data, "current", truth)
        meter.loaded()
        t0 = time.perf_counter()
        profile = json.loads(profile_path.read_text())
        t1 = time.perf_counter()
        compared = drift_compare(profile, current, thresholds=DEFAULT_THRESHOLDS)
        stages.update(json_s=round(t1 - t0, 4), compare_s=round(time.perf_counter() - t1, 4))
        meter.computed()
        check = None
    elif args.mode == "check":  # once per size, untimed: our answers against numpy/scipy
        import independent

        reference = load_columns(args.data, "reference", truth)
        current = load_columns(args.data, "current", truth)
        meter.loaded()
        profile, compared = drift(reference, current)
        meter.computed()
        t0 = time.perf_counter()
        check = convention_check(reference, current, profile, compared, top_k=50)
        check["seconds"] = round(time.perf_counter() - t0, 2)
        t0 = time.perf_counter()
        ours = {r["feature"]: r for r in compared["features"]}
        check["scipy"] = independent.check(reference, current, kinds, ours)
        check["scipy"]["seconds"] = round(time.perf_counter() - t0, 2)
    else:
        reference = load_columns(args.data, "reference", truth)
        current = load_columns(args.data, "current", truth)
        if args.warmup:
            t0 = time.perf_counter()
            head = args.warmup
            drift({k: v[:head] for k, v in reference.items()}, {k: v[:head] for k, v in current.items()})
            stages["warmup_s"] = round(time.perf_counter() - t0, 4)
        meter.loaded()
        profile, compared = drift(reference, current)
        meter.computed()
        check = None

    keep = ("psi", "ks_stat", "ks_pvalue", "js", "wasserstein_std", "chi2_stat", "chi2_pvalue", "severity")
    emit(
        {
            "tool": {"job": "ours-job", "check": "ours-check"}.get(args.mode, "ours"),
            **meter.as_dict(),
            **stages,
            "flagged": sorted(compared["drifted_features"]),
            "scores": {r["feature"]: {k: r[k] for k in keep} for r in compared["features"]},
            "thresholds": DEFAULT_THRESHOLDS,
            "profile_json_bytes": len(json.dumps(profile)),
            "check": check,
            "versions": versions("numpy", "scipy", "pyarrow"),
        }
    )


if __name__ == "__main__":
    main()
