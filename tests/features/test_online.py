"""The online store: values, statuses and event times; the TTL enforced on read (one
second past it is outside_ttl); newer-wins under concurrent pushes; the client in
process and over HTTP."""

import json
import threading
from datetime import timedelta

import pytest
from django.utils import timezone

from features import online
from features.client import FeatureStore, FeatureStoreError
from features.services import definitions_apply, push_rows
from tests.wsgi_call import wsgi

from .conftest import DOCUMENT

FEATURES = ["user_stats:age", "user_stats:spend", "user_stats:plan", "user_stats:active"]


@pytest.fixture
def views(db, contributor):
    definitions_apply(actor=contributor, document=DOCUMENT)


def _row(user_id, at, created=None, **values):
    row = {"user_id": user_id, "event_timestamp": at.isoformat(), **values}
    if created is not None:
        row["created_timestamp"] = created.isoformat()
    return row


def test_values_statuses_and_ttl_on_read(views, contributor, api, viewer):
    now = timezone.now()
    day = timedelta(days=1)
    result = push_rows(actor=contributor, view_name="user_stats", rows=[
        _row(1, now - timedelta(hours=1), age=41, spend=12.5, plan="pro", active=True),
        _row(2, now - day - timedelta(seconds=1), age=30, spend=1.0, plan="free", active=False),  # 1 s past the TTL
        _row(3, now - day + timedelta(seconds=30), age=None, plan="free"),  # inside, with nulls
    ])
    assert (result.offline, result.online) == (3, 3)
    answer = api(viewer, read_only=True).post(
        "/api/v1/features/online/", {"features": FEATURES, "entities": [{"user_id": u} for u in (1, 2, 3, 4)]}, format="json")
    assert answer.status_code == 200, answer.content
    rows = answer.json()["results"]
    assert rows[0]["values"] == {"age": 41, "spend": 12.5, "plan": "pro", "active": True}
    assert set(rows[0]["statuses"].values()) == {"present"}
    assert rows[0]["event_timestamps"]["age"] == (now - timedelta(hours=1)).isoformat()
    assert rows[1]["values"] == {"age": None, "spend": None, "plan": None, "active": None}
    assert set(rows[1]["statuses"].values()) == {"outside_ttl"}
    assert rows[2]["values"] == {"age": None, "spend": None, "plan": "free", "active": None}
    assert set(rows[2]["statuses"].values()) == {"present"}
    assert set(rows[3]["statuses"].values()) == {"not_found"} and rows[3]["event_timestamps"]["age"] is None


def test_online_reads_take_the_lean_handler_and_answer_like_the_full_stack(views, contributor, api, viewer, lean_paths):
    now = timezone.now()
    push_rows(actor=contributor, view_name="user_stats", rows=[
        _row(1, now - timedelta(hours=1), age=41, spend=12.5, plan="pro", active=True)])
    client = api(viewer, read_only=True)
    body = {"features": FEATURES, "entities": [{"user_id": 1}, {"user_id": 9}]}
    full = client.post("/api/v1/features/online/", body, format="json").json()

    status, headers, content = wsgi("POST", "/api/v1/features/online/", json.dumps(body).encode(),
                                    authorization=f"Bearer {client.token}", x_request_id="online-1")
    assert status == "200 OK", content
    assert json.loads(content) == full
    assert full["results"][0]["values"]["age"] == 41 and set(full["results"][1]["statuses"].values()) == {"not_found"}
    assert headers["X-Request-ID"] == "online-1" and "Set-Cookie" not in headers

    refused = wsgi("POST", "/api/v1/features/online/", json.dumps(body).encode())
    assert refused[0].startswith("401") or refused[0].startswith("403"), refused
    assert json.loads(refused[2])["error"]["code"]
    unknown = wsgi("POST", "/api/v1/features/online/", json.dumps({"features": ["user_stats:nope"], "entities": [{"user_id": 1}]}).encode(),
                   authorization=f"Bearer {client.token}")
    assert unknown[0].startswith("4") and "user_stats" in json.loads(unknown[2])["error"]["details"]
    assert lean_paths == ["/api/v1/features/online/"] * 3


def test_ttl_edge_exactly(views, contributor):
    """At exactly the TTL the value is still served (the offline rule is inclusive too)."""
    from features.online_reads import online_read
    from features.resolve import resolve

    at = timezone.now() - timedelta(hours=2)
    push_rows(actor=contributor, view_name="user_stats", rows=[_row(7, at, age=5)])
    resolved = resolve(features=["user_stats:age"])
    edge = online.micros(at + timedelta(days=1))
    assert online_read(resolved, [{"user_id": 7}], now_us=edge)[0].statuses["age"] == "present"
    assert online_read(resolved, [{"user_id": 7}], now_us=edge + 1)[0].statuses["age"] == "outside_ttl"


def test_an_older_late_row_never_replaces_a_newer_one(views, contributor):
    base = timezone.now() - timedelta(hours=3)
    push_rows(actor=contributor, view_name="user_stats", rows=[_row(9, base + timedelta(hours=1), age=2)])
    result = push_rows(actor=contributor, view_name="user_stats", rows=[_row(9, base, age=1)])
    assert (result.offline, result.online) == (1, 0)
    # A correction: same event time, later created time, replaces it.
    push_rows(actor=contributor, view_name="user_stats",
              rows=[_row(9, base + timedelta(hours=1), created=timezone.now() + timedelta(seconds=5), age=3)])
    got = FeatureStore().get_online_features(features=["user_stats:age"], entity_rows=[{"user_id": 9}]).to_dict()
    assert got == {"user_id": [9], "age": [3]}


@pytest.mark.django_db(transaction=True)
def test_concurrent_pushes_keep_the_newest(contributor, drop_schemas):
    """8 threads push the same 50 keys with shuffled event times; online ends with each
    key's newest row, whatever order the pushes landed in."""
    import random

    definitions_apply(actor=contributor, document=DOCUMENT)
    base = timezone.now() - timedelta(hours=5)
    versions = list(range(40))
    errors = []

    def pusher(seed):
        order = versions[:]
        random.Random(seed).shuffle(order)
        try:
            for v in order[:20] if seed % 2 else order:
                push_rows(actor=contributor, view_name="user_stats",
                          rows=[_row(u, base + timedelta(minutes=v), age=v) for u in range(50)])
        except Exception as exc:  # noqa: BLE001 - reported below
            errors.append(exc)
        finally:
            from django.db import connection

            connection.close()

    threads = [threading.Thread(target=pusher, args=(seed,)) for seed in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    got = FeatureStore().get_online_features(features=["user_stats:age"], entity_rows=[{"user_id": u} for u in range(50)])
    assert got.to_dict()["age"] == [39] * 50


def test_bad_requests_are_named(views, api, viewer, contributor):
    client = api(viewer)
    cases = [
        ({"features": ["user_stats:nope"], "entities": [{"user_id": 1}]}, "user_stats"),
        ({"features": ["user_stats:age"], "entities": [{"user": 1}]}, "entities[0].user_id"),
        ({"features": ["user_stats:age"], "entities": [{"user_id": "1"}]}, "entities[0].user_id"),
        ({"feature_service": "ghost", "entities": [{"user_id": 1}]}, None),
        ({"features": ["user_stats:age"], "feature_service": "churn", "entities": [{"user_id": 1}]}, "features"),
    ]
    for body, field in cases:
        answer = client.post("/api/v1/features/online/", body, format="json")
        assert answer.status_code in (404, 422), (body, answer.content)
        if field:
            assert field in answer.json()["error"]["details"], (body, answer.json())
    push = api(contributor).post("/api/v1/features/push/", {"view": "user_stats", "rows": [
        {"user_id": 1, "event_timestamp": "2026-01-01T00:00:00Z", "age": "old", "color": "red"}]}, format="json")
    assert push.status_code == 422
    assert {"rows[0].age", "rows[0].color"} <= set(push.json()["error"]["details"])
    assert api(viewer).post("/api/v1/features/push/", {"view": "user_stats", "rows": [{}]}, format="json").status_code == 403


def test_feature_service_and_client_over_http(live_server, contributor, api, drop_schemas):
    definitions_apply(actor=contributor, document=DOCUMENT)
    push_rows(actor=contributor, view_name="user_stats", rows=[_row(5, timezone.now() - timedelta(minutes=5), age=50,
                                                                        spend=2.0, plan="pro")])
    token = api(contributor).token
    store = FeatureStore(url=live_server.url, token=token)
    got = store.get_online_features(feature_service="churn", entity_rows=[{"user_id": 5}, {"user_id": 6}])
    assert got.to_dict() == {"user_id": [5, 6], "age": [50, None], "spend": [2.0, None], "plan": ["pro", None]}
    assert got.statuses()["age"] == ["present", "not_found"]
    local = FeatureStore().get_online_features(feature_service="churn", entity_rows=[{"user_id": 5}, {"user_id": 6}])
    assert local.to_dict() == got.to_dict()
    with pytest.raises(FeatureStoreError) as refused:
        store.get_online_features(features=["ghost:x"], entity_rows=[{"user_id": 5}])
    assert refused.value.status == 422
