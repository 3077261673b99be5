"""The load half of the serving benchmark, shared with benchmarks/features/online_http.py:
wrk with a Lua script that posts a body file and prints one JSON line, and where the CPU went
during a case (per server worker process, and every process on the machine by name)."""

import json
import os
import socket
import subprocess
import time
import urllib.request
from pathlib import Path

LUA = r"""
local f = io.open(os.getenv("BENCH_BODY_FILE"), "r")
wrk.method = "POST"
wrk.body = f:read("*a")
f:close()
wrk.headers["Content-Type"] = "application/json"
local auth = os.getenv("BENCH_AUTH")
if auth and auth ~= "" then wrk.headers["Authorization"] = auth end

done = function(summary, latency, requests)
  io.write(string.format(
    "BENCH_JSON {\"requests\": %d, \"duration_us\": %d, \"status_errors\": %d, \"connect_errors\": %d, " ..
    "\"read_errors\": %d, \"write_errors\": %d, \"timeouts\": %d, \"p50_us\": %d, \"p99_us\": %d, \"mean_us\": %f}\n",
    summary.requests, summary.duration, summary.errors.status, summary.errors.connect, summary.errors.read,
    summary.errors.write, summary.errors.timeout, latency:percentile(50), latency:percentile(99), latency.mean))
end
"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_http(url, timeout=120.0, proc=None):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"{url}: the server exited with {proc.returncode}")
        try:
            urllib.request.urlopen(url, timeout=2)
            return
        except urllib.error.HTTPError:
            return  # it answers
        except Exception:
            time.sleep(0.3)
    raise RuntimeError(f"{url} did not come up in {timeout} s")


# --- (1) the model -------------------------------------------------------------------------


# --- CPU split between worker processes (the wrk connection-skew gotcha) ----------------------


def descendants(pid):
    found, todo = [], [pid]
    while todo:
        p = todo.pop()
        try:
            for task in os.listdir(f"/proc/{p}/task"):
                kids = Path(f"/proc/{p}/task/{task}/children").read_text().split()
                for k in kids:
                    found.append(int(k))
                    todo.append(int(k))
        except OSError:
            pass
    return found


def cpu_ticks(pids):
    ticks = {}
    for p in pids:
        try:
            fields = Path(f"/proc/{p}/stat").read_text().rsplit(")", 1)[1].split()
            ticks[p] = int(fields[11]) + int(fields[12])
        except OSError:
            pass
    return ticks


# --- (4) load -----------------------------------------------------------------------------


def run_wrk(url, body_file, auth, concurrency, duration, lua_path):
    threads = min(concurrency, 2)
    env = {**os.environ, "BENCH_BODY_FILE": str(body_file), "BENCH_AUTH": auth}
    cmd = ["wrk", f"-t{threads}", f"-c{concurrency}", f"-d{duration}s", "--timeout", "10s", "-s", str(lua_path), url]
    out = subprocess.run(cmd, env=env, capture_output=True, text=True)
    for line in out.stdout.splitlines():
        if line.startswith("BENCH_JSON "):
            r = json.loads(line[len("BENCH_JSON "):])
            r["rps"] = r["requests"] / (r["duration_us"] / 1e6)
            r["ok"] = r["requests"] - r["status_errors"]
            return r
    raise RuntimeError(f"wrk gave no result:\n{out.stdout}\n{out.stderr}")


def machine_ticks() -> dict:
    """CPU ticks of every process on the machine (pid -> (label, ticks)) and "idle" from
    /proc/stat: where the two cores went during a case. Kernel threads count as "kernel"."""
    ticks = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                head, rest = Path(f"/proc/{entry}/stat").read_text().rsplit(")", 1)
                cmdline = Path(f"/proc/{entry}/cmdline").read_bytes().split(b"\0")
            except OSError:
                continue
            fields = rest.split()
            comm = head.split("(", 1)[1]
            label = "kernel" if not cmdline[0] else comm
            if comm.startswith("python") and len(cmdline) > 2 and b"drain_predictions" in cmdline:
                label = "drain"
            ticks[entry] = (label, int(fields[11]) + int(fields[12]))
    cpu = Path("/proc/stat").read_text().splitlines()[0].split()
    ticks["idle"] = ("idle", int(cpu[4]) + int(cpu[5]))
    return ticks


def machine_split(before: dict, after: dict, wrk_ticks: int) -> dict[str, int]:
    spent = {"wrk": wrk_ticks}
    for pid, (label, ticks) in after.items():
        spent[label] = spent.get(label, 0) + ticks - before.get(pid, (label, 0))[1]
    return dict(sorted(((k, v) for k, v in spent.items() if v >= 5), key=lambda kv: -kv[1])[:8])


def measure(name, url, body_file, auth, concurrency, duration, lua_path, server_pids):
    workers = [p for pid in server_pids for p in descendants(pid)]
    before, machine_before = cpu_ticks(workers), machine_ticks()
    children_before = os.times()
    r = run_wrk(url, body_file, auth, concurrency, duration, lua_path)
    children_after = os.times()
    after, machine_after = cpu_ticks(workers), machine_ticks()
    wrk_seconds = sum(children_after[2:4]) - sum(children_before[2:4])
    used = sorted((after.get(p, 0) - before.get(p, 0) for p in before), reverse=True)
    r["cpu_split"] = [u for u in used if u > 0][:4]
    r["machine"] = machine_split(machine_before, machine_after, round(wrk_seconds * os.sysconf("SC_CLK_TCK")))
    return r
