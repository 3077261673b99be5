"""Serving benchmark: our POST /api/v1/serve/{model}/predict (gunicorn) against
`mlflow models serve`, same model, same worker count, same load generator (wrk).

    /tmp/probe-venv/bin/python benchmarks/serving/run.py            # the whole run, ~5 min
    /tmp/probe-venv/bin/python benchmarks/serving/run.py --duration 5 --concurrency 8

See README.md next to this file. Needs PostgreSQL on 127.0.0.1:5432 (user postgres),
Redis on 127.0.0.1:6379, and wrk (`apt-get install -y wrk`).
"""

import argparse
import json
import os
import shutil
import secrets
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from load import LUA, free_port, measure, run_wrk, wait_http  # noqa: E402  (the load generator)

REPO = Path(__file__).resolve().parents[2]
PY = sys.executable
N_FEATURES = 12
MODEL_NAME = "bench-hgb"
COLUMNS = [f"f{i}" for i in range(N_FEATURES)]

def log(msg):
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", flush=True)


def train_and_save(model_dir: Path):
    sys.path.insert(0, str(REPO))
    from registry.model_saving import own_model_types
    import numpy as np
    import pandas as pd
    import mlflow.sklearn
    from mlflow.models import infer_signature
    from sklearn.datasets import make_classification
    from sklearn.ensemble import HistGradientBoostingClassifier

    X, y = make_classification(n_samples=5000, n_features=N_FEATURES, n_informative=8, random_state=0)
    frame = pd.DataFrame(X, columns=COLUMNS)
    model = HistGradientBoostingClassifier(random_state=0).fit(frame, y)
    mlflow.sklearn.save_model(
        model, str(model_dir), signature=infer_signature(frame, model.predict(frame)),
        pip_requirements=["scikit-learn"], skops_trusted_types=own_model_types(model),
    )
    rng = np.random.default_rng(1)
    return [{c: float(v) for c, v in zip(COLUMNS, row)} for row in rng.normal(size=(100, N_FEATURES))]


# --- (2) the control plane -------------------------------------------------------------------

SETUP = r"""
import json, os
from django.contrib.auth.models import User
from registry import services, stages
from serving.router import routing_table
actor = User.objects.get(username="bench-contributor")
approver = User.objects.get(username="bench-approver")
schema = [{"name": f"f{i}", "type": "double"} for i in range(%d)]
services.model_create(actor=actor, name="%s")
v = services.version_register(actor=actor, model_name="%s", source="file://%s", input_schema=schema)
services.version_set_stage(actor=actor, model_name="%s", version=v.version, stage=stages.STAGING)
req = services.promotion_request(actor=actor, model_name="%s", version=v.version, reason="benchmark")
services.promotion_approve(actor=approver, request_id=req.pk, comment="benchmark", override_reason="benchmark setup")
v.refresh_from_db()
assert v.stage == stages.PRODUCTION, v.stage
print("SETUP_OK", v.version, v.stage)
"""


def manage(env, *args, check=True):
    out = subprocess.run([PY, "manage.py", *args], cwd=REPO, env=env, capture_output=True, text=True)
    if check and out.returncode != 0:
        raise RuntimeError(f"manage.py {' '.join(args)} failed:\n{out.stdout}\n{out.stderr}")
    return out.stdout


def psql(sql, db="postgres"):
    out = subprocess.run(["psql", "-h", "127.0.0.1", "-U", "postgres", "-d", db, "-tAc", sql],
                         capture_output=True, text=True)
    if out.returncode != 0:
        raise RuntimeError(f"psql {sql!r}: {out.stderr}")
    return out.stdout.strip()


def setup_control_plane(env, db, model_dir):
    psql(f"DROP DATABASE IF EXISTS {db} WITH (FORCE)")
    psql(f"CREATE DATABASE {db}")
    manage(env, "migrate", "--noinput")
    manage(env, "create_user", "bench-contributor", "--role", "contributor", "--password", "bench-password-1")
    manage(env, "create_user", "bench-approver", "--role", "approver", "--password", "bench-password-2")
    manage(env, "create_user", "bench-viewer", "--role", "viewer", "--password", "bench-password-3")
    token = manage(env, "create_api_token", "bench-viewer").strip().splitlines()[-1].strip()
    code = SETUP % (N_FEATURES, MODEL_NAME, MODEL_NAME, model_dir, MODEL_NAME, MODEL_NAME)
    out = manage(env, "shell", "-c", code)
    if "SETUP_OK" not in out:
        raise RuntimeError(out)
    return token


# --- (6) the log count ----------------------------------------------------------------------


def count_logged(db):
    return int(psql("SELECT count(*) FROM monitoring_predictionlog", db))


def wait_drained(db, redis_client, stream, timeout=120.0):
    """Until the drain's group has nothing pending and no lag, and the row count is stable."""
    deadline, last = time.time() + timeout, -1
    while time.time() < deadline:
        groups = redis_client.xinfo_groups(stream)
        busy = any((g.get("pending") or 0) or (g.get("lag") or 0) for g in groups)
        n = count_logged(db)
        if not busy and n == last:
            return n
        last = n
        time.sleep(1.0)
    return count_logged(db)


def entries_added(redis_client, stream) -> int:
    return int(redis_client.xinfo_stream(stream)["entries-added"])


# --- mlflow 3.6's scoring server vs Starlette >= 1.0 -----------------------------------------


# Put first on the mlflow processes' PYTHONPATH (never ours): TCP_NODELAY on every accepted
# connection (uvicorn 0.54 with several workers does not set it: each response then waits for
# the peer's delayed ACK, PERFORMANCE.md), and with BENCH_REUSEPORT=1 SO_REUSEPORT on every TCP
# socket before bind, so several single-worker servers share one port and the kernel spreads
# connections across them (one uvicorn master's shared socket lets one worker take them all).
SITECUSTOMIZE = r"""
import os
import socket

_accept, _bind = socket.socket.accept, socket.socket.bind


def accept(self):
    conn, address = _accept(self)
    if conn.family in (socket.AF_INET, socket.AF_INET6):
        conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return conn, address


def bind(self, address):
    if os.environ.get("BENCH_REUSEPORT") == "1" and self.family in (socket.AF_INET, socket.AF_INET6) \
            and self.type == socket.SOCK_STREAM:
        self.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    return _bind(self, address)


socket.socket.accept = accept
socket.socket.bind = bind
"""


def mlflow_env(compat: str, tmp: Path, *, nodelay: bool, reuseport: bool) -> dict:
    extra = mlflow_compat_env(compat)
    if nodelay or reuseport:
        site = tmp / "mlflow-site"
        site.mkdir(exist_ok=True)
        (site / "sitecustomize.py").write_text(SITECUSTOMIZE)
        extra["PYTHONPATH"] = os.pathsep.join(filter(None, [str(site), extra.get("PYTHONPATH", "")]))
    if reuseport:
        extra["BENCH_REUSEPORT"] = "1"
    return extra


def mlflow_compat_env(target: str) -> dict:
    """mlflow 3.6.0's scoring server uses `@app.route`, which Starlette 1.0 removed: with the
    venv's fastapi 0.165 / starlette 1.10 every worker dies at import. The mlflow process
    alone gets an older fastapi/starlette pair first on its PYTHONPATH (installed once,
    `pip install --no-deps --target`); the control plane is not affected."""
    import mlflow
    import starlette

    if int(starlette.__version__.split(".")[0]) < 1 or not mlflow.__version__.startswith("3.6."):
        return {}  # mlflow 3.17's scoring server no longer uses app.route
    if not (Path(target) / "starlette").exists():
        log(f"starlette {starlette.__version__} breaks mlflow models serve: installing fastapi 0.115 / starlette 0.46 in {target}")
        subprocess.run([PY, "-m", "pip", "install", "-q", "--no-deps", "--target", target,
                        "fastapi==0.115.14", "starlette==0.46.2"], check=True)
    return {"PYTHONPATH": target}


def our_server_command(args, port: int) -> list[str]:
    if args.server == "granian":  # the production command (scripts/web.sh), on loopback
        return ["sh", str(REPO / "scripts" / "web.sh"), "--host", "127.0.0.1", "--port", str(port),
                "--workers", str(args.workers), "--blocking-threads", str(args.threads)]
    cmd = [PY, "-m", "gunicorn", "control_plane.wsgi", "-b", f"127.0.0.1:{port}",
           "-w", str(args.workers), "-k", args.worker_class, "--timeout", "60"]
    return cmd + (["--threads", str(args.threads)] if args.worker_class == "gthread" else [])


# --- the run --------------------------------------------------------------------------------


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--duration", type=int, default=10, help="seconds per case")
    ap.add_argument("--concurrency", type=int, nargs="+", default=[1, 8, 32])
    ap.add_argument("--rows", type=int, nargs="+", default=[1, 100])
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--server", default="granian", choices=["granian", "gunicorn"],
                    help="granian: the production command, scripts/web.sh; gunicorn: sync (or gthread) workers")
    ap.add_argument("--threads", type=int, default=1, help="granian's blocking threads, gunicorn gthread's threads")
    ap.add_argument("--worker-class", default="sync", choices=["sync", "gthread"],
                    help="gunicorn worker class (gthread runs --threads 4 per worker)")
    ap.add_argument("--mlflow-mode", choices=["workers", "reuseport"], default="reuseport",
                    help="workers: one `mlflow models serve --workers N` (one uvicorn socket: under wrk one worker "
                    "may take every connection); reuseport (default): N single-worker servers on one port with "
                    "SO_REUSEPORT, the kernel spreading connections")
    ap.add_argument("--no-mlflow-nodelay", dest="mlflow_nodelay", action="store_false",
                    help="leave mlflow's uvicorn without TCP_NODELAY (default: set on every accepted connection)")
    ap.add_argument("--db", default="bench_serving")
    ap.add_argument("--redis-url", default="redis://127.0.0.1:6379/14")
    ap.add_argument("--mlflow-compat", default="/tmp/mlflow-compat",
                    help="where an mlflow-compatible fastapi/starlette pair is installed if needed")
    ap.add_argument("--profile", type=int, default=0, metavar="N",
                    help="afterwards, cProfile N in-process /predict calls per body size (profile_predict.py)")
    ap.add_argument("--keep", action="store_true", help="leave the temp dir and servers' logs")
    args = ap.parse_args()

    if shutil.which("wrk") is None:
        sys.exit("wrk is not installed: `apt-get install -y wrk` (Debian/Ubuntu) and run again.")
    import redis

    tmp = Path(tempfile.mkdtemp(prefix="bench-serving-"))
    model_dir = tmp / "model"
    stream = f"bench-predictions-{uuid.uuid4().hex[:8]}"
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "control_plane.settings",
        "DATABASE_URL": f"postgres://postgres@127.0.0.1:5432/{args.db}",
        "REDIS_URL": args.redis_url,
        "PREDICTION_STREAM": stream,
        "PREDICTION_STREAM_MAXLEN": "50000000",
        "OMP_NUM_THREADS": "1",
        "LOG_LEVEL": "WARNING",
        "DEBUG": "false",
        "SECRET_KEY": secrets.token_urlsafe(50),
        "LOCAL_SOURCE_ROOTS": str(tmp),
        "PATH": f"{Path(PY).parent}:{os.environ.get('PATH', '')}",
        "PYTHON": PY,
    }
    procs = []

    def start(cmd, logname, extra_env=None, **kw):
        f = open(tmp / logname, "w")
        p = subprocess.Popen(cmd, cwd=REPO, env={**env, **(extra_env or {})}, stdout=f, stderr=subprocess.STDOUT, start_new_session=True, **kw)
        procs.append(p)
        return p

    try:
        log(f"training and saving the model in {model_dir}")
        rows = train_and_save(model_dir)
        log(f"setting up database {args.db}, stream {stream}")
        token = setup_control_plane(env, args.db, model_dir)
        rc = redis.Redis.from_url(args.redis_url)

        drain = start([PY, "manage.py", "drain_predictions", "--consumer", "bench"], "drain.log")
        ours_port, mlflow_port = free_port(), free_port()
        ours = start(our_server_command(args, ours_port), "ours.log")
        reuseport = args.mlflow_mode == "reuseport"
        mlflow_extra = mlflow_env(args.mlflow_compat, tmp, nodelay=args.mlflow_nodelay, reuseport=reuseport)
        serve = [str(Path(PY).parent / "mlflow"), "models", "serve", "-m", str(model_dir), "--env-manager", "local",
                 "-h", "127.0.0.1", "-p", str(mlflow_port)]
        mlflows = ([start([*serve, "--workers", "1"], f"mlflow-{i}.log", extra_env=mlflow_extra) for i in range(args.workers)]
                   if reuseport else [start([*serve, "--workers", str(args.workers)], "mlflow.log", extra_env=mlflow_extra)])
        mlf = mlflows[0]
        wait_http(f"http://127.0.0.1:{ours_port}/api/v1/serve/{MODEL_NAME}/predict", proc=ours)
        wait_http(f"http://127.0.0.1:{mlflow_port}/ping", proc=mlf)
        time.sleep(2)

        lua = tmp / "post.lua"
        lua.write_text(LUA)
        ours_url = f"http://127.0.0.1:{ours_port}/api/v1/serve/{MODEL_NAME}/predict"
        mlflow_url = f"http://127.0.0.1:{mlflow_port}/invocations"
        bodies = {}
        for n in args.rows:
            (tmp / f"ours-{n}.json").write_text(json.dumps({"instances": rows[:n]}))
            (tmp / f"mlflow-{n}.json").write_text(json.dumps({"dataframe_records": rows[:n]}))
            bodies[n] = (tmp / f"ours-{n}.json", tmp / f"mlflow-{n}.json")
        auth = f"Bearer {token}"

        # a correctness probe of each before the load
        for url, body, hdr in ((ours_url, bodies[args.rows[0]][0], auth), (mlflow_url, bodies[args.rows[0]][1], "")):
            req = urllib.request.Request(url, data=body.read_bytes(), method="POST",
                                         headers={"Content-Type": "application/json", **({"Authorization": hdr} if hdr else {})})
            log(f"probe {url}: {urllib.request.urlopen(req, timeout=30).read()[:200]!r}")

        log("warming up both servers (every worker loads the model)")
        for n in args.rows:
            run_wrk(ours_url, bodies[n][0], auth, 8, 2, lua)
            run_wrk(mlflow_url, bodies[n][1], "", 8, 2, lua)
        baseline = wait_drained(args.db, rc, stream)
        added_baseline = entries_added(rc, stream)
        log(f"log rows after warm-up: {baseline} (stream entries added {added_baseline})")

        results, ours_ok_rows, served_records = [], 0, 0
        for n in args.rows:
            entries_before = entries_added(rc, stream)
            for c in args.concurrency:
                o = measure("ours", ours_url, bodies[n][0], auth, c, args.duration, lua, [ours.pid])
                m = measure("mlflow", mlflow_url, bodies[n][1], "", c, args.duration, lua, [p.pid for p in mlflows])
                ours_ok_rows += o["ok"] * n
                results.append((n, c, o, m))
                log(f"rows={n:<3} c={c:<2} ours {o['rps']:7.1f} rps p50 {o['p50_us']/1e3:6.1f} p99 {o['p99_us']/1e3:6.1f} ms "
                    f"non2xx {o['status_errors']} cpu {o['cpu_split']} | mlflow {m['rps']:7.1f} rps "
                    f"p50 {m['p50_us']/1e3:6.1f} p99 {m['p99_us']/1e3:6.1f} ms non2xx {m['status_errors']} cpu {m['cpu_split']}")
            # A request of n <= 100 rows appends one stream entry holding its n records.
            served_records += (entries_added(rc, stream) - entries_before) * n

        log("waiting for the drain to catch up")
        t0 = time.time()
        final = wait_drained(args.db, rc, stream)
        added = served_records
        logged = final - baseline
        inflight_bound = sum(c * n for n in args.rows for c in args.concurrency)

        print()
        peer = (f"{args.workers} x `mlflow models serve --workers 1` sharing the port (SO_REUSEPORT)"
                if args.mlflow_mode == "reuseport" else f"`mlflow models serve --workers {args.workers}`")
        ours_desc = (f"granian {args.workers} workers x {args.threads} thread (scripts/web.sh)" if args.server == "granian"
                     else f"gunicorn {args.workers} x {args.worker_class} workers")
        print(f"{ours_desc} vs {peer}, "
              f"TCP_NODELAY {'set' if args.mlflow_nodelay else 'NOT set'} in mlflow; "
              f"wrk, {args.duration} s per case, loopback, OMP_NUM_THREADS=1 for both")
        print()
        print("| rows | conc | ours req/s | ours p50 ms | ours p99 ms | mlflow req/s | mlflow p50 ms | mlflow p99 ms "
              "| req/s ours/mlflow | p99 ours/mlflow | non-2xx ours/mlflow |")
        print("|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
        for n, c, o, m in results:
            print(f"| {n} | {c} | {o['rps']:.1f} | {o['p50_us']/1e3:.1f} | {o['p99_us']/1e3:.1f} | {m['rps']:.1f} | "
                  f"{m['p50_us']/1e3:.1f} | {m['p99_us']/1e3:.1f} | {o['rps']/m['rps']:.2f}x | "
                  f"{o['p99_us']/max(m['p99_us'],1):.2f} | {o['status_errors']}/{m['status_errors']} |")
        print()
        print("CPU ticks per worker process during each case (skew check), ours | mlflow:")
        for n, c, o, m in results:
            print(f"  rows={n} c={c}: {o['cpu_split']} | {m['cpu_split']}")
        print()
        print("CPU ticks of the whole machine during each case, by process name (idle: both cores idle):")
        for n, c, o, m in results:
            print(f"  rows={n} c={c} ours:   {o['machine']}")
            print(f"  rows={n} c={c} mlflow: {m['machine']}")
        print()
        print("Prediction log check (measured cases only, warm-up excluded):")
        print(f"  predictions answered 200, counted by wrk:        {ours_ok_rows}")
        print(f"  records appended to the Redis stream (served):    {added}  (stream entries x rows per request)")
        print(f"  rows in PostgreSQL monitoring_predictionlog:      {logged}  (drain caught up {time.time()-t0:.1f} s after the load)")
        print(f"  rows - wrk 200s = {logged - ours_ok_rows} (requests still in flight when wrk stopped are served and "
              f"logged but not counted by wrk; about {inflight_bound} rows at most, plus any request wrk gave up on)")
        # The invariant: every record served (appended to the stream) is a row, and no 200 wrk saw is missing.
        ok = logged == added and logged >= ours_ok_rows
        print(f"  every prediction logged: {'YES' if ok else 'NO'}")
        (tmp / "results.json").write_text(json.dumps([{"rows": n, "concurrency": c, "ours": o, "mlflow": m}
                                                      for n, c, o, m in results], indent=1))
        print(f"\nraw results and server logs: {tmp}")
        if args.profile:
            for p in procs[1:]:  # the servers; the drain keeps running
                os.killpg(p.pid, signal.SIGTERM)
            for n in args.rows:
                log(f"cProfile of {args.profile} in-process calls, {n} row(s) (profile_predict.py)")
                out = subprocess.run([PY, str(Path(__file__).with_name("profile_predict.py")), "--token", token,
                                      "--model", MODEL_NAME, "--rows", str(n), "-n", str(args.profile)],
                                     cwd=REPO, env=env, capture_output=True, text=True)
                (tmp / f"profile-{n}.txt").write_text(out.stdout + out.stderr)
                print(out.stdout[:6000] if out.returncode == 0 else out.stderr[-3000:])
                print(f"(full profile: {tmp / f'profile-{n}.txt'})")
    finally:
        for p in procs:
            try:
                os.killpg(p.pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
        for p in procs:
            try:
                p.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(p.pid, signal.SIGKILL)
        try:
            redis.Redis.from_url(args.redis_url).delete(stream)
        except Exception:
            pass
        if not args.keep:
            shutil.rmtree(tmp / "model", ignore_errors=True)


if __name__ == "__main__":
    main()
