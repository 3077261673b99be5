"""The mlflow_project and external trainers against a real `mlflow server` and this control
plane's MLflow-compatible registry (a live server): the project registers its version with
the MLflow client; the external system gets a signed webhook and registers through MLflow."""

import threading
from pathlib import Path

import pytest

from notifications import signing
from notifications.services import channel_create
from retraining.models import RetrainingRun
from retraining.services import retraining_trigger
from tests.mlflow.conftest import log_sklearn_model, mlflow_server, registry, tracking  # noqa: F401  (fixtures)
from tests.notifications.servers import start_receiver

from .conftest import make_policy

PROJECT = Path(__file__).resolve().parents[1] / "fixtures" / "retraining_project"
pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def live(registry, settings, traffic):
    settings.PUBLIC_BASE_URL = registry.url
    settings.MLFLOW_TRACKING_URI = registry.tracking_url
    settings.RETRAINING_PROJECT_ROOTS = [PROJECT.parent]
    settings.NOTIFY_ALLOW_HTTP = True
    return registry


def test_an_mlflow_project_trains_and_registers_through_the_mlflow_client(live, contributor):
    make_policy(live_model(), contributor, trainer={"kind": "mlflow_project", "uri": str(PROJECT), "entry_point": "main"})
    run = RetrainingRun.objects.get(pk=retraining_trigger(model=live_model(), trigger="manual", actor=contributor).pk)
    train = run.steps.get(name="train")
    assert run.status == "succeeded", (run.error, train.log[-3000:])
    version = run.version
    assert version.run_id and version.signature_found is True and version.source.startswith("models:/")
    assert version.tags["retraining.run"] == str(run.pk) and version.tags["retraining.trigger"] == "manual"
    assert "training_rows" in version.metrics
    assert run.verdict in ("staged", "not_better") and run.evaluation["labelled_rows"] > 0
    assert version.stage in ("staging", "none")


def live_model():
    from registry.models import RegisteredModel

    return RegisteredModel.objects.get(name="churn-predictor")


@pytest.fixture
def hook(contributor, admin):
    receiver = start_receiver()
    channel_create(actor=admin, kind="webhook", name="ci", config={"url": receiver.url, "secret": "s3cret-for-ci-1234"},
                   events=["retraining.completed"])
    yield receiver
    receiver.server.shutdown()
    receiver.server.server_close()


def test_an_external_trainer_gets_a_signed_webhook_and_the_run_continues_on_registration(live, hook, contributor):
    make_policy(live_model(), contributor, trainer={"kind": "external", "channel": "ci", "deadline_minutes": 30})
    client = live.as_user(contributor)
    run_id, info = log_sklearn_model()

    def ci_system():  # the orchestrator: on the request, train (here: a logged run) and register with the tag
        from tests.processes import wait_for

        if wait_for(lambda: hook.requests, timeout=120):
            body = hook.requests[0].json()
            client.create_model_version("churn-predictor", source=info.model_uri, run_id=run_id,
                                        tags={"retraining.run": str(body["payload"]["retraining_run"])})

    thread = threading.Thread(target=ci_system)
    thread.start()
    run = retraining_trigger(model=live_model(), trigger="manual", actor=contributor)
    thread.join(timeout=60)
    run = RetrainingRun.objects.get(pk=run.pk)
    request = hook.requests[0]
    signing.verify(secret="s3cret-for-ci-1234", headers=request.headers, body=request.body)
    body = request.json()
    assert body["type"] == "retraining.requested" and body["id"] == f"retraining-run-{run.pk}"
    assert body["payload"]["tag"] == {"retraining.run": str(run.pk)} and body["payload"]["data_path"].endswith("train.parquet")
    assert run.status == "succeeded", (run.error, run.steps.get(name="train").log)
    assert run.version.run_id == run_id and run.version.tags["retraining.trigger"] == "manual"


def test_an_external_trainer_that_never_registers_fails_at_its_deadline(live, hook, contributor):
    make_policy(live_model(), contributor, trainer={"kind": "external", "channel": "ci", "deadline_minutes": 0})
    run = RetrainingRun.objects.get(pk=retraining_trigger(model=live_model(), trigger="manual", actor=contributor).pk)
    assert len(hook.requests) == 1
    assert run.status == "failed" and run.steps.get(name="train").status == "failed"
    assert f"No version of churn-predictor tagged retraining.run={run.pk} was registered by" in run.error
    assert "external trainer's deadline" in run.error


def test_the_external_system_cannot_reach_production_through_mlflow(live, hook, contributor, settings):
    """The orchestrator registers its version, then tries MLflow's two ways to Production: the
    stage transition and the champion alias. Each becomes (at most) a pending request."""
    from mlflow.exceptions import MlflowException

    from registry.models import ModelVersion, PromotionRequest

    make_policy(live_model(), contributor, trainer={"kind": "external", "channel": "ci", "deadline_minutes": 30})
    client = live.as_user(contributor)
    run_id, info = log_sklearn_model()
    outcomes = []

    def ci_system():
        from tests.processes import wait_for

        if wait_for(lambda: hook.requests, timeout=120):
            body = hook.requests[0].json()
            mv = client.create_model_version("churn-predictor", source=info.model_uri, run_id=run_id,
                                             tags={"retraining.run": str(body["payload"]["retraining_run"])})
            for attempt in (
                lambda: client.transition_model_version_stage("churn-predictor", mv.version, "Production"),
                lambda: client.set_registered_model_alias("churn-predictor", settings.PRODUCTION_ALIAS, mv.version),
            ):
                try:
                    attempt()
                    outcomes.append("accepted")
                except MlflowException as exc:
                    outcomes.append(exc.error_code)

    thread = threading.Thread(target=ci_system)
    thread.start()
    run = retraining_trigger(model=live_model(), trigger="manual", actor=contributor)
    thread.join(timeout=60)
    run = RetrainingRun.objects.get(pk=run.pk)
    assert len(outcomes) == 2, outcomes
    assert ModelVersion.objects.get(model__name="churn-predictor", stage="production").version == 1
    assert run.version.stage != "production"
    # Whatever MLflow answered, no approval exists: at most a pending request by the orchestrator's user.
    assert not PromotionRequest.objects.filter(version=run.version).exclude(status__in=("pending", "cancelled")).exists()
    print("MLflow answers to the Production attempts:", outcomes)
