"""The HTTP half of the feature store benchmark: our `POST /api/v1/features/online/` under
the production web command (`scripts/web.sh`: granian, one worker process per core) against `feast serve`
(its gunicorn + uvicorn workers, the same count) on the same Redis data, wrk at
concurrency 8 for a fixed time, one entity x 10 features per request. Each server is
started for its measurement and stopped after it (its whole process group)."""

import json
import os
import signal
import subprocess
import sys
import tempfile
import urllib.request
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks.serving.load import LUA, free_port, run_wrk, wait_http  # noqa: E402  (the same wrk script and reader)

WORKERS = 2


def _stop(proc: subprocess.Popen) -> None:
    try:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=20)
    except (ProcessLookupError, subprocess.TimeoutExpired):
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()


def measure(tool: str, *, env: dict, token: str, feast_python: str, feast_repo: str, refs: list[str], user_id: int,
            duration: int, concurrency: int = 8) -> dict:
    """Start one tool's server, warm it, run wrk, stop it: wrk's numbers (rps, p50_us, p99_us...)."""
    port = free_port()
    work = Path(tempfile.mkdtemp(prefix=f"fs-http-{tool}-"))
    if tool == "ours":
        command = ["sh", "scripts/web.sh", "--host", "127.0.0.1", "--port", str(port)]
        body = {"features": refs, "entities": [{"user_id": user_id}]}
        path, auth, cwd = "/api/v1/features/online/", f"Bearer {token}", ROOT
        server_env = {**env, "OMP_NUM_THREADS": "1", "PYTHON": sys.executable, "WEB_CONCURRENCY": str(WORKERS)}
    else:
        feast = str(Path(feast_python).parent / "feast")
        command = [feast, "serve", "-h", "127.0.0.1", "-p", str(port), "-w", str(WORKERS), "--no-access-log"]
        body = {"features": refs, "entities": {"user_id": [user_id]}}
        path, auth, cwd = "/get-online-features", "", feast_repo
        server_env = dict(os.environ)
    (work / "body.json").write_text(json.dumps(body))
    (work / "post.lua").write_text(LUA)
    with open(work / "server.log", "w") as log:
        proc = subprocess.Popen(command, cwd=cwd, env=server_env, stdout=log, stderr=subprocess.STDOUT,
                                start_new_session=True)
    try:
        url = f"http://127.0.0.1:{port}{path}"
        wait_http(f"http://127.0.0.1:{port}/", timeout=90.0, proc=proc)
        check = urllib.request.Request(url, data=json.dumps(body).encode(), method="POST",
                                       headers={"Content-Type": "application/json", **({"Authorization": auth} if auth else {})})
        answer = json.loads(urllib.request.urlopen(check, timeout=30).read())  # a real answer, not an error page
        run_wrk(url, work / "body.json", auth, concurrency, 2, work / "post.lua")  # warm-up: every worker
        result = run_wrk(url, work / "body.json", auth, concurrency, duration, work / "post.lua")
    finally:
        _stop(proc)
    return {"rps": round(result["rps"], 1), "p50_ms": round(result["p50_us"] / 1000, 2),
            "p99_ms": round(result["p99_us"] / 1000, 2), "errors": result["status_errors"] + result["timeouts"],
            "answer": answer}
