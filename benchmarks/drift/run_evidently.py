"""One Evidently pass over one generated data set; prints one result line (see _common.emit).

    <venv>/bin/python benchmarks/drift/run_evidently.py --data /tmp/drift-bench-data/rows-100000 [--method psi]

Timed ("compute_s"): building the two evidently Datasets from the pandas DataFrames (with a
DataDefinition naming the numeric and categorical columns) and Report([DataDriftPreset(...)]).run().
Not timed: importing evidently, a warm-up pass on the first 2000 rows (Evidently imports
much of itself lazily on its first run: ~10 s in a fresh process; a scheduled worker pays that
once), reading the parquet files into pandas (pyarrow to_pandas, "load_s") and reading the
results out of the snapshot ("extract_s", reported). The report is made with include_tests=True
only to read Evidently's own per-column drift verdict (its ValueDrift test: FAIL = drift).
"""

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import emit, read_truth, run_on_frames, versions


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", required=True, help="a rows-N directory written by generate.py")
    parser.add_argument("--method", default=None, help="DataDriftPreset(method=...): default None (auto), or psi")
    parser.add_argument("--warmup", type=int, default=2000, help="untimed first pass on this many rows (0: none)")
    args = parser.parse_args(argv)

    from evidently import DataDefinition, Dataset, Report
    from evidently.presets import DataDriftPreset

    def drift(reference, current):
        definition = DataDefinition(numerical_columns=truth["numeric"], categorical_columns=truth["categorical"])
        cur = Dataset.from_pandas(current, data_definition=definition)
        ref = Dataset.from_pandas(reference, data_definition=definition)
        report = Report([DataDriftPreset(method=args.method)], include_tests=True)
        return report.run(current_data=cur, reference_data=ref)

    truth = read_truth(args.data)
    meter, snapshot, warmup_s = run_on_frames(args.data, drift, args.warmup)

    t0 = time.perf_counter()
    doc = snapshot.dict()
    scores, methods = {}, {}
    for metric in doc["metrics"]:
        params = metric.get("config", {})
        if params.get("type", "").endswith("ValueDrift"):
            scores[params["column"]] = metric["value"]
            methods[params["column"]] = f"{params.get('method')} >= {params.get('threshold')}"
    flagged = []
    for test in doc["tests"]:
        params = test.get("metric_config", {}).get("params", {})
        if params.get("type", "").endswith("ValueDrift") and test["status"] == "FAIL":
            flagged.append(params["column"])
    extract_s = time.perf_counter() - t0

    emit(
        {
            "tool": "evidently-psi" if args.method == "psi" else "evidently",
            **meter.as_dict(),
            "extract_s": round(extract_s, 3),
            "warmup_s": warmup_s,
            "flagged": sorted(flagged),
            "scores": scores,
            "methods": methods,
            "versions": versions("evidently", "pandas", "numpy", "scipy", "pyarrow"),
        }
    )


if __name__ == "__main__":
    main()
