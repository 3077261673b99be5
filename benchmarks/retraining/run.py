"""Replay/evaluate benchmark: champion vs challenger on N logged rows of the 12-feature
HistGradientBoosting model (benchmarks/serving's model), end to end: read the rows from
PostgreSQL, score them with both versions, compare (AUC of each, and the improvement's
95 % bootstrap interval with 200 replicates on at most 200,000 rows).

- ours: retraining.replay (the Celery task's body, in-process): COPY into Arrow in chunks,
  scikit-learn's own predict_proba in a second thread while the next chunk is read, part
  files, the comparison streamed over them (bounded sample, Poisson-bootstrap kernel).
- mlflow: what a user of mlflow.pyfunc does: a server-side cursor over the same rows in
  chunks of the same size, features from the JSON into a DataFrame, `pyfunc.predict` (the
  models are saved with pyfunc_predict_fn="predict_proba"), then scikit-learn's
  roc_auc_score and a resampling bootstrap of the same size.

Each contender runs in its own process per pass (peak RSS is that process's). Needs
PostgreSQL on 127.0.0.1:5432 (user postgres).

    python benchmarks/retraining/run.py --rows 1000000 --passes 3
"""

import argparse
import json
import os
import resource
import secrets
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
PY = sys.executable
DB = "bench_retraining"
MODEL = "bench-hgb"
N_FEATURES = 12
COLUMNS = [f"f{i}" for i in range(N_FEATURES)]
REPLICATES, MAX_ROWS = 200, 200_000
SECRET_KEY = os.environ.get("SECRET_KEY") or secrets.token_urlsafe(50)  # the settings refuse to start without one


def env_for(work: Path) -> dict:
    return {
        **os.environ,
        "DATABASE_URL": f"postgres://postgres@127.0.0.1:5432/{DB}",
        "DJANGO_SETTINGS_MODULE": "control_plane.settings",
        "PREDICTION_LOG_BACKEND": "direct",
        "RETRAINING_DIR": str(work / "retraining"),
        "CONTROL_PLANE_VAR_DIR": str(work / "var"),
        "LOG_LEVEL": "WARNING",
        "OMP_NUM_THREADS": "1",
        "SECRET_KEY": SECRET_KEY,
        "LOCAL_SOURCE_ROOTS": str(work),  # the benchmark's models are saved there
    }


def psql(sql: str, db: str = "postgres") -> str:
    out = subprocess.run(["psql", "-h", "127.0.0.1", "-U", "postgres", "-d", db, "-tAc", sql], capture_output=True, text=True)
    if out.returncode != 0:
        raise RuntimeError(out.stderr)
    return out.stdout.strip()


SETUP = r"""
import io, json, os, shutil
import numpy as np, pandas as pd
import mlflow.sklearn
from mlflow.models import infer_signature
from sklearn.datasets import make_classification
from sklearn.ensemble import HistGradientBoostingClassifier
from django.contrib.auth.models import User
from django.db import connection
from control_plane.users import user_create
from registry import services
from registry.model_saving import own_model_types
from monitoring.models import PredictionLog
from monitoring.log_partitions import ensure_for_timestamps

rows, work = int(os.environ["BENCH_ROWS"]), os.environ["BENCH_WORK"]
X, y = make_classification(n_samples=rows + 20000, n_features=12, n_informative=8, flip_y=0.05, random_state=0)
cols = [f"f{i}" for i in range(12)]
train = pd.DataFrame(X[:20000], columns=cols)
owner, _ = user_create(username="bench-owner", role="contributor", password="bench-password-1")
approver, _ = user_create(username="bench-approver", role="approver", password="bench-password-2")
services.model_create(actor=owner, name="bench-hgb")
schema = [{"name": c, "type": "double"} for c in cols]
for number, (params, part) in enumerate([({"max_iter": 30, "max_depth": 3}, slice(0, 5000)), ({"max_iter": 100}, slice(0, 20000))], 1):
    model = HistGradientBoostingClassifier(random_state=0, **params).fit(train[part], y[:20000][part])
    path = f"{work}/model-v{number}"
    shutil.rmtree(path, ignore_errors=True)  # a rerun with --work
    mlflow.sklearn.save_model(model, path, signature=infer_signature(train, model.predict_proba(train)),
                              pyfunc_predict_fn="predict_proba", pip_requirements=["scikit-learn"],
                              skops_trusted_types=own_model_types(model))
    services.version_register(actor=owner, model_name="bench-hgb", source=f"file://{path}", input_schema=schema)
services.version_set_stage(actor=owner, model_name="bench-hgb", version=1, stage="staging")
request = services.promotion_request(actor=owner, model_name="bench-hgb", version=1, reason="benchmark champion")
services.promotion_approve(actor=approver, request_id=request.pk, comment="benchmark", override_reason="benchmark setup")
services.version_set_stage(actor=owner, model_name="bench-hgb", version=2, stage="staging")
logged, labels = X[20000:].tolist(), y[20000:].tolist()
start = pd.Timestamp("2026-01-01", tz="UTC")
table = PredictionLog._meta.db_table
step = 50000
ensure_for_timestamps(start.to_pydatetime() + pd.Timedelta(days=d) for d in range(rows // 86400 + 2))  # daily partitions
with connection.cursor() as cursor:
    raw = cursor.cursor
    for lo in range(0, rows, step):
        hi = min(rows, lo + step)
        buf = io.StringIO()
        for i in range(lo, hi):
            feats = "{" + ", ".join(f'\\"f{j}\\": {logged[i][j]!r}' for j in range(12)) + "}"
            buf.write(f"bench-hgb\t1\tchampion\tr{i}\t{(start + pd.Timedelta(seconds=i)).isoformat()}\t{feats}\t{{\\\"label\\\": 1}}\t1.0\t{int(labels[i])}\t{{}}\n")
        with raw.copy(f"COPY {table} (model_name, model_version, variant, request_id, ts, features, prediction, latency_ms, ground_truth, extra) FROM STDIN") as copy:
            copy.write(buf.getvalue())
print("SETUP_OK")
"""


OURS = r"""
import json, os, resource, time
import pandas as pd
from django.contrib.auth.models import User
from registry.models import RegisteredModel
from retraining.replay import replay_job_create, replay_job_run
since, until = pd.Timestamp(os.environ["BENCH_SINCE"]).to_pydatetime(), pd.Timestamp(os.environ["BENCH_UNTIL"]).to_pydatetime()
started = time.perf_counter()
job = replay_job_create(actor=User.objects.get(username="bench-owner"), model=RegisteredModel.objects.get(name="bench-hgb"),
                        version=2, since=since, until=until, labelled_only=True, enqueue=False)
job = replay_job_run(job.pk)
seconds = time.perf_counter() - started
r = job.result
print("RESULT " + json.dumps({"seconds": seconds, "rows": job.rows_done, "status": job.status, "error": job.error,
      "champion_auc": r["champion_value"], "challenger_auc": r["challenger_value"], "interval": r["interval"],
      "score_seconds": r["seconds"], "maxrss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
"""


def peer(since: str, until: str, chunk: int, work: Path) -> dict:
    """The mlflow.pyfunc contender (no Django): read, score, compare."""
    import mlflow.pyfunc
    import numpy as np
    import pandas as pd
    import psycopg
    from sklearn.metrics import roc_auc_score

    started = time.perf_counter()
    champion = mlflow.pyfunc.load_model(str(work / "model-v1"))
    challenger = mlflow.pyfunc.load_model(str(work / "model-v2"))
    ys, s1, s2, score_seconds = [], [], [], 0.0
    with psycopg.connect(f"postgresql://postgres@127.0.0.1:5432/{DB}") as conn, conn.cursor(name="replay") as cursor:
        cursor.itersize = chunk
        cursor.execute(
            "SELECT features, ground_truth FROM monitoring_predictionlog WHERE model_name = %s AND ts >= %s AND ts < %s "
            "AND ground_truth IS NOT NULL ORDER BY ts, id", (MODEL, since, until))
        while rows := cursor.fetchmany(chunk):
            frame = pd.DataFrame.from_records([r[0] for r in rows], columns=COLUMNS)
            ys.append(np.array([float(r[1]) for r in rows]))
            t = time.perf_counter()
            s1.append(np.asarray(champion.predict(frame))[:, 1])
            s2.append(np.asarray(challenger.predict(frame))[:, 1])
            score_seconds += time.perf_counter() - t
    y, a, b = np.concatenate(ys), np.concatenate(s1), np.concatenate(s2)
    champion_auc, challenger_auc = roc_auc_score(y, a), roc_auc_score(y, b)
    rng = np.random.default_rng(0)
    if len(y) > MAX_ROWS:
        keep = rng.choice(len(y), MAX_ROWS, replace=False)
        y, a, b = y[keep], a[keep], b[keep]
    diffs = []
    for _ in range(REPLICATES):
        idx = rng.integers(0, len(y), len(y))
        diffs.append(roc_auc_score(y[idx], b[idx]) - roc_auc_score(y[idx], a[idx]))
    low, high = np.percentile(diffs, [2.5, 97.5])
    return {"seconds": time.perf_counter() - started, "rows": int(sum(len(v) for v in ys)), "champion_auc": champion_auc,
            "challenger_auc": challenger_auc, "interval": {"low": low, "high": high}, "score_seconds": score_seconds,
            "maxrss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}


def contender(name: str, since: str, until: str, chunk: int, work: Path) -> dict:
    env = {**env_for(work), "RETRAINING_REPLAY_CHUNK_ROWS": str(chunk), "BENCH_SINCE": since, "BENCH_UNTIL": until}
    if name == "ours":
        out = subprocess.run([PY, "manage.py", "shell", "-c", OURS], cwd=REPO, env=env, capture_output=True, text=True)
    else:
        out = subprocess.run([PY, __file__, "--peer", since, until, "--chunk", str(chunk), "--work", str(work)], cwd=REPO,
                             env=env, capture_output=True, text=True)
    line = next((ln for ln in out.stdout.splitlines() if ln.startswith("RESULT ")), None)
    if line is None:
        raise RuntimeError(f"{name} failed:\n{out.stdout[-3000:]}\n{out.stderr[-3000:]}")
    return json.loads(line[len("RESULT "):])


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--passes", type=int, default=3)
    parser.add_argument("--chunk", type=int, default=50_000)
    parser.add_argument("--peer", nargs=2)
    parser.add_argument("--work")
    parser.add_argument("--skip-setup", action="store_true")
    parser.add_argument("--setup-only", action="store_true")
    args = parser.parse_args()
    if args.peer:  # a child process: the mlflow contender
        print("RESULT " + json.dumps(peer(*args.peer, args.chunk, Path(args.work)), default=float))
        return
    work = Path(args.work or tempfile.mkdtemp(prefix="bench-retraining-"))
    if not args.skip_setup:
        psql(f"DROP DATABASE IF EXISTS {DB} WITH (FORCE)")
        psql(f"CREATE DATABASE {DB}")
        subprocess.run([PY, "manage.py", "migrate", "--noinput"], cwd=REPO, env=env_for(work), check=True, capture_output=True)
        t = time.perf_counter()
        out = subprocess.run([PY, "manage.py", "shell", "-c", SETUP], cwd=REPO, capture_output=True, text=True,
                             env={**env_for(work), "BENCH_ROWS": str(args.rows), "BENCH_WORK": str(work)})
        if "SETUP_OK" not in out.stdout:
            raise RuntimeError(out.stdout[-3000:] + out.stderr[-3000:])
        print(f"setup: {args.rows:,} logged rows in {time.perf_counter() - t:.0f} s (work dir {work})", flush=True)
    psql("ANALYZE monitoring_predictionlog", db=DB)  # as autovacuum would after a bulk load
    if args.setup_only:
        return
    since = "2026-01-01T00:00:00+00:00"
    until = "2027-01-01T00:00:00+00:00"
    quarter = f"{__import__('datetime').datetime(2026, 1, 1) + __import__('datetime').timedelta(seconds=args.rows // 4)}+00:00"
    results = {"ours": [], "mlflow": []}
    for n in range(args.passes):
        for name in ("ours", "mlflow") if n % 2 == 0 else ("mlflow", "ours"):
            r = contender(name, since, until, args.chunk, work)
            results[name].append(r)
            print(f"pass {n + 1} {name:6s}: {r['seconds']:7.1f} s end to end, scoring {sum(r['score_seconds'].values()) if isinstance(r['score_seconds'], dict) else r['score_seconds']:6.1f} s, "
                  f"{r['rows']:,} rows, peak RSS {r['maxrss_mb']:.0f} MB, AUC {r['champion_auc']:.4f} -> {r['challenger_auc']:.4f}, "
                  f"CI [{r['interval']['low']:.4f}, {r['interval']['high']:.4f}]", flush=True)
    quarter_run = contender("ours", since, quarter, args.chunk, work)
    print(f"ours on a quarter of the rows ({quarter_run['rows']:,}): peak RSS {quarter_run['maxrss_mb']:.0f} MB", flush=True)
    import statistics

    ours = statistics.median(r["seconds"] for r in results["ours"])
    theirs = statistics.median(r["seconds"] for r in results["mlflow"])
    print(f"median end to end: ours {ours:.1f} s, mlflow.pyfunc {theirs:.1f} s: {theirs / ours:.1f}x", flush=True)


if __name__ == "__main__":
    main()
