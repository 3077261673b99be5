"""Canary rollouts started by an approval, analysed step by step, ending in Production
or rolled back; and serving's gate evidence."""


import numpy as np
import pytest

from control_plane.models import Event
from monitoring.drift.psi import psi
from registry import services
from registry.gate import gate_evaluate
from registry.models import ModelVersion
from serving import services as deployments
from serving.analysis import FAIL, PASS, WAIT, Thresholds, VariantStats, analyse
from serving.models import CanaryAnalysis, Deployment
from serving.rollouts import canary_evaluate
from tests.conftest import staged_version

from .conftest import ROW, SERVING_SCHEMA, send_traffic

pytestmark = pytest.mark.django_db
MODEL = "churn-predictor"
# Few requests per step, and latency left out (a p99 of 30 requests on a busy test machine
# is noise; the latency rule has its own test above): these tests are about the flow.
FAST = {"steps": [50, 100], "analysis": {"min_requests": 150, "max_p99_latency_ratio": 1000}}


def stats(n=100, errors=0, latency=5.0, scores=None):
    rng = np.random.default_rng(n + errors)
    return VariantStats(
        requests=n,
        errors=errors,
        latencies_ms=np.full(n, latency),
        scores=np.asarray(scores if scores is not None else rng.uniform(0, 1, n)),
    )


def test_analysis_waits_passes_and_fails_on_each_metric():
    limits = Thresholds(min_requests=50)
    assert analyse(stats(100), stats(10), limits).decision == WAIT
    assert analyse(stats(100), stats(100), limits).decision == PASS
    assert analyse(stats(100), stats(100, errors=10), limits).failed_metric == "error_rate"
    assert analyse(stats(100, latency=5), stats(100, latency=20), limits).failed_metric == "p99_latency"
    assert analyse(stats(100, latency=2), stats(100, latency=6), limits).decision == PASS  # 3x, but 4 ms
    shifted = analyse(stats(100), stats(100, scores=np.linspace(0.9, 1.0, 100)), limits)
    assert shifted.decision == FAIL and shifted.failed_metric == "score_psi" and shifted.metrics["score_psi"] > 0.25


def test_psi_uses_shares_with_open_outer_bins():
    reference = np.arange(1, 101, dtype=float)
    assert psi(reference, reference) == pytest.approx(0.0, abs=1e-12)
    # Everything above the reference's range lands in the open top bin, and is counted.
    assert psi(reference, np.full(100, 1000.0)) > 1.0


@pytest.fixture
def served_here(served, contributor, approver):
    """The model is served here (a live single deployment) with fast canary settings."""
    deployments.deployment_configure(actor=contributor, model_name=MODEL, strategy="single", **FAST)
    return served


def file_and_approve(contributor, approver, version, **confirm):
    request = services.promotion_request(actor=contributor, model_name=MODEL, version=version)
    # Served here, the challenger has no shadow evidence yet: the approver overrides, on record.
    services.promotion_approve(actor=approver, request_id=request.pk, override_reason="canary will tell", **confirm)
    return request


def test_approval_starts_a_canary_that_ends_in_production(api, served_here, saved_models, contributor, approver, viewer):
    twin = staged_version(contributor, source=saved_models[0], schema=SERVING_SCHEMA)  # scores like v1
    request = file_and_approve(contributor, approver, twin.version)

    canary = Deployment.objects.get(state="active")
    assert canary.strategy == "canary" and canary.challenger == twin and canary.challenger_weight == 50
    assert ModelVersion.objects.get(pk=twin.pk).stage == "staging"  # not before the canary passes
    client = api(viewer)
    send_traffic(client)
    # Passing the step before the last is the promotion: the registry makes the twin
    # Production in the same transaction, so nothing ever serves it 100 % before that.
    assert canary_evaluate(canary.pk, force=True) == PASS, CanaryAnalysis.objects.values("failed_metric", "metrics").last()

    assert ModelVersion.objects.get(pk=twin.pk).stage == "production"
    assert ModelVersion.objects.get(model__name=MODEL, version=1).stage == "archived"
    assert Deployment.objects.get(pk=canary.pk).state == "completed"
    assert Deployment.objects.get(state="active").strategy == "single"
    transition = twin.transitions.get(to_stage="production")
    assert transition.promotion_request_id == request.pk and transition.kind == "promotion"
    assert list(CanaryAnalysis.objects.values_list("decision", flat=True)) == ["pass"]


def test_a_failing_step_rolls_back_to_zero_at_once(api, served_here, contributor, approver, viewer):
    file_and_approve(contributor, approver, 2)  # v2 flips every label: its scores shift
    canary = Deployment.objects.get(state="active")
    send_traffic(api(viewer))

    assert canary_evaluate(canary.pk, force=True) == FAIL

    canary.refresh_from_db()
    assert canary.state == "rolled_back" and canary.challenger_weight == 0
    assert ModelVersion.objects.get(version=2).stage == "staging"
    assert ModelVersion.objects.get(version=1).stage == "production"
    event = Event.objects.get(type="deployment.rolled_back")
    assert event.payload["failed_metric"] == "score_psi", event.payload
    assert event.payload["metrics"]["score_psi"] > 0.25


def test_a_step_waits_for_its_time_and_for_enough_traffic(api, served_here, contributor, approver):
    file_and_approve(contributor, approver, 2)
    canary = Deployment.objects.get(state="active")

    assert canary_evaluate(canary.pk) is None  # step_seconds not over yet
    assert canary_evaluate(canary.pk, force=True) == WAIT  # no traffic
    assert Deployment.objects.get(pk=canary.pk).challenger_weight == 50


def test_registry_rollback_stops_a_rollout_in_flight(served, contributor, approver, saved_models):
    from tests.conftest import promote

    promote(contributor, approver, source=saved_models[0], schema=SERVING_SCHEMA)  # v3, directly: not served yet
    deployments.deployment_configure(actor=contributor, model_name=MODEL, strategy="single", **FAST)
    file_and_approve(contributor, approver, 2)
    canary = Deployment.objects.get(state="active")
    assert canary.strategy == "canary" and canary.champion.version == 3

    services.model_rollback(actor=approver, model_name=MODEL, reason="v3 misbehaves")

    canary.refresh_from_db()
    assert canary.state == "aborted" and canary.challenger_weight == 0
    live = Deployment.objects.get(state="active")
    assert live.strategy == "single" and live.champion.version == 1
    assert ModelVersion.objects.get(version=1).stage == "production"


def test_models_not_served_here_have_no_serving_evidence(registered_model, contributor):
    version = staged_version(contributor)
    checks = {c["name"]: c["status"] for c in gate_evaluate(version)["checks"]}
    assert checks["shadow_or_canary_first"] == checks["prediction_logs_captured"] == "not_available"
    assert checks["rollback_path_tested"] == "not_available"


def test_served_models_need_shadow_traffic_and_a_rollback_drill(api, served_here, contributor, viewer):
    challenger = ModelVersion.objects.get(version=2)
    before = {c["name"]: c for c in gate_evaluate(challenger)["checks"]}
    assert before["shadow_or_canary_first"]["status"] == "fail"
    assert before["prediction_logs_captured"]["status"] == "fail"
    assert before["rollback_path_tested"]["status"] == "pass" and "v1 loaded and scored" in before["rollback_path_tested"]["evidence"]

    deployments.deployment_configure(actor=contributor, model_name=MODEL, strategy="shadow", challenger_version=2)
    from serving.api import _shadow_score
    from serving.router import routing_table

    _shadow_score(routing_table.route(MODEL), "drill-1", [ROW])  # what the pool runs, inline

    after = {c["name"]: c["status"] for c in gate_evaluate(challenger)["checks"]}
    assert after["shadow_or_canary_first"] == after["prediction_logs_captured"] == "pass"


def test_promote_now_finishes_an_approved_canary_and_refuses_a_manual_one(api, served_here, saved_models, contributor, approver):
    a = api(approver)
    a.put("/api/v1/models/churn-predictor/deployment/", {"strategy": "canary", "challenger_version": 2}, format="json")
    refused = a.post("/api/v1/models/churn-predictor/deployment/promote/", {}, format="json")
    assert refused.status_code == 409 and refused.json()["error"]["code"] == "promotion_required"
    assert ModelVersion.objects.get(version=2).stage == "staging"

    twin = staged_version(contributor, source=saved_models[0], schema=SERVING_SCHEMA)
    # The hand-made canary of v2 is running: replacing it is said out loud.
    file_and_approve(contributor, approver, twin.version, replace_rollout=True)
    r = a.post("/api/v1/models/churn-predictor/deployment/promote/", {"reason": "looks fine"}, format="json")

    assert r.status_code == 200 and r.json()["state"] == "completed"
    assert ModelVersion.objects.get(pk=twin.pk).stage == "production"
    assert Deployment.objects.get(state="active").strategy == "single"
