"""`make run` as a newcomer meets it: scripts/run.sh in its embedded mode (SQLite and the
filesystem broker in a fresh var folder), then the README's API tour pasted into a shell.

One demo for the module (it takes a while to migrate and seed); every test reads it.
"""

import os
import re
import subprocess
import sys
import threading
import urllib.request
from pathlib import Path

import pytest
import requests

from tests.processes import free_port, wait_for

ROOT = Path(__file__).resolve().parents[2]
BANNER = "Control plane on http://"


def tour_block() -> str:
    """The README's tour, between its markers, without the code fence."""
    readme = (ROOT / "README.md").read_text()
    block = readme.split("<!-- tour:", 1)[1].split("<!-- /tour -->", 1)[0]
    return block.split("```sh\n", 1)[1].split("```", 1)[0]


class Demo:
    def __init__(self, tmp: Path):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.var = tmp / "var"
        self.lines: list[str] = []
        self.reachable_at_banner: bool | None = None
        # A newcomer's shell: none of the test run's DATABASE_URL, REDIS_URL or settings.
        self.env = {
            "PATH": os.environ["PATH"],
            "HOME": str(tmp),
            "LANG": "C.UTF-8",
            "VENV": sys.prefix,
            "PORT": str(self.port),
            "CONTROL_PLANE_VAR_DIR": str(self.var),
            "CANARY_TICK_SECONDS": "3600",
        }
        self.process = subprocess.Popen(
            ["bash", "scripts/run.sh"],
            cwd=ROOT,
            env=self.env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            start_new_session=True,
        )
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self):
        for line in self.process.stdout:
            if BANNER in line and self.reachable_at_banner is None:
                self.reachable_at_banner = self._healthy()
            self.lines.append(line)

    def _healthy(self) -> bool:
        try:
            with urllib.request.urlopen(self.url + "/healthz", timeout=30) as answer:
                return answer.status == 200
        except OSError:
            return False

    @property
    def output(self) -> str:
        return "".join(self.lines)

    def stop(self):
        os.killpg(self.process.pid, 15)
        try:
            self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, 9)
            self.process.wait()

    def token(self, username: str) -> str:
        made = subprocess.run(
            [f"{sys.prefix}/bin/python", "manage.py", "create_api_token", username, "--read-only"],
            cwd=ROOT, env=self.env, capture_output=True, text=True, check=True,
        )
        return made.stdout.splitlines()[-1]

    def login(self, username: str) -> requests.Session:
        passwords = dict(
            (line.split()[0], line.split()[2]) for line in (self.var / "demo-credentials.txt").read_text().splitlines()
        )
        session = requests.Session()
        page = session.get(self.url + "/accounts/login/")
        csrf = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.text).group(1)
        answer = session.post(
            self.url + "/accounts/login/",
            data={"username": username, "password": passwords[username], "csrfmiddlewaretoken": csrf},
            headers={"Referer": self.url + "/accounts/login/"},
        )
        assert answer.url == self.url + "/", answer.text[:500]
        return session


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    demo = Demo(tmp_path_factory.mktemp("make-run"))
    try:
        assert wait_for(lambda: BANNER in demo.output or demo.process.poll() is not None, timeout=600, interval=0.2)
        assert demo.process.poll() is None, demo.output[-3000:]
        yield demo
    finally:
        demo.stop()


def test_the_banner_comes_once_the_server_listens(demo):
    assert demo.reachable_at_banner is True
    assert f"{demo.url}/" in demo.output


def test_metrics_add_up_every_gunicorn_worker(demo):
    """Two workers share PROMETHEUS_MULTIPROC_DIR: every scrape counts every request."""
    from concurrent.futures import ThreadPoolExecutor

    sent = 40
    with ThreadPoolExecutor(8) as pool:
        assert all(s == 200 for s in pool.map(lambda _: requests.get(demo.url + "/readyz").status_code, range(sent)))
    pattern = re.compile(r'control_plane_http_requests_total\{method="GET",route="readyz",status="200"\} (\S+)')
    for _ in range(4):
        counted = float(pattern.search(requests.get(demo.url + "/metrics").text).group(1))
        assert counted == sent
    assert list((demo.var / "prometheus").glob("counter_*.db"))


def test_the_readme_tour_runs_as_pasted_against_the_demo(demo, tmp_path):
    """The block exactly as README.md has it, but for the port; `.venv/bin/python` and
    `manage.py` are where a clone has them (a folder holding the two, linked)."""
    script = tour_block().replace("127.0.0.1:8000", f"127.0.0.1:{demo.port}")
    shell = tmp_path / "clone"
    shell.mkdir()
    (shell / ".venv").symlink_to(sys.prefix)
    (shell / "manage.py").symlink_to(ROOT / "manage.py")
    ran = subprocess.run(
        ["bash", "-e", "-o", "pipefail", "-c", script], cwd=shell, env=demo.env, capture_output=True, text=True, timeout=300
    )
    assert ran.returncode == 0, ran.stdout[-2000:] + ran.stderr[-2000:]
    assert '"error"' not in ran.stdout, ran.stdout[-3000:]
    history = [line for line in ran.stdout.splitlines() if '"to_stage":"production"' in line]
    assert history, ran.stdout[-2000:]
    # The demo's own model is untouched: still its v2 in Production, v3 in Staging.
    churn = requests.get(
        f"{demo.url}/api/v1/models/churn-predictor/", headers={"Authorization": f"Bearer {demo.token('victor')}"}
    ).json()
    assert churn["production_version"] == 2 and churn["staging_versions"] == [3], churn


def test_the_demo_has_a_request_whose_gate_passes(demo):
    """An approver can walk the clean path: churn-predictor's pending request passes its gate
    as evaluated now (fraud-detector's shows the override path)."""
    headers = {"Authorization": f"Bearer {demo.token('victor')}"}
    pending = requests.get(f"{demo.url}/api/v1/promotions/?status=pending", headers=headers, timeout=10).json()
    churn = next(p for p in pending["results"] if p["model"] == "churn-predictor")
    gate = requests.get(f"{demo.url}/api/v1/promotions/{churn['id']}/", headers=headers, timeout=60).json()["current_gate"]
    assert gate["passed"], [(c["name"], c["status"], c["evidence"]) for c in gate["checks"]]
    assert {c["name"] for c in gate["checks"] if c["status"] == "pass"} >= {
        "shadow_or_canary_first", "prediction_logs_captured", "rollback_path_tested", "drift_detection_scheduled"
    }


def test_a_403_logs_one_line_and_emails_go_to_files(demo):
    session = demo.login("victor")
    before = len(demo.lines)
    assert session.get(demo.url + "/channels/new/").status_code == 403
    assert wait_for(lambda: any("Forbidden" in line for line in demo.lines[before:]), timeout=10)
    assert "Traceback" not in demo.output
    assert "Content-Transfer-Encoding" not in demo.output and "Subject: [ML control plane]" not in demo.output


def test_approving_the_demo_request_starts_a_canary_and_says_so(demo):
    """README's tour, step 2: alice approves churn-predictor's request in the browser."""
    headers = {"Authorization": f"Bearer {demo.token('victor')}"}
    pending = requests.get(f"{demo.url}/api/v1/promotions/?status=pending", headers=headers, timeout=10).json()
    churn = next(p for p in pending["results"] if p["model"] == "churn-predictor")
    session = demo.login("alice")
    page = session.get(f"{demo.url}/promotions/{churn['id']}/", timeout=60).text
    assert 'id="running-rollout"' not in page  # v3's own shadow: no confirmation needed
    csrf = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page).group(1)
    answer = session.post(
        f"{demo.url}/promotions/{churn['id']}/approve/",
        data={"csrfmiddlewaretoken": csrf, "comment": "Shadow looks fine."},
        headers={"Referer": f"{demo.url}/promotions/{churn['id']}/"},
        timeout=60,
    )
    assert answer.status_code == 200 and answer.url.endswith(f"/promotions/{churn['id']}/")
    assert "canary of churn-predictor v3 started at 5 % of traffic" in answer.text
    assert 'id="outcome"' in answer.text and "/models/churn-predictor/deployment/" in answer.text
