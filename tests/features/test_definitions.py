"""Definitions: apply plans then changes, twice changes nothing, every bad field named,
query sources for admins only, table sources only in allowed schemas."""

import io

import psycopg
import pytest
import yaml
from django.core.management import call_command
from django.db import connection

from features import sources
from features.models import Entity, FeatureService, FeatureView

from .conftest import DOCUMENT, document

pytestmark = pytest.mark.django_db


def test_apply_twice_changes_nothing_the_second_time(api, contributor):
    client = api(contributor)
    first = client.post("/api/v1/features/apply/", DOCUMENT, format="json")
    assert first.status_code == 200, first.content
    assert [(p["kind"], p["action"]) for p in first.json()["plan"]] == [
        ("entity", "create"), ("feature_view", "create"), ("feature_service", "create")]
    second = client.post("/api/v1/features/apply/", DOCUMENT, format="json")
    assert second.json()["changed"] == 0
    assert {p["action"] for p in second.json()["plan"]} == {"unchanged"}
    assert FeatureService.objects.filter(name="churn").count() == 1
    view = FeatureView.objects.get(name="user_stats")
    assert view.ttl_seconds == 86400 and view.entity.name == "user"


def test_push_view_gets_a_typed_table_with_the_pit_index(api, contributor, settings):
    api(contributor).post("/api/v1/features/apply/", DOCUMENT, format="json")
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT column_name, data_type FROM information_schema.columns WHERE table_schema = %s AND table_name = %s",
            [settings.FEATURE_PUSH_SCHEMA, "fv_user_stats"],
        )
        columns = dict(cursor.fetchall())
        cursor.execute("SELECT indexdef FROM pg_indexes WHERE schemaname = %s AND indexname = 'fv_user_stats_pit'",
                       [settings.FEATURE_PUSH_SCHEMA])
        index = cursor.fetchone()[0]
    assert columns["user_id"] == "bigint" and columns["age"] == "bigint" and columns["spend"] == "double precision"
    assert columns["plan"] == "text" and columns["active"] == "boolean"
    assert columns["event_timestamp"] == "timestamp with time zone"
    assert "(user_id, event_timestamp, created_timestamp, id)" in index


def test_changed_service_is_a_new_version_and_the_old_one_stays(api, contributor):
    client = api(contributor)
    client.post("/api/v1/features/apply/", DOCUMENT, format="json")
    changed = document(feature_services=[{"name": "churn", "features": ["user_stats:age"], "on_missing": "null"}])
    answer = client.post("/api/v1/features/apply/?dry_run=true", changed, format="json").json()
    assert answer["applied"] is False and answer["plan"][-1]["action"] == "new_version"
    assert FeatureService.objects.filter(name="churn").count() == 1
    client.post("/api/v1/features/apply/", changed, format="json")
    detail = client.get("/api/v1/features/services/churn/").json()
    assert [v["version"] for v in detail["versions"]] == [2, 1]
    assert detail["features"] == ["user_stats:age"] and detail["versions"][1]["features"][0] == "user_stats:age"


def test_every_bad_field_is_named(api, contributor):
    bad = document(feature_views=[{
        "name": "Bad-Name", "entity": "user", "features": [{"name": "age", "type": "decimal"}, {"name": "user_id", "type": "int"}],
        "source": {"kind": "table", "table": "x; drop table y"}, "ttl": "forever"}])
    answer = api(contributor).post("/api/v1/features/apply/", bad, format="json")
    assert answer.status_code == 422
    details = answer.json()["error"]["details"]
    for field in ("feature_views[0].name", "feature_views[0].features[0].type", "feature_views[0].source.table",
                  "feature_views[0].ttl", "feature_views[0].event_timestamp_column"):
        assert field in details, details
    assert not Entity.objects.exists()  # nothing half-written


def test_service_references_are_checked(api, contributor):
    bad = document(feature_services=[{"name": "s", "features": ["user_stats:nope", "ghost:age"]}])
    details = api(contributor).post("/api/v1/features/apply/", bad, format="json").json()["error"]["details"]
    assert "no feature 'nope'" in details["feature_services[0].features[0]"][0]
    assert "No feature view 'ghost'" in details["feature_services[0].features[1]"][0]


def test_query_sources_are_for_admins_only(api, contributor, admin):
    view = {"name": "q", "entity": "user", "features": [{"name": "age", "type": "int"}], "ttl": 60,
            "source": {"kind": "query", "query": "SELECT 1 AS user_id, now() AS ts, 2 AS age"},
            "event_timestamp_column": "ts"}
    doc = document(feature_views=[view], feature_services=[])
    assert api(contributor).post("/api/v1/features/apply/", doc, format="json").status_code == 403
    assert api(admin).post("/api/v1/features/apply/", doc, format="json").status_code == 200


def test_query_source_cannot_write(api, admin):
    view = {"name": "q", "entity": "user", "features": [{"name": "age", "type": "int"}], "ttl": 60,
            "source": {"kind": "query", "query": "SELECT 1 AS user_id, now() AS ts, 2 AS age; DROP TABLE auth_user"},
            "event_timestamp_column": "ts"}
    answer = api(admin).post("/api/v1/features/apply/", document(feature_views=[view], feature_services=[]), format="json")
    assert answer.status_code == 422
    writes = dict(view, source={"kind": "query", "query": "WITH d AS (DELETE FROM auth_user RETURNING id) "
                                "SELECT id AS user_id, now() AS ts, 1 AS age FROM d"})
    answer = api(admin).post("/api/v1/features/apply/", document(feature_views=[writes], feature_services=[]), format="json")
    assert answer.status_code == 422



def test_source_reads_run_read_only_with_a_timeout():
    source = sources.ViewSource("q", (("user_id", "int"),), (("age", "int"),), "query", "",
                                "SELECT nextval('auth_user_id_seq') AS age", "", "ts", "", 60)
    with sources.connect() as conn:
        with pytest.raises(psycopg.errors.ReadOnlySqlTransaction), sources.guard(conn, source):
            conn.execute("SELECT * FROM (SELECT nextval('auth_user_id_seq')) AS src WHERE %s", [True])
        with sources.guard(conn, source):
            assert conn.execute("SHOW statement_timeout").fetchone()[0] == "10min"
            assert conn.execute("SHOW transaction_read_only").fetchone()[0] == "on"


def test_table_sources_only_in_allowed_schemas(api, contributor):
    view = {"name": "t", "entity": "user", "features": [{"name": "age", "type": "int"}], "ttl": 60,
            "source": {"kind": "table", "table": "public.auth_user"}, "event_timestamp_column": "last_login"}
    answer = api(contributor).post("/api/v1/features/apply/", document(feature_views=[view], feature_services=[]), format="json")
    assert answer.status_code == 422
    assert "FEATURE_SOURCE_SCHEMAS" in answer.json()["error"]["details"]["feature_views[0].source.table"][0]


def test_viewers_cannot_apply(api, viewer):
    assert api(viewer).post("/api/v1/features/apply/", DOCUMENT, format="json").status_code == 403


def test_single_object_endpoints(api, contributor):
    client = api(contributor)
    created = client.post("/api/v1/features/entities/", DOCUMENT["entities"][0], format="json")
    assert created.status_code == 201
    assert client.post("/api/v1/features/entities/", DOCUMENT["entities"][0], format="json").status_code == 200
    assert client.get("/api/v1/features/entities/user/").json()["join_keys"] == [{"name": "user_id", "type": "int"}]
    assert client.get("/api/v1/features/entities/").json()["count"] == 1
    assert client.get("/api/v1/features/views/nope/").status_code == 404


def test_yaml_body_and_management_command(api, contributor, tmp_path):
    text = yaml.safe_dump(DOCUMENT)
    answer = api(contributor).generic("POST", "/api/v1/features/apply/", text, content_type="application/yaml")
    assert answer.status_code == 200 and answer.json()["changed"] == 3
    path = tmp_path / "definitions.yaml"
    path.write_text(text)
    out = io.StringIO()
    call_command("features", "apply", str(path), stdout=out)
    assert out.getvalue().endswith("3 definition(s), 0 changed.\n")
    changed = document()
    changed["feature_views"][0]["ttl"] = "2d"
    path.write_text(yaml.safe_dump(changed))
    out = io.StringIO()
    call_command("features", "apply", str(path), stdout=out)
    assert "~ feature_view user_stats: update" in out.getvalue() and "ttl_seconds: 86400 -> 172800" in out.getvalue()


def test_join_keys_of_an_entity_in_use_cannot_change(api, contributor):
    client = api(contributor)
    client.post("/api/v1/features/apply/", DOCUMENT, format="json")
    changed = {"entities": [{"name": "user", "join_keys": [{"name": "user_id", "type": "string"}]}]}
    answer = client.post("/api/v1/features/apply/", changed, format="json")
    assert answer.status_code == 409 and answer.json()["error"]["details"]["join_keys"] == ["user_stats"]
    assert Entity.objects.get(name="user").join_keys == [{"name": "user_id", "type": "int"}]


def test_a_dry_run_flag_that_is_not_true_or_false_is_refused_and_nothing_changes(api, contributor):
    """Found by the schemathesis contract test: `?dry_run=null` applied the document."""
    response = api(contributor).post("/api/v1/features/apply/?dry_run=null", DOCUMENT, format="json")
    assert response.status_code == 422 and "dry_run" in response.json()["error"]["details"]
    assert not Entity.objects.exists()
    planned = api(contributor).post("/api/v1/features/apply/?dry_run=true", DOCUMENT, format="json")
    assert planned.status_code == 200 and planned.json()["applied"] is False and not Entity.objects.exists()


def test_a_historical_request_whose_body_is_not_an_object_is_a_4xx(api, contributor):
    """Found by the schemathesis contract test: a JSON list body answered 500."""
    response = api(contributor).post("/api/v1/features/historical/", [None, None], format="json")
    assert response.status_code == 422 and "body" in response.json()["error"]["details"]


def test_what_the_document_lacks_is_planned_as_delete_and_deleted(api, contributor, registered_model):
    from tests.conftest import register_version

    client = api(contributor)
    extra = document(feature_services=DOCUMENT["feature_services"] + [{"name": "spare", "features": ["user_stats:age"]}])
    extra["feature_views"].append({**DOCUMENT["feature_views"][0], "name": "old_stats", "schedule": "*/5 * * * *"})
    assert client.post("/api/v1/features/apply/", extra, format="json").status_code == 200
    task = FeatureView.objects.get(name="old_stats").periodic_task
    assert task is not None
    kept = client.post("/api/v1/features/apply/?keep_missing=true", DOCUMENT, format="json").json()
    assert kept["changed"] == 0 and FeatureView.objects.filter(name="old_stats").exists()
    planned = client.post("/api/v1/features/apply/?dry_run=true", DOCUMENT, format="json").json()
    deletes = [(p["kind"], p["name"]) for p in planned["plan"] if p["action"] == "delete"]
    assert deletes == [("feature_service", "spare"), ("feature_view", "old_stats")]
    assert FeatureView.objects.filter(name="old_stats").exists()  # a dry run deletes nothing
    # A service a model version names is never deleted: 409 naming the model version, nothing changed.
    version = register_version(contributor)
    version.tags = {**version.tags, "features.service": "spare:1"}
    version.save(update_fields=["tags"])
    refused = client.post("/api/v1/features/apply/", DOCUMENT, format="json")
    assert refused.status_code == 409 and refused.json()["error"]["code"] == "feature_service_in_use"
    assert registered_model.name in refused.json()["error"]["message"]
    assert FeatureView.objects.filter(name="old_stats").exists()
    version.tags = {k: v for k, v in version.tags.items() if k != "features.service"}
    version.save(update_fields=["tags"])
    applied = client.post("/api/v1/features/apply/", DOCUMENT, format="json").json()
    assert applied["changed"] == 2
    assert not FeatureView.objects.filter(name="old_stats").exists()
    assert not FeatureService.objects.filter(name="spare").exists()
    from django_celery_beat.models import PeriodicTask

    assert not PeriodicTask.objects.filter(pk=task.pk).exists()
    assert client.post("/api/v1/features/apply/", DOCUMENT, format="json").json()["changed"] == 0


def test_an_entity_its_views_still_use_cannot_be_dropped(api, contributor):
    client = api(contributor)
    client.post("/api/v1/features/apply/", DOCUMENT, format="json")
    without_entity = document(entities=[])
    answer = client.post("/api/v1/features/apply/", without_entity, format="json")
    assert answer.status_code == 422 and "user" in answer.json()["error"]["message"]
    assert Entity.objects.filter(name="user").exists()
