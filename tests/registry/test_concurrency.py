"""Races against the real threaded live server: many clients at the same instant,
committed data, PostgreSQL row locks doing the serialising."""

import threading

import requests

from control_plane.models import Event, IdempotencyRecord
from control_plane.tokens import token_create
from registry import services
from registry.models import ModelVersion, PromotionDecision, PromotionRequest, RegisteredModel, StageTransition
from tests.conftest import SCHEMA, staged_version


def run_together(n: int, call):
    """Run call(i) for i in 0..n-1 in n threads released at the same moment by a barrier."""
    barrier = threading.Barrier(n)
    results: list = [None] * n
    failures: list = []

    def worker(i):
        try:
            barrier.wait(timeout=20)
            results[i] = call(i)
        except Exception as exc:  # surfaced below, with the thread it came from
            failures.append((i, exc))

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert not any(t.is_alive() for t in threads), "a request thread hung"
    assert not failures, failures
    return results


def bearer(user) -> dict:
    return {"Authorization": f"Bearer {token_create(actor=user, owner=user, name='race').secret}"}


def post(url, headers, body):
    """(status, parsed JSON or the raw text when it is not JSON, e.g. a 500 page, headers)."""
    r = requests.post(url, json=body, headers=headers, timeout=60)
    try:
        data = r.json()
    except ValueError:
        data = r.text[:500]
    return r.status_code, data, r.headers


def test_ten_concurrent_registrations_get_versions_1_to_10(live_server, contributor):
    services.model_create(actor=contributor, name="race-register")
    headers = bearer(contributor)
    url = f"{live_server.url}/api/v1/models/race-register/versions/"

    results = run_together(
        10, lambda i: post(url, headers, {"source": f"runs:/run{i}/model", "input_schema": SCHEMA})
    )

    assert [status for status, _, _ in results] == [201] * 10, [body for _, body, _ in results]
    assert sorted(body["version"] for _, body, _ in results) == list(range(1, 11))
    rows = ModelVersion.objects.filter(model__name="race-register")
    assert sorted(rows.values_list("version", flat=True)) == list(range(1, 11))
    # Each answer names the row that was really written for that request.
    assert {body["source"]: body["version"] for _, body, _ in results} == dict(rows.values_list("source", "version"))
    assert RegisteredModel.objects.get(name="race-register").last_version == 10
    assert Event.objects.filter(type="version.registered", model_name="race-register").count() == 10


def test_two_concurrent_approvals_leave_exactly_one_production_version(live_server, contributor, approver, approver2):
    services.model_create(actor=contributor, name="race-approve")
    staged_version(contributor, "race-approve")
    staged_version(contributor, "race-approve")
    requests_ = [
        services.promotion_request(actor=contributor, model_name="race-approve", version=v) for v in (1, 2)
    ]
    headers = [bearer(approver), bearer(approver2)]

    results = run_together(
        2,
        lambda i: post(
            f"{live_server.url}/api/v1/promotions/{requests_[i].pk}/approve/", headers[i], {"comment": f"go {i}"}
        ),
    )

    statuses = [status for status, _, _ in results]
    assert sorted(statuses) == [200, 409], [(status, body) for status, body, _ in results]
    winner, loser = (0, 1) if statuses[0] == 200 else (1, 0)
    assert results[winner][1]["status"] == "approved"
    assert results[loser][1]["error"]["code"] == "promotion_stale"

    production = ModelVersion.objects.filter(model__name="race-approve", stage="production")
    assert production.count() == 1
    assert production.get().version == winner + 1
    assert ModelVersion.objects.get(model__name="race-approve", version=loser + 1).stage == "staging"
    assert StageTransition.objects.filter(model__name="race-approve", to_stage="production").count() == 1
    won, lost = (PromotionRequest.objects.get(pk=requests_[i].pk) for i in (winner, loser))
    assert won.status == "approved"
    # The loser's transaction rolled back whole: no decision, request still pending.
    assert lost.status == "pending"
    assert not PromotionDecision.objects.filter(request=lost).exists()
    assert Event.objects.filter(type="promotion.approved", model_name="race-approve").count() == 1


def test_ten_concurrent_retries_with_one_idempotency_key_create_one_version(live_server, contributor):
    services.model_create(actor=contributor, name="race-idem")
    headers = bearer(contributor) | {"Idempotency-Key": "ci-run-42-register"}
    url = f"{live_server.url}/api/v1/models/race-idem/versions/"
    body = {"source": "runs:/run42/model", "input_schema": SCHEMA}

    results = run_together(10, lambda i: post(url, headers, body))

    assert [status for status, _, _ in results] == [201] * 10, [b for _, b, _ in results]
    assert {b["version"] for _, b, _ in results} == {1}
    assert sum(h.get("Idempotent-Replayed") == "true" for _, _, h in results) == 9
    assert list(ModelVersion.objects.filter(model__name="race-idem").values_list("version", flat=True)) == [1]
    assert RegisteredModel.objects.get(name="race-idem").last_version == 1
    assert IdempotencyRecord.objects.filter(key="ci-run-42-register").count() == 1
    assert Event.objects.filter(type="version.registered", model_name="race-idem").count() == 1
