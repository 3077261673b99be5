"""Drift benchmark: our kernels (monitoring/drift) against Evidently's DataDriftPreset and
NannyML's UnivariateDriftCalculator on the same generated data. See README.md beside this file.

    python benchmarks/drift/run.py --peer-python /work/venv-drift/bin/python --rows 1000000
    python benchmarks/drift/run.py --rows 20000 --passes 1 --results ''   # a quick look

Run it with the project's interpreter (its numpy/scipy/pyarrow are what "ours" uses). The peers
run with --peer-python, a virtual environment holding requirements-peers.txt (README.md: how to
make it); without that option run.py makes one itself under --venv-dir, the first time. It
writes the data once per size (--data-dir), runs the passes alternately (ours, Evidently, ...,
ours, Evidently, ...), each in a fresh subprocess, takes medians, runs our answers against
scipy's own functions once per size in a process of its own, prints the tables and writes
them to RESULTS.md (--results). Not part of the test suite: far too slow.
"""

import argparse
import hashlib
import json
import os
import statistics
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
sys.path.insert(0, str(HERE))

import generate
from _common import RESULT_PREFIX
from report import write_report

PEER_REQUIREMENTS = HERE / "requirements-peers.txt"

# tool -> (a peer?, runner script, extra runner arguments)
TOOLS = {
    "ours": (False, "run_ours.py", []),
    "ours-job": (False, "run_ours.py", ["--mode", "job"]),
    "evidently": (True, "run_evidently.py", []),
    "evidently-psi": (True, "run_evidently.py", ["--method", "psi"]),
    "nannyml": (True, "run_nannyml.py", []),
}


def log(msg: str):
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", flush=True)


# ---- environments -----------------------------------------------------------------------


def peer_venv_python(venv_dir: Path, base_python: str) -> Path:
    """The interpreter of a virtual environment holding requirements-peers.txt, made on first use."""
    tag = hashlib.sha1(PEER_REQUIREMENTS.read_bytes()).hexdigest()[:8]
    target = venv_dir / f"peers-{tag}"
    python = target / "bin" / "python"
    marker = target / "installed.txt"
    if marker.exists():
        return python
    log(f"creating {target} from {PEER_REQUIREMENTS.name}")
    subprocess.run([base_python, "-m", "venv", "--clear", str(target)], check=True)
    pip = [str(python), "-m", "pip", "install", "--disable-pip-version-check", "-q"]
    result = subprocess.run([*pip, "-r", str(PEER_REQUIREMENTS)], check=False, capture_output=True, text=True)
    if result.returncode != 0:
        tail = "\n".join(line for line in result.stderr.splitlines() if "is ignored" not in line)[-3000:]
        raise SystemExit(f"pip install into {target} failed:\n{tail}")
    freeze = subprocess.run([str(python), "-m", "pip", "freeze"], capture_output=True, text=True, check=True).stdout
    marker.write_text(freeze)
    return python


def base_interpreter() -> str:
    """A python to make venvs from: the base of the running venv if there is one."""
    base = Path(sys.base_prefix) / "bin" / f"python{sys.version_info.major}.{sys.version_info.minor}"
    return str(base) if base.exists() else sys.executable


def kernel_fingerprint() -> str:
    """sha1 over monitoring/drift/*.py: the kernels "ours" ran with (a change mid-run is reported)."""
    digest = hashlib.sha1()
    for path in sorted((REPO / "monitoring" / "drift").glob("*.py")):
        digest.update(path.name.encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()[:12]


# ---- one pass ---------------------------------------------------------------------------


def run_once(python: str, script: str, data_dir: Path, extra: list, timeout: float) -> dict:
    """Run a runner in a fresh process; its result line plus the process's own rusage (wait4)."""
    env = {**os.environ, "NML_DISABLE_USAGE_LOGGING": "1", "PYTHONHASHSEED": "0"}
    cmd = [python, str(HERE / script), "--data", str(data_dir), *extra]
    out_path = data_dir / f".{script}.{os.getpid()}.out"
    err_path = data_dir / f".{script}.{os.getpid()}.err"
    t0 = time.perf_counter()
    with open(out_path, "w") as out, open(err_path, "w") as err:
        proc = subprocess.Popen(cmd, stdout=out, stderr=err, env=env, cwd=str(REPO))
        deadline = time.time() + timeout
        while True:
            pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
            if pid:
                break
            if time.time() > deadline:
                proc.kill()
                pid, status, usage = os.wait4(proc.pid, 0)
                raise RuntimeError(f"{' '.join(cmd)} timed out after {timeout} s")
            time.sleep(0.05)
        proc.returncode = os.waitstatus_to_exitcode(status)
    elapsed = time.perf_counter() - t0
    stdout, stderr = out_path.read_text(), err_path.read_text()
    out_path.unlink()
    err_path.unlink()
    lines = [line for line in stdout.splitlines() if line.startswith(RESULT_PREFIX)]
    if proc.returncode != 0 or not lines:
        raise RuntimeError(f"{' '.join(cmd)} exited {proc.returncode}:\n{stderr[-4000:]}")
    result = json.loads(lines[-1][len(RESULT_PREFIX) :])
    result["process_maxrss_mb"] = round(usage.ru_maxrss / 1024.0, 1)  # this child alone (wait4)
    result["process_wall_s"] = round(elapsed, 2)
    return result


# ---- scoring ----------------------------------------------------------------------------


def score_flags(flagged: list, truth: dict) -> dict:
    shifted, unshifted = set(truth["shifted"]), set(truth["unshifted"])
    return {
        "flagged": sorted(flagged),
        "missed": sorted(shifted - set(flagged)),
        "false_alarms": sorted(set(flagged) & unshifted),
    }


def summarise(passes: list, truth: dict) -> dict:
    first = passes[0]
    flag_sets = {tuple(p["flagged"]) for p in passes}
    summary = {
        "passes": len(passes),
        "wall_s": statistics.median(p["compute_s"] for p in passes),
        "wall_s_all": [p["compute_s"] for p in passes],
        "cpu_s": statistics.median(p["compute_cpu_s"] for p in passes),
        "peak_mb": statistics.median(p["process_maxrss_mb"] for p in passes),
        "drift_peak_mb": statistics.median(p["compute_peak_mb"] for p in passes),
        "data_mb": statistics.median(p["data_mb"] for p in passes),
        "load_s": statistics.median(p["load_s"] for p in passes),
        "loadavg": [p["loadavg_before_after"] for p in passes],
        "flags_stable": len(flag_sets) == 1,
        **score_flags(first["flagged"], truth),
    }
    for key in ("build_s", "json_s", "compare_s"):
        if key in first:
            summary[key] = statistics.median(p[key] for p in passes)
    for key in ("flagged_js_only", "errors", "versions"):
        if key in first:
            summary[key] = first[key]
    if "flagged_js_only" in first:
        summary["js_only"] = score_flags(first["flagged_js_only"], truth)
    return summary


# ---- report -----------------------------------------------------------------------------


def rerender(args):
    saved = json.loads(args.rerender.read_text())
    results = {int(k): v for k, v in saved["results"].items()}
    raw = {int(k): v for k, v in saved["raw"].items()}
    truth_by_size = {rows: json.loads((args.data_dir / f"rows-{rows}" / "truth.json").read_text()) for rows in results}
    checks = {int(k): v for k, v in saved.get("checks", {}).items()}
    args.argv = saved.get("argv", ["..."])
    args.seed = truth_by_size[min(results)]["seed"]
    started = datetime.fromisoformat(saved["started"]) if "started" in saved else datetime.now(UTC)
    versions = saved.get("versions") or {t: raw[min(raw)][t][0].get("versions") for t in raw[min(raw)]}
    path = Path(args.results) if args.results else None
    print(write_report(path, args, results, checks, truth_by_size, versions, started, raw))


# ---- main -------------------------------------------------------------------------------


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument(
        "--rows",
        type=int,
        nargs="+",
        metavar="N",
        default=[100_000, 1_000_000],
        help="sizes, rows per set (default 100000 1000000)",
    )
    parser.add_argument(
        "--tools",
        nargs="+",
        metavar="TOOL",
        default=list(TOOLS),
        choices=list(TOOLS),
        help=f"of {', '.join(TOOLS)} (default: all)",
    )
    parser.add_argument(
        "--passes", type=int, metavar="N", default=3, help="passes of every tool at every size, alternating (default 3)"
    )
    parser.add_argument(
        "--peer-python",
        metavar="PATH",
        help="the interpreter of a venv holding requirements-peers.txt (default: one made under --venv-dir)",
    )
    parser.add_argument("--seed", type=int, default=0, help="data seed (default 0)")
    parser.add_argument(
        "--data-dir",
        type=Path,
        metavar="DIR",
        default=Path("/tmp/drift-bench-data"),
        help="generated data and raw results (default /tmp/drift-bench-data)",
    )
    parser.add_argument(
        "--venv-dir",
        type=Path,
        metavar="DIR",
        default=Path(os.environ.get("DRIFT_BENCH_VENVS", "/tmp/drift-bench-venvs")),
        help="where the peers' venv is made without --peer-python "
        "(default $DRIFT_BENCH_VENVS or /tmp/drift-bench-venvs)",
    )
    parser.add_argument(
        "--results",
        metavar="PATH",
        default=str(HERE / "RESULTS.md"),
        help="markdown report (default: RESULTS.md here; '' for none)",
    )
    parser.add_argument(
        "--timeout", type=float, metavar="S", default=3600, help="seconds per pass before it is killed (default 3600)"
    )
    parser.add_argument(
        "--rerender", type=Path, metavar="JSON", help="rewrite the report from a saved results-*.json; run nothing"
    )
    args = parser.parse_args(argv)
    args.argv = sys.argv[1:] if argv is None else argv
    if args.rerender:
        return rerender(args)
    started = datetime.now(UTC)
    fingerprint = kernel_fingerprint()

    pythons = {False: sys.executable}
    if any(TOOLS[t][0] for t in args.tools):
        pythons[True] = args.peer_python or str(peer_venv_python(args.venv_dir, base_interpreter()))
    versions = {}

    results, checks, truth_by_size = {}, {}, {}
    raw = {}
    for rows in args.rows:
        t0 = time.perf_counter()
        data_dir = generate.write(rows, args.seed, args.data_dir)
        truth = json.loads((data_dir / "truth.json").read_text())
        truth_by_size[rows] = truth
        log(f"{rows:,} rows: data in {data_dir} ({time.perf_counter() - t0:.1f} s)")
        if "ours-job" in args.tools:
            run_once(sys.executable, "run_ours.py", data_dir, ["--mode", "build-profile"], args.timeout)
        if "ours" in args.tools:  # in a process of its own: no pass and no memory figure includes it
            checks[rows] = run_once(sys.executable, "run_ours.py", data_dir, ["--mode", "check"], args.timeout)["check"]
            diffs = ", ".join(f"{k} {v['max']:.2g}" for k, v in checks[rows]["scipy"]["max_abs_diff"].items())
            log(f"{rows:,} ours vs scipy on the full columns, max abs diff: {diffs}")
        collected = {t: [] for t in args.tools}
        for i in range(args.passes):
            for tool in args.tools:  # alternating, each pass a fresh process: a busy spell hits every tool
                peer, script, extra = TOOLS[tool]
                result = run_once(pythons[peer], script, data_dir, extra, args.timeout)
                collected[tool].append(result)
                log(
                    f"{rows:,} {tool} pass {i + 1}/{args.passes}: {result['compute_s']:.2f} s wall, "
                    f"{result['compute_cpu_s']:.2f} s CPU, peak {result['process_maxrss_mb']:.0f} MB, "
                    f"flagged {len(result['flagged'])}"
                )
        results[rows] = {t: summarise(collected[t], truth) for t in args.tools}
        raw[rows] = collected
        for t in args.tools:
            versions.setdefault(t, collected[t][0].get("versions"))

    if kernel_fingerprint() != fingerprint:
        log("WARNING: monitoring/drift changed during the run; the passes of ours may mix two versions")
        fingerprint += f" -> {kernel_fingerprint()} (changed during the run)"
    versions["ours"] = {**(versions.get("ours") or {}), "monitoring/drift sha1": fingerprint}
    raw_path = args.data_dir / f"results-{started:%Y%m%dT%H%M%S}.json"
    saved = {
        "argv": args.argv,
        "started": started.isoformat(),
        "versions": versions,
        "results": results,
        "raw": raw,
        "checks": checks,
    }
    raw_path.write_text(json.dumps(saved, indent=1, default=float))
    text = write_report(
        Path(args.results) if args.results else None, args, results, checks, truth_by_size, versions, started, raw
    )
    print()
    print(text)
    log(f"raw results: {raw_path}" + (f"; table: {args.results}" if args.results else ""))


if __name__ == "__main__":
    main()
