"""The pipeline end to end with the real python trainer (tasks run inline): train, evaluate
on the holdout against the champion, stage and file a request, or not."""

import pytest

from control_plane.errors import Forbidden
from control_plane.models import Event
from registry import services as registry
from registry.models import ModelVersion, PromotionRequest
from retraining.models import RetrainingRun
from retraining.services import retraining_trigger

from .conftest import make_policy

pytestmark = pytest.mark.django_db


def _steps(run):
    return {s.name: s.status for s in run.steps.all()}


def test_manual_run_trains_evaluates_stages_and_files_a_request(policy, contributor, approver, inline):
    run = inline(retraining_trigger, model=policy.model, trigger="manual", actor=contributor, reason="test")
    run = RetrainingRun.objects.get(pk=run.pk)
    assert run.status == "succeeded", (run.error, [(s.name, s.log) for s in run.steps.all()])
    assert _steps(run) == {n: "succeeded" for n in ("check", "train", "evaluate", "stage", "notify")}
    assert run.verdict == "staged"
    version = run.version
    assert version.stage == "staging" and version.version == 2
    assert version.tags["retraining.run"] == str(run.pk) and version.tags["retraining.trigger"] == "manual"
    assert [c["name"] for c in version.input_schema] == ["tenure_months", "monthly_spend", "support_tickets"]
    evaluation = run.evaluation
    assert evaluation["metric"] == "roc_auc" and evaluation["labelled_rows"] > 300
    assert evaluation["interval"]["low"] > 0.01 and evaluation["beats_champion"] is True
    assert evaluation["challenger_value"] > evaluation["champion_value"]
    request = run.promotion_request
    assert request.status == "pending" and request.requested_by == contributor and request.version == version
    with pytest.raises(Forbidden):  # four eyes: the owner cannot approve the pipeline's request
        registry.promotion_approve(actor=contributor, request_id=request.pk)
    types = list(Event.objects.filter(model_name="churn-predictor", type__startswith="retraining.").values_list("type", flat=True))
    assert "retraining.triggered" in types and "retraining.completed" in types
    completed = Event.objects.get(type="retraining.completed")
    assert completed.payload["verdict"] == "staged" and completed.payload["promotion_request"] == request.pk


def test_a_worse_challenger_stays_registered_not_staged(traffic, contributor, inline):
    policy = make_policy(traffic.model, contributor, trainer="tests.retraining.trainers.shuffled_labels")
    run = inline(retraining_trigger, model=policy.model, trigger="manual", actor=contributor)
    run = RetrainingRun.objects.get(pk=run.pk)
    assert run.status == "succeeded" and run.verdict == "not_better", run.error
    assert run.version.stage == "none" and run.promotion_request is None
    assert run.evaluation["beats_champion"] is False
    assert not PromotionRequest.objects.filter(version=run.version).exists()
    assert run.steps.get(name="stage").output == {"staged": False}


def test_a_failing_trainer_fails_the_step_visibly_and_can_be_retried(traffic, contributor, inline):
    policy = make_policy(traffic.model, contributor, trainer="tests.retraining.trainers.returns_garbage")
    run = RetrainingRun.objects.get(pk=inline(retraining_trigger, model=policy.model, trigger="manual", actor=contributor).pk)
    assert run.status == "failed" and run.verdict == "failed"
    train = run.steps.get(name="train")
    assert train.status == "failed" and "expected an MLflow run id or a model URI" in train.log
    assert run.steps.get(name="evaluate").status == "cancelled"
    failed = Event.objects.get(type="retraining.step_failed")
    assert failed.payload["step"] == "train" and failed.payload["run"] == run.pk
    # The policy is fixed, the run retried from the failed step: check is not run again.
    make_policy(traffic.model, contributor)
    from retraining.services import retraining_run_retry

    inline(retraining_run_retry, actor=contributor, run_id=run.pk)
    run.refresh_from_db()
    assert run.status == "succeeded" and run.steps.get(name="check").attempt == 1
    assert run.steps.get(name="train").attempt == 2


def test_a_trainer_cannot_put_its_version_in_production(traffic, contributor, admin, settings, inline):
    # The owner is an admin, who may approve requests: only the four-eyes rule stands in the way.
    policy = make_policy(traffic.model, contributor, trainer="tests.retraining.trainers.promotes_itself", owner=admin.username)
    run = RetrainingRun.objects.get(pk=inline(retraining_trigger, model=policy.model, trigger="manual", actor=contributor).pk)
    refusals = (settings.RETRAINING_DIR / f"run-{run.pk}" / "refusals.txt").read_text().split(",")
    assert refusals == ["transition_not_allowed", "self_approval_forbidden"]
    assert ModelVersion.objects.get(model__name="churn-predictor", stage="production").version == 1
    assert run.status == "succeeded", run.error
    assert run.version.stage == "staging"  # the pipeline's own staging and request, nothing more


def test_start_shadow_puts_the_staged_challenger_beside_the_champion(traffic, contributor, inline):
    from serving.models import Deployment

    policy = make_policy(traffic.model, contributor, start_shadow=True)
    run = RetrainingRun.objects.get(pk=inline(retraining_trigger, model=policy.model, trigger="manual", actor=contributor).pk)
    assert run.verdict == "staged", run.error
    deployment = Deployment.objects.get(pk=run.steps.get(name="stage").output["shadow"])
    assert deployment.strategy == "shadow" and deployment.state == "active"
    assert deployment.champion.version == 1 and deployment.challenger == run.version
    assert deployment.challenger_weight == 0  # a shadow answers nobody
