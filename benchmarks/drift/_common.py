"""What every per-tool runner shares: reading the generated files, the memory meter, the result line.

Standard library plus pyarrow only: each runner imports this from its own virtual environment.
"""

import json
import os
import resource
import sys
import time
from pathlib import Path

RESULT_PREFIX = "DRIFT_BENCH_RESULT "


def read_truth(data_dir) -> dict:
    return json.loads((Path(data_dir) / "truth.json").read_text())


def read_table(data_dir, side: str):
    import pyarrow.parquet as pq

    return pq.read_table(Path(data_dir) / f"{side}.parquet")


def run_on_frames(data_dir, drift, warmup: int):
    """The peers' pass: both sets as pandas frames, an untimed warm-up on the first `warmup`
    rows, then `drift(reference, current)` measured. Answers (meter, result, warmup_s)."""
    meter = Meter()
    reference = read_table(data_dir, "reference").to_pandas()
    current = read_table(data_dir, "current").to_pandas()
    warmup_s = None
    if warmup:
        t0 = time.perf_counter()
        drift(reference.head(warmup), current.head(warmup))
        warmup_s = time.perf_counter() - t0
    meter.loaded()
    result = drift(reference, current)
    meter.computed()
    return meter, result, warmup_s


def cpu_s() -> float:
    """User + system CPU seconds of this process (all its threads) so far."""
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def loadavg() -> float:
    return os.getloadavg()[0]


def release_arrow_memory():
    """Hand pyarrow's freed buffers back to the OS, so what stays resident is the tool's data."""
    import gc

    import pyarrow as pa

    gc.collect()
    pa.default_memory_pool().release_unused()


def _mb(kb: int) -> float:
    return round(kb / 1024.0, 1)


def rss_mb() -> float:
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith("VmRSS:"):
                return _mb(int(line.split()[1]))
    return float("nan")


def maxrss_mb() -> float:
    """Peak resident set size of this process so far (ru_maxrss, KiB on Linux)."""
    return _mb(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)


class Meter:
    """Phases of one run: loading the data, then the drift computation.

    peak_mb is the whole process's peak RSS (what getrusage(RUSAGE_CHILDREN).ru_maxrss reports
    for a fresh child). compute_peak_mb is the peak during the timed computation alone,
    resident data included: the kernel's high-water mark is reset (/proc/self/clear_refs, "5")
    between loading and computing; where that is not allowed it stays the whole-process peak.
    """

    def __init__(self):
        self.t0 = time.perf_counter()
        self.load_s = self.compute_s = None
        self.load_peak_mb = self.data_mb = self.compute_peak_mb = None
        self.reset_ok = False

    def loaded(self):
        release_arrow_memory()
        self.load_s = time.perf_counter() - self.t0
        self.load_peak_mb = maxrss_mb()
        self.data_mb = rss_mb()
        try:
            with open("/proc/self/clear_refs", "w") as fh:
                fh.write("5")
            self.reset_ok = True
        except OSError:
            self.reset_ok = False
        self.load1 = loadavg()
        self.c1 = cpu_s()
        self.t1 = time.perf_counter()

    def computed(self):
        self.compute_s = time.perf_counter() - self.t1
        self.compute_cpu_s = cpu_s() - self.c1
        self.compute_peak_mb = maxrss_mb()
        self.load2 = loadavg()

    def as_dict(self) -> dict:
        return {
            "load_s": round(self.load_s, 4),
            "compute_s": round(self.compute_s, 4),
            "compute_cpu_s": round(self.compute_cpu_s, 4),
            "loadavg_before_after": [round(self.load1, 2), round(self.load2, 2)],
            "data_mb": self.data_mb,
            "compute_peak_mb": self.compute_peak_mb,
            "peak_mb": max(self.load_peak_mb, self.compute_peak_mb),
            "peak_reset_ok": self.reset_ok,
        }


def emit(result: dict):
    """The one line run.py reads back from the runner's stdout."""
    sys.stdout.write(RESULT_PREFIX + json.dumps(result, default=float) + "\n")
    sys.stdout.flush()


def versions(*names) -> dict:
    from importlib.metadata import PackageNotFoundError, version

    out = {"python": sys.version.split()[0]}
    for name in names:
        try:
            out[name] = version(name)
        except PackageNotFoundError:
            out[name] = None
    return out


def threads_env() -> dict:
    return {k: os.environ.get(k) for k in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")}
