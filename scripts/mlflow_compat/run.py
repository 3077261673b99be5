"""Run one of MLflow's own registry test files against a live control plane.

    python scripts/mlflow_compat/run.py /path/to/mlflow/tests/tracking/test_model_registry.py
    python scripts/mlflow_compat/run.py /path/to/test_model_registry_fluent.py --python /other/venv/bin/python

The file is MLflow's (mlflow/mlflow, tests/tracking/...); it is not part of this
repository. Its copy is changed in one way only: the module's own `client` fixture, and
the imports nothing else uses once it is gone, are taken out, so the `client` fixture of
scripts/mlflow_compat/conftest.py (tracking and registry URIs: the control plane, with an
admin's token) answers instead. Every test body runs unchanged.

The script starts what the tests talk to, in a temp dir: the control plane (gunicorn, a
fresh database: PostgreSQL with --database-url, else the embedded SQLite file), an admin
and a token; with --tracking mlflow-server (the default for the fluent file) also a real
`mlflow server`, which the tests log runs to and the control plane reads sources from.
Then it runs pytest with the client's interpreter (--python: any Python with MLflow and
pytest installed) and sorts the outcome: tests passed; tests refused by the promotion gate
(PERMISSION_DENIED naming a promotion request); anything else. Exit status 0 when nothing
else failed.
"""

import argparse
import ast
import os
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import xml.etree.ElementTree as ET
from pathlib import Path
from urllib.request import urlopen

REPO = Path(__file__).resolve().parents[2]
HERE = Path(__file__).resolve().parent
GOVERNED = re.compile(r"PERMISSION_DENIED: .*promotion request #\d+")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for(url: str, proc: subprocess.Popen, log: Path, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            break
        try:
            with urlopen(url, timeout=5) as answer:
                if answer.status == 200:
                    return
        except OSError:
            time.sleep(0.5)
    raise SystemExit(f"{url} did not come up:\n{log.read_text()[-3000:]}")


def without_client_fixture(source: str) -> str:
    """The test module minus its `client` fixture and the imports only it used; every other
    line as it was."""
    tree = ast.parse(source)
    drop: list[tuple[int, int]] = []
    kept = []
    for node in tree.body:
        if isinstance(node, ast.FunctionDef) and node.name == "client":
            start = min([node.lineno, *(d.lineno for d in node.decorator_list)])
            drop.append((start, node.end_lineno))
        else:
            kept.append(node)
    used = {n.id for part in kept for n in ast.walk(part) if isinstance(n, ast.Name)}
    used |= {n.value.id for part in kept for n in ast.walk(part) if isinstance(n, ast.Attribute) and isinstance(n.value, ast.Name)}
    for node in kept:
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            names = [(alias.asname or alias.name).split(".")[0] for alias in node.names]
            if not any(name in used for name in names):
                drop.append((node.lineno, node.end_lineno))
    lines = source.splitlines(keepends=True)
    for start, end in sorted(drop, reverse=True):
        del lines[start - 1 : end]
    return "".join(lines)


class Processes:
    def __init__(self):
        self.running: list[subprocess.Popen] = []

    def start(self, cmd: list[str], *, env: dict, log: Path, cwd: Path = REPO) -> subprocess.Popen:
        proc = subprocess.Popen(
            cmd, cwd=cwd, env=env, stdout=open(log, "w"), stderr=subprocess.STDOUT, start_new_session=True
        )
        self.running.append(proc)
        return proc

    def stop(self) -> None:
        for proc in reversed(self.running):
            try:
                os.killpg(proc.pid, signal.SIGTERM)
                proc.wait(timeout=15)
            except (ProcessLookupError, subprocess.TimeoutExpired):
                try:
                    os.killpg(proc.pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass


def manage(env: dict, *args: str) -> str:
    done = subprocess.run([sys.executable, "manage.py", *args], cwd=REPO, env=env, capture_output=True, text=True)
    if done.returncode:
        raise SystemExit(f"manage.py {' '.join(args)} failed:\n{done.stdout}\n{done.stderr}")
    return done.stdout


def fresh_postgres(url: str) -> None:
    import psycopg

    base, _, name = url.rpartition("/")
    with psycopg.connect(f"{base}/postgres", autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')


def outcomes(report: Path) -> list[tuple[str, str, str]]:
    """(test id, passed/governed/failed/error/skipped, first line of the failure)."""
    found = []
    for case in ET.parse(report).getroot().iter("testcase"):
        name = case.get("name")
        problem = next((child for child in case if child.tag in ("failure", "error", "skipped")), None)
        if problem is None:
            found.append((name, "passed", ""))
            continue
        text = (problem.get("message") or "") + "\n" + (problem.text or "")
        if problem.tag == "skipped":
            kind = "skipped"
        elif problem.tag == "failure" and GOVERNED.search(text):
            kind = "governed"
        else:
            kind = "failed" if problem.tag == "failure" else "error"
        line = GOVERNED.search(text).group(0) if kind == "governed" else (problem.get("message") or "")
        found.append((name, kind, line.splitlines()[0][:300] if line else ""))
    return found


def start_control_plane(procs: Processes, env: dict, tmp: Path, tracking_url: str, database_url: str) -> tuple[str, str]:
    """gunicorn on a fresh database, an admin and their API token: (URL, token)."""
    port = free_port()
    control_plane = f"http://127.0.0.1:{port}"
    cp_env = {
        **env,
        "DJANGO_SETTINGS_MODULE": "control_plane.settings",
        "CONTROL_PLANE_VAR_DIR": str(tmp / "var"),
        "SECRET_KEY": secrets.token_urlsafe(50),
        "PUBLIC_BASE_URL": control_plane,
        "CELERY_TASK_ALWAYS_EAGER": "true",
        "MLFLOW_TRACKING_URI": tracking_url,
    }
    if database_url:
        fresh_postgres(database_url)
        cp_env["DATABASE_URL"] = database_url
    manage(cp_env, "migrate", "--noinput")
    manage(cp_env, "create_user", "mlflow-suite", "--role", "admin", "--password", secrets.token_urlsafe(16))
    token = manage(cp_env, "create_api_token", "mlflow-suite", "--name", "mlflow-suite").strip().splitlines()[-1]
    log = tmp / "control-plane.log"
    gunicorn = Path(sys.executable).with_name("gunicorn")
    proc = procs.start(
        [str(gunicorn), "control_plane.wsgi", "--bind", f"127.0.0.1:{port}", "--workers", "2",
         "--threads", "4", "--log-level", "warning"],
        env=cp_env, log=log,
    )
    wait_for(f"{control_plane}/healthz", proc, log)
    return control_plane, token


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("test_file", type=Path, help="a copy of an MLflow registry test file")
    ap.add_argument("--python", default=sys.executable, help="the MLflow client's interpreter (needs pytest)")
    ap.add_argument("--tracking", choices=["auto", "control-plane", "mlflow-server"], default="auto",
                    help="where the tests' tracking URI points (auto: mlflow-server for *fluent* files)")
    ap.add_argument("--database-url", default="", help="a PostgreSQL URL to (re)create; default: embedded SQLite")
    ap.add_argument("--against", choices=["control-plane", "mlflow"], default="control-plane",
                    help="mlflow: the baseline, the same copy with a plain `mlflow server` as the registry")
    ap.add_argument("--keep", action="store_true", help="keep the temp dir (logs, report)")
    ap.add_argument("pytest_args", nargs="*", help="passed to pytest after --")
    args = ap.parse_args()

    tracking = args.tracking
    if tracking == "auto":
        tracking = "mlflow-server" if "fluent" in args.test_file.name else "control-plane"
    if args.against == "mlflow":
        tracking = "mlflow-server"
    tmp = Path(tempfile.mkdtemp(prefix="mlflow-compat-"))
    procs = Processes()
    try:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("MLFLOW_", "DATABASE_URL", "REDIS_URL"))}
        tracking_url = ""
        if tracking == "mlflow-server":
            port = free_port()
            tracking_url = f"http://127.0.0.1:{port}"
            log = tmp / "mlflow-server.log"
            proc = procs.start(
                [sys.executable, "-m", "mlflow", "server", "--host", "127.0.0.1", "--port", str(port),
                 "--workers", "1", "--backend-store-uri", f"sqlite:///{tmp}/mlflow.db",
                 "--artifacts-destination", str(tmp / "mlflow-artifacts")],
                env=env, log=log, cwd=tmp,
            )
            wait_for(f"{tracking_url}/health", proc, log)

        if args.against == "mlflow":
            control_plane, token = tracking_url, ""
        else:
            control_plane, token = start_control_plane(procs, env, tmp, tracking_url, args.database_url)

        run_dir = tmp / "suite"
        run_dir.mkdir()
        shutil.copy(HERE / "conftest.py", run_dir / "conftest.py")
        test_copy = run_dir / args.test_file.name
        test_copy.write_text(without_client_fixture(args.test_file.read_text()))
        report = tmp / "report.xml"
        client_env = {
            **env,
            "CONTROL_PLANE_URL": control_plane,
            "COMPAT_TRACKING_URI": tracking_url or control_plane,
            **({"MLFLOW_TRACKING_TOKEN": token} if token else {}),
            "MLFLOW_HTTP_REQUEST_MAX_RETRIES": "0",
        }
        version = subprocess.run([args.python, "-c", "import mlflow; print(mlflow.__version__)"],
                                 env=client_env, capture_output=True, text=True).stdout.strip()
        print(f"MLflow client {version} ({args.python}); registry {control_plane} ({args.against}); "
              f"tracking {tracking_url or 'the control plane'}; database {args.database_url or 'embedded SQLite'}")
        subprocess.run(
            [args.python, "-m", "pytest", str(test_copy), "-p", "no:cacheprovider", "-q", "--rootdir", str(run_dir),
             f"--junitxml={report}", "-o", "junit_logging=no", *args.pytest_args],
            cwd=run_dir, env=client_env,
        )
        results = outcomes(report)
        counts = {kind: sum(1 for _, k, _ in results if k == kind) for kind in ("passed", "governed", "failed", "error", "skipped")}
        print(f"\n{args.test_file.name} with MLflow {version}: {len(results)} tests, "
              + ", ".join(f"{n} {kind}" for kind, n in counts.items()))
        for name, kind, line in results:
            if kind != "passed":
                print(f"  {kind:8} {name}: {line}")
        return 0 if counts["failed"] == counts["error"] == 0 else 1
    finally:
        procs.stop()
        if args.keep:
            print(f"kept {tmp}")
        else:
            shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
