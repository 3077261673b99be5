"""Four-eyes approvals, N-approver policies, stale requests and gate overrides,
through the API, checking what is answered and what the database holds."""

from control_plane.models import Event
from registry import services
from registry.models import ModelVersion, PromotionDecision, PromotionRequest, StageTransition
from tests.conftest import promote, staged_version


def approve(client, request_id, **body):
    return client.post(f"/api/v1/promotions/{request_id}/approve/", body, format="json")


def stage_of(version, model="churn-predictor"):
    return ModelVersion.objects.get(model__name=model, version=version).stage


# --- Four-eyes -------------------------------------------------------------------------


def test_requester_cannot_approve_own_request(api, registered_model, contributor, admin):
    staged_version(contributor)
    # An admin holds both capabilities, so only the four-eyes rule can stop it.
    a = api(admin)
    r = a.post("/api/v1/promotions/", {"model": "churn-predictor", "version": 1}, format="json")
    assert r.status_code == 201, r.json()
    request_id = r.json()["id"]
    events_before = Event.objects.count()

    r = approve(a, request_id, comment="looks fine to me")

    assert r.status_code == 403, r.json()
    assert r.json()["error"]["code"] == "self_approval_forbidden"
    assert stage_of(1) == "staging"
    request = PromotionRequest.objects.get(pk=request_id)
    assert request.status == "pending" and request.closed_at is None
    assert not PromotionDecision.objects.filter(request=request).exists()
    assert Event.objects.count() == events_before

    r = a.post(f"/api/v1/promotions/{request_id}/reject/", {"comment": "nah"}, format="json")
    assert r.status_code == 403 and r.json()["error"]["code"] == "self_decision_forbidden"
    assert PromotionRequest.objects.get(pk=request_id).status == "pending"


def test_contributor_cannot_approve_at_all(api, registered_model, contributor, admin):
    staged_version(contributor)
    request = services.promotion_request(actor=admin, model_name="churn-predictor", version=1)
    r = approve(api(contributor), request.pk)
    assert r.status_code == 403 and r.json()["error"]["code"] == "permission_denied"
    assert stage_of(1) == "staging"
    assert not request.decisions.exists()


# --- N approvers -----------------------------------------------------------------------


def test_two_approver_policy_needs_two_distinct_approvers(api, contributor, approver, approver2):
    services.model_create(actor=contributor, name="fraud", required_approvals=2)
    staged_version(contributor, "fraud")
    r = api(contributor).post("/api/v1/promotions/", {"model": "fraud", "version": 1}, format="json")
    assert r.status_code == 201 and r.json()["required_approvals"] == 2
    request_id = r.json()["id"]
    a1, a2 = api(approver), api(approver2)

    r = approve(a1, request_id, comment="first")
    assert r.status_code == 200, r.json()
    assert r.json()["status"] == "pending" and r.json()["approvals"] == 1
    assert stage_of(1, "fraud") == "staging"
    assert PromotionRequest.objects.get(pk=request_id).status == "pending"

    r = approve(a1, request_id, comment="first again")
    assert r.status_code == 409 and r.json()["error"]["code"] == "already_decided"
    assert PromotionDecision.objects.filter(request_id=request_id).count() == 1
    assert stage_of(1, "fraud") == "staging"

    r = approve(a2, request_id, comment="second")
    assert r.status_code == 200, r.json()
    assert r.json()["status"] == "approved" and r.json()["approvals"] == 2
    assert {d["approver"] for d in r.json()["decisions"]} == {approver.username, approver2.username}
    assert stage_of(1, "fraud") == "production"
    request = PromotionRequest.objects.get(pk=request_id)
    assert request.status == "approved" and request.closed_by == approver2
    assert set(request.decisions.values_list("approver__username", flat=True)) == {"alice-approver", "bob-approver"}
    assert StageTransition.objects.get(model__name="fraud", to_stage="production").promotion_request_id == request_id

    r = approve(a2, request_id)
    assert r.status_code == 409 and r.json()["error"]["code"] == "promotion_closed"


def test_policy_is_fixed_when_the_request_is_filed(api, contributor, approver, approver2):
    """Raising the model's policy after filing does not let a single approval through,
    nor does it silently change the request: the request keeps its own number."""
    services.model_create(actor=contributor, name="fraud", required_approvals=2)
    staged_version(contributor, "fraud")
    request = services.promotion_request(actor=contributor, model_name="fraud", version=1)
    r = api(contributor).patch("/api/v1/models/fraud/", {"required_approvals": 1}, format="json")
    assert r.status_code == 403  # lowering four-eyes is for approvers only
    r = approve(api(approver), request.pk)
    assert r.status_code == 200 and r.json()["status"] == "pending"
    assert stage_of(1, "fraud") == "staging"


# --- Stale requests --------------------------------------------------------------------


def test_request_for_a_version_that_left_staging_is_cancelled_and_cannot_be_approved(
    api, registered_model, contributor, approver
):
    staged_version(contributor)
    request = services.promotion_request(actor=contributor, model_name="churn-predictor", version=1)

    r = api(contributor).post(
        "/api/v1/models/churn-predictor/versions/1/stage/", {"stage": "archived", "reason": "bad data"}, format="json"
    )
    assert r.status_code == 200 and r.json()["stage"] == "archived"
    request.refresh_from_db()
    assert request.status == "cancelled" and request.closed_by == contributor
    assert Event.objects.filter(type="promotion.cancelled", payload__promotion_request=request.pk).count() == 1
    a = api(approver)
    events_before = Event.objects.count()

    r = approve(a, request.pk, comment="ok")

    assert r.status_code == 409, r.json()
    assert r.json()["error"]["code"] == "promotion_closed"
    assert stage_of(1) == "archived"
    assert not ModelVersion.objects.filter(stage="production").exists()
    assert not request.decisions.exists()
    assert Event.objects.count() == events_before


def test_request_filed_before_another_version_reached_production_is_stale(
    api, registered_model, contributor, approver
):
    staged_version(contributor)
    staged_version(contributor)
    request_a = services.promotion_request(actor=contributor, model_name="churn-predictor", version=1)
    request_b = services.promotion_request(actor=contributor, model_name="churn-predictor", version=2)
    a = api(approver)
    assert approve(a, request_b.pk).status_code == 200
    assert stage_of(2) == "production"
    events_before = Event.objects.count()

    r = approve(a, request_a.pk, comment="also this one")

    assert r.status_code == 409, r.json()
    assert r.json()["error"]["code"] == "promotion_stale"
    assert stage_of(2) == "production" and stage_of(1) == "staging"
    assert list(ModelVersion.objects.filter(stage="production").values_list("version", flat=True)) == [2]
    request_a.refresh_from_db()
    assert request_a.status == "pending"
    assert not request_a.decisions.exists()
    assert StageTransition.objects.filter(to_stage="production").count() == 1
    assert Event.objects.count() == events_before

    # The way out the message points at: cancel the stale request and file a fresh one.
    c = api(contributor)
    assert c.post(f"/api/v1/promotions/{request_a.pk}/cancel/", {}, format="json").status_code == 200
    r = c.post("/api/v1/promotions/", {"model": "churn-predictor", "version": 1}, format="json")
    assert r.status_code == 201, r.json()
    assert approve(a, r.json()["id"]).status_code == 200
    assert stage_of(1) == "production" and stage_of(2) == "archived"


def test_filing_again_supersedes_a_stale_request_but_not_a_current_one(api, registered_model, contributor, approver):
    staged_version(contributor)
    staged_version(contributor)
    stale = services.promotion_request(actor=contributor, model_name="churn-predictor", version=1)
    c = api(contributor)
    r = c.post("/api/v1/promotions/", {"model": "churn-predictor", "version": 1}, format="json")
    assert r.status_code == 409 and r.json()["error"]["code"] == "promotion_already_pending"

    request_b = services.promotion_request(actor=contributor, model_name="churn-predictor", version=2)
    services.promotion_approve(actor=approver, request_id=request_b.pk)
    r = c.post("/api/v1/promotions/", {"model": "churn-predictor", "version": 1}, format="json")

    assert r.status_code == 201, r.json()
    stale.refresh_from_db()
    assert stale.status == "cancelled"
    assert Event.objects.filter(type="promotion.cancelled", payload__promotion_request=stale.pk).count() == 1
    assert approve(api(approver), r.json()["id"]).status_code == 200
    assert stage_of(1) == "production" and stage_of(2) == "archived"


def test_request_filed_while_v1_in_production_goes_stale_after_a_rollback(api, registered_model, contributor, approver):
    promote(contributor, approver)
    promote(contributor, approver)  # v2 production, v1 archived
    staged_version(contributor)  # v3
    request = services.promotion_request(actor=contributor, model_name="churn-predictor", version=3)
    services.model_rollback(actor=approver, model_name="churn-predictor", reason="v2 misbehaves")

    r = approve(api(approver), request.pk)

    assert r.status_code == 409 and r.json()["error"]["code"] == "promotion_stale"
    assert stage_of(1) == "production" and stage_of(3) == "staging"


# --- Gate override ---------------------------------------------------------------------


def test_failing_gate_needs_an_override_reason_which_is_recorded(api, registered_model, contributor, approver):
    staged_version(contributor, schema=[])  # no input schema: serving_schema fails
    r = api(contributor).post("/api/v1/promotions/", {"model": "churn-predictor", "version": 1}, format="json")
    assert r.status_code == 201
    filed = r.json()
    assert filed["gate"]["passed"] is False
    assert {c["name"]: c["status"] for c in filed["gate"]["checks"]}["serving_schema"] == "fail"
    request_id = filed["id"]
    a = api(approver)
    events_before = Event.objects.count()

    for body in ({"comment": "ship it"}, {"comment": "ship it", "override_reason": "   "}):
        r = approve(a, request_id, **body)
        assert r.status_code == 422, r.json()
        assert r.json()["error"]["code"] == "gate_failed"
        assert "serving_schema" in r.json()["error"]["details"]["failing_checks"]
    assert stage_of(1) == "staging"
    assert PromotionRequest.objects.get(pk=request_id).status == "pending"
    assert not PromotionDecision.objects.filter(request_id=request_id).exists()
    assert Event.objects.count() == events_before

    reason = "Schema is enforced by the upstream feature service; ticket OPS-12."
    r = approve(a, request_id, comment="ship it", override_reason=reason)

    assert r.status_code == 200, r.json()
    assert r.json()["status"] == "approved"
    assert r.json()["decisions"][0]["override_reason"] == reason
    assert stage_of(1) == "production"
    decision = PromotionDecision.objects.get(request_id=request_id)
    assert decision.override_reason == reason and decision.approver == approver
    assert decision.gate["passed"] is False
    assert "serving_schema" in decision.gate["failing"]
    stored = {c["name"]: c for c in decision.gate["checks"]}
    assert stored["serving_schema"]["status"] == "fail"
    assert "No input schema" in stored["serving_schema"]["evidence"]
    overridden = Event.objects.get(type="gate.overridden")
    assert overridden.actor == approver and overridden.model_name == "churn-predictor" and overridden.version == 1
    assert overridden.payload["override_reason"] == reason
    assert overridden.payload["promotion_request"] == request_id
    assert "serving_schema" in overridden.payload["failing_checks"]


def test_override_reason_is_not_recorded_when_the_gate_passes(api, registered_model, contributor, approver):
    staged_version(contributor)
    request = services.promotion_request(actor=contributor, model_name="churn-predictor", version=1)
    r = approve(api(approver), request.pk, override_reason="just in case")
    assert r.status_code == 200
    assert PromotionDecision.objects.get(request=request).override_reason == ""
    assert PromotionDecision.objects.get(request=request).gate["passed"] is True
    assert not Event.objects.filter(type="gate.overridden").exists()
