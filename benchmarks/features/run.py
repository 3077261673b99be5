"""Feature store benchmark: ours vs Feast 0.67 on the same generated data, in one run,
passes alternated (ours, Feast, ours, Feast, ...), each pass a fresh process.

    /work/main/.venv/bin/python benchmarks/features/run.py               # 3 passes each
    /work/main/.venv/bin/python benchmarks/features/run.py --passes 1 --rows 50000 --keys 10000 --entity-rows 10000

Feast runs in its own venv (--feast-venv, default /work/venv-feast), made from
requirements-feast.txt when missing; it is never in the project's requirements. Ours runs
with this interpreter against a bench database (created, migrated) and Redis db 13.
Both answers of the historical join are checked against an independent oracle (pandas
merge_asof, generate.oracle)."""

import argparse
import json
import secrets
import statistics
import subprocess
import sys
import time
import venv
from pathlib import Path

import pandas as pd
import psycopg

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks.features.generate import FEATURES, TTL_SECONDS, generate, mismatches, oracle  # noqa: E402
from benchmarks.features.online_http import measure as http_measure  # noqa: E402

REDIS_DB = 13


def ensure_feast(venv_dir: Path) -> Path:
    python = venv_dir / "bin" / "python"
    if not python.exists():
        venv.create(venv_dir, with_pip=True)
    check = subprocess.run([str(python), "-c", "import feast; print(feast.__version__)"], capture_output=True, text=True)
    if check.returncode != 0:
        subprocess.run([str(python), "-m", "pip", "install", "-q", "-r", str(HERE / "requirements-feast.txt")], check=True)
    return python


def ensure_database(name: str, data_dir: Path) -> dict:
    with psycopg.connect("postgresql://postgres@127.0.0.1:5432/postgres", autocommit=True) as conn:
        if not conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone():
            conn.execute(f'CREATE DATABASE "{name}"')
    env = {
        "DATABASE_URL": f"postgres://postgres@127.0.0.1:5432/{name}",
        "REDIS_URL": f"redis://127.0.0.1:6379/{REDIS_DB}",
        "FEATURE_ONLINE_PREFIX": "fsbench",
        "FEATURE_SOURCE_SCHEMAS": "feature_data",
        "FEATURE_DATA_ROOTS": str(data_dir),
        "SECRET_KEY": secrets.token_urlsafe(50),
        "DJANGO_SETTINGS_MODULE": "control_plane.settings",
        "LOG_LEVEL": "WARNING",
    }
    subprocess.run([sys.executable, str(ROOT / "manage.py"), "migrate", "-v", "0"], env={**_base_env(), **env}, check=True)
    return env


def api_token(env: dict) -> str:
    """A viewer's token for the HTTP measurement (the user is made once per database)."""
    manage = [sys.executable, str(ROOT / "manage.py")]
    subprocess.run(manage + ["create_user", "features-bench", "--role", "viewer", "--password", secrets.token_urlsafe(16)],
                   env=env, capture_output=True)
    made = subprocess.run(manage + ["create_api_token", "features-bench"], env=env, capture_output=True, text=True, check=True)
    return made.stdout.strip().splitlines()[-1].strip()


def _base_env() -> dict:
    import os

    return dict(os.environ)


def _json(output: str) -> dict:
    return json.loads(output.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=500_000)
    parser.add_argument("--keys", type=int, default=100_000)
    parser.add_argument("--entity-rows", type=int, default=100_000)
    parser.add_argument("--passes", type=int, default=3)
    parser.add_argument("--reads", type=int, default=1000, help="online reads per size per pass")
    parser.add_argument("--data-dir", type=Path, default=Path("/tmp/features-bench"))
    parser.add_argument("--feast-venv", type=Path, default=Path("/work/venv-feast"))
    parser.add_argument("--http-seconds", type=int, default=10, help="wrk duration per tool per pass; 0: no HTTP")
    parser.add_argument("--results", default=str(HERE / "RESULTS.md"))
    args = parser.parse_args()
    args.data_dir.mkdir(parents=True, exist_ok=True)
    args.started = time.strftime("%Y-%m-%d %H:%M", time.gmtime())
    generate(args.data_dir, rows=args.rows, keys=args.keys, entity_rows=args.entity_rows,
             now=pd.Timestamp.now(tz="UTC").floor("s"))
    expected = oracle(pd.read_parquet(args.data_dir / "entities.parquet"), pd.read_parquet(args.data_dir / "features.parquet"))
    feast_python = ensure_feast(args.feast_venv)
    env = {**_base_env(), **ensure_database("features_bench", args.data_dir)}
    token = api_token(env) if args.http_seconds else ""
    http_key = int(pd.read_parquet(args.data_dir / "features.parquet", columns=["user_id"])["user_id"].iloc[0])
    subprocess.run([sys.executable, str(HERE / "run_ours.py"), str(args.data_dir), "-", "--load"], env=env, check=True,
                   capture_output=True)
    results = {"ours": [], "feast": []}
    for number in range(args.passes):
        for tool in ("ours", "feast"):
            out = args.data_dir / f"{tool}-{number}.parquet"
            if tool == "ours":
                command = [sys.executable, str(HERE / "run_ours.py"), str(args.data_dir), str(out), str(args.reads)]
            else:
                command = [str(feast_python), str(HERE / "run_feast.py"), str(args.data_dir), str(out), str(args.reads),
                           str(TTL_SECONDS), str(REDIS_DB)]
            done = subprocess.run(command, env=env, capture_output=True, text=True)
            if done.returncode != 0:
                print(done.stdout[-3000:], done.stderr[-5000:])
                raise SystemExit(f"{tool} pass {number} failed")
            result = _json(done.stdout)
            result["historical_mismatches"] = mismatches(pd.read_parquet(out), expected)
            if tool == "ours":
                result["historical_pg_mismatches"] = mismatches(pd.read_parquet(out.with_suffix(".pg.parquet")), expected)
            if args.http_seconds:  # while this tool's rows are in Redis (the next Feast pass flushes them)
                result["http"] = http_measure(tool, env=env, token=token, feast_python=str(feast_python),
                                              feast_repo=result.get("repo", ""), user_id=http_key,
                                              refs=[f"bench:{f}" for f in FEATURES], duration=args.http_seconds)
                result["http"].pop("answer")
            results[tool].append(result)
            print(tool, number, json.dumps(result), flush=True)
    table = report(results, args)
    print(table)
    if args.results:
        Path(args.results).write_text(table)


def _median(values):
    return round(statistics.median(values), 3)


def report(results: dict, args) -> str:
    rows = [
        ("historical join, Parquet file, first call in the process (s)", "historical_s"),
        ("historical join, Parquet file, the same call again (s)", "historical_warm_s"),
        ("materialize, from the Parquet file (s)", "materialize_s"),
    ]
    lines = [
        "# Feature store benchmark: ours vs Feast 0.67",
        "",
        f"{args.rows:,} feature rows, {args.keys:,} keys, 10 float features; entity frame {args.entity_rows:,} rows; "
        f"{args.passes} passes per tool, alternated, each a fresh process; medians (every pass below). "
        "Run under `/work/bin/cpu exclusive` (no other benchmark or test suite on the 2 cores). "
        "Ours reads the same Parquet file as Feast (a file source, DuckDB) except where a row says PostgreSQL table.",
        "",
        "| measure | ours | Feast | every pass (ours / Feast) |",
        "|---|---|---|---|",
    ]
    for label, key in rows:
        ours = [r[key] for r in results["ours"]]
        feast = [r[key] for r in results["feast"]]
        lines.append(f"| {label} | {_median(ours)} | {_median(feast)} | {ours} / {feast} |")
    for size in ("online_100", "online_1"):
        for stat in ("p50_ms", "p99_ms"):
            ours = [r[size][stat] for r in results["ours"]]
            feast = [r[size][stat] for r in results["feast"]]
            lines.append(f"| {size.replace('_', ' ')} entities x 10 features, {stat[:3]} (ms) | {_median(ours)} | "
                         f"{_median(feast)} | {ours} / {feast} |")
    if "http" in results["ours"][0]:
        for stat, label in (("rps", "req/s"), ("p50_ms", "p50 (ms)"), ("p99_ms", "p99 (ms)"), ("errors", "errors")):
            ours = [r["http"][stat] for r in results["ours"]]
            feast = [r["http"][stat] for r in results["feast"]]
            lines.append(f"| HTTP online, 1 entity x 10 features, concurrency 8, {label} | {_median(ours)} | "
                         f"{_median(feast)} | {ours} / {feast} |")
    ours = [r["historical_mismatches"] for r in results["ours"]]
    feast = [r["historical_mismatches"] for r in results["feast"]]
    lines += [f"| historical rows differing from the oracle | {max(ours)} | {max(feast)} | {ours} / {feast} |"]
    for label, key in (("historical join, PostgreSQL table (s)", "historical_pg_s"),
                       ("materialize, from the PostgreSQL table (s)", "materialize_pg_s"),
                       ("historical rows differing from the oracle, PostgreSQL table", "historical_pg_mismatches")):
        ours = [r[key] for r in results["ours"]]
        lines.append(f"| {label} | {_median(ours)} | - | {ours} / - |")
    lines += ["", f"Run {args.started} to {time.strftime('%H:%M', time.gmtime())} UTC.", ""]
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    main()
