"""One NannyML pass over one generated data set; prints one result line (see _common.emit).

    NML_DISABLE_USAGE_LOGGING=1 <venv>/bin/python benchmarks/drift/run_nannyml.py --data DIR

UnivariateDriftCalculator with the methods the issue names: Kolmogorov-Smirnov and
Jensen-Shannon for continuous columns, chi-square and Jensen-Shannon for categorical ones
(the constructor's own default is Jensen-Shannon alone; its per-method verdicts are reported
too, so "JS only" can be read off the same run). Thresholds are NannyML's defaults: for KS and
JS the mean + 3 std of the method's value over the reference chunks; chi-square alerts on
p < 0.05.

Chunking: the whole current set is ONE chunk. NannyML uses one chunker for fitting and for
calculating, and its thresholds come from the spread of the value over the reference chunks:
with one reference chunk that spread is 0 and every column alerts. So the calculator is fitted
with the reference cut in --reference-chunks pieces (default 10), and its chunker is then
replaced by a size-based one as large as the current set before calculate(). A column is
flagged when any of its methods alerts.

Timed ("compute_s"): fit(reference) + calculate(current), pandas DataFrames in. Not timed:
importing nannyml, a warm-up on the first 2000 rows, reading the parquet files into pandas,
reading the results out.
"""

import argparse
import math
import os
import sys
import time
import warnings
from pathlib import Path

os.environ.setdefault("NML_DISABLE_USAGE_LOGGING", "1")  # NannyML sends usage telemetry otherwise
sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import emit, read_truth, run_on_frames, versions

CONTINUOUS = ["kolmogorov_smirnov", "jensen_shannon"]
CATEGORICAL = ["chi2", "jensen_shannon"]


def _number(value):
    """float, or None for None / NaN."""
    if value is None:
        return None
    value = float(value)
    return None if math.isnan(value) else value


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", required=True, help="a rows-N directory written by generate.py")
    parser.add_argument("--reference-chunks", type=int, default=10, help="chunks the reference is cut in (default 10)")
    parser.add_argument("--warmup", type=int, default=2000, help="untimed first pass on this many rows (0: none)")
    args = parser.parse_args(argv)

    warnings.filterwarnings("ignore", message="The resulting number of chunks is too low")
    import nannyml as nml
    from nannyml.chunk import SizeBasedChunker

    truth = read_truth(args.data)

    def drift(reference, current):
        calc = nml.UnivariateDriftCalculator(
            column_names=truth["numeric"] + truth["categorical"],
            treat_as_numerical=truth["numeric"],
            treat_as_categorical=truth["categorical"],
            continuous_methods=CONTINUOUS,
            categorical_methods=CATEGORICAL,
            chunker=SizeBasedChunker(chunk_size=len(reference) // args.reference_chunks, incomplete="append"),
        )
        calc.fit(reference)
        calc.chunker = SizeBasedChunker(chunk_size=len(current), incomplete="append")
        return calc.calculate(current)

    meter, result, warmup_s = run_on_frames(args.data, drift, args.warmup)

    t0 = time.perf_counter()
    df = result.filter(period="analysis").to_df()
    if len(df) != 1:
        raise SystemExit(f"expected one analysis chunk, got {len(df)}")
    row = df.iloc[0]
    scores, alerts, errors = {}, {}, []
    for column in truth["numeric"] + truth["categorical"]:
        methods = CONTINUOUS if column in truth["numeric"] else CATEGORICAL
        scores[column], alerts[column] = {}, {}
        for method in methods:
            value = _number(row[(column, method, "value")])
            scores[column][method] = value
            alerts[column][method] = bool(row[(column, method, "alert")] == 1)
            if value is None:
                errors.append(f"{column}/{method}: NaN (NannyML logs the exception and carries on)")
            scores[column][f"{method}_upper_threshold"] = _number(row[(column, method, "upper_threshold")])
    flagged = sorted(c for c, per in alerts.items() if any(per.values()))
    flagged_js_only = sorted(c for c, per in alerts.items() if per.get("jensen_shannon"))
    extract_s = time.perf_counter() - t0

    emit(
        {
            "tool": "nannyml",
            **meter.as_dict(),
            "extract_s": round(extract_s, 3),
            "warmup_s": warmup_s,
            "flagged": flagged,
            "flagged_js_only": flagged_js_only,
            "alerts": alerts,
            "scores": scores,
            "errors": errors,
            "versions": versions("nannyml", "pandas", "numpy", "scipy", "pyarrow"),
        }
    )


if __name__ == "__main__":
    main()
