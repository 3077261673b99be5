"""A real worker killed with SIGKILL during the train step: the heartbeat stops, the sweep
retries the step, and a new worker finishes the run. Nothing stays "running"."""

import signal
from datetime import timedelta

import pytest
from django.utils import timezone

from retraining.models import RetrainingRun
from retraining.services import retraining_trigger, stale_steps_sweep
from tests.processes import wait_for
from tests.worker.conftest import worker  # noqa: F401  (the fixture, requested by name below)

from .conftest import make_policy


@pytest.fixture
def worker_env(monkeypatch, settings):
    """What the worker processes need to see: this test's folders and trainers."""
    for key, value in {
        "RETRAINING_TRAINER_MODULES": ",".join(settings.RETRAINING_TRAINER_MODULES),
        "RETRAINING_DIR": str(settings.RETRAINING_DIR),
        "RETRAINING_MODEL_ROOTS": str(settings.RETRAINING_DIR),
        "PREDICTION_LOG_BACKEND": "direct",
        "MLFLOW_TRACKING_URI": "",
        "HEARTBEAT_SECONDS": "1",
    }.items():
        monkeypatch.setenv(key, value)


@pytest.mark.django_db(transaction=True)
def test_sigkill_during_train_leaves_the_run_retried_not_running(traffic, contributor, worker_env, request, settings):
    worker = request.getfixturevalue("worker")
    policy = make_policy(traffic.model, contributor, trainer="tests.retraining.trainers.slow_first_attempt")
    run = retraining_trigger(model=policy.model, trigger="manual", actor=contributor)
    started = settings.RETRAINING_DIR / f"run-{run.pk}" / "training-started"
    assert wait_for(started.exists, timeout=120), "the worker never reached the trainer"
    worker.send_signal(signal.SIGKILL)
    worker.wait(timeout=30)
    train = run.steps.get(name="train")
    assert train.status == "running" and train.attempt == 1  # what a dead worker leaves behind
    # Minutes later (the sweep is told the time instead of the test waiting for it):
    later = timezone.now() + timedelta(seconds=settings.HEARTBEAT_STALE_SECONDS + 60)
    assert stale_steps_sweep(now=later) == {"retried": 1, "failed": 0}
    train.refresh_from_db()
    assert train.status == "pending" and "Worker lost" in train.log
    # A second worker picks the re-queued step up and finishes the run.
    import subprocess
    import sys

    from tests.processes import process_env, stop_processes

    second = subprocess.Popen(
        [sys.executable, "-m", "celery", "-A", "control_plane", "worker", "--pool=solo", "--loglevel=INFO",
         "--without-gossip", "--without-mingle", "--without-heartbeat"],
        env=process_env(CELERY_TASK_ALWAYS_EAGER="false"),
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )
    try:
        finished = wait_for(lambda: RetrainingRun.objects.get(pk=run.pk).status in RetrainingRun.FINISHED, timeout=240)
    finally:
        stop_processes([second], timeout=20)
    run.refresh_from_db()
    assert finished and run.status == "succeeded", (run.status, run.error)
    assert run.steps.get(name="train").attempt == 2
