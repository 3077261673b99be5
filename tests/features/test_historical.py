"""Point-in-time retrieval against the plain-pandas oracle, row for row, on data with
corrections (same key and event time, later created time), exact ties, exact TTL edges,
keys before any row, unknown keys and duplicates; a push view and a table view at once."""

import io

import numpy as np
import pandas as pd
import pytest
from django.conf import settings
from django.db import connection

from features.services import definitions_apply, push_rows

from .conftest import DOCUMENT, document
from .oracle import mismatches, oracle

pytestmark = pytest.mark.usefixtures("drop_schemas")

BASE = pd.Timestamp("2026-01-01T00:00:00Z")
TTL = pd.Timedelta(hours=6)
MINUTE = pd.Timedelta(minutes=1)


def _grid(rng, n, step=30):
    return BASE + pd.to_timedelta(rng.integers(0, 48, n) * step, unit="m")


def _push_data(rng):
    n = 400
    frame = pd.DataFrame({
        "user_id": rng.integers(1, 31, n),
        "event_ts": _grid(rng, n),
        "created_ts": BASE + pd.to_timedelta(rng.integers(0, 3, n), unit="h"),  # many exact ties
        "age": rng.integers(18, 90, n).astype(object),
        "spend": rng.normal(50, 10, n).round(3),
        "plan": rng.choice(["free", "pro", ""], n),
        "active": rng.choice([True, False], n),
    })
    frame.loc[rng.random(n) < 0.1, "age"] = None  # a null in the chosen row stays null
    frame.loc[rng.random(n) < 0.1, "spend"] = np.nan
    frame["seq"] = np.arange(n)
    return frame


def _entity_frame(rng, rows):
    n = 300
    entities = pd.DataFrame({"user_id": rng.integers(0, 36, n), "event_timestamp": _grid(rng, n) + TTL / 2})
    edges = rows.sample(40, random_state=1)
    exact = pd.DataFrame({"user_id": edges["user_id"], "event_timestamp": edges["event_ts"]})  # t == event_ts
    at_ttl = pd.DataFrame({"user_id": edges["user_id"], "event_timestamp": edges["event_ts"] + TTL})  # t - ttl == event_ts
    past_ttl = pd.DataFrame({"user_id": edges["user_id"], "event_timestamp": edges["event_ts"] + TTL + pd.Timedelta(microseconds=1)})
    early = pd.DataFrame({"user_id": [1, 2], "event_timestamp": [BASE - MINUTE, BASE - pd.Timedelta(days=3)]})
    frame = pd.concat([entities, exact, at_ttl, past_ttl, early], ignore_index=True)
    frame = pd.concat([frame, frame.iloc[[0, 5, 5, 17]]], ignore_index=True)  # duplicates kept, in place
    frame["label"] = np.arange(len(frame)) % 2  # an extra column, kept as it is
    return frame


@pytest.fixture
def store(contributor, admin):
    rng = np.random.default_rng(12)
    doc = document()
    doc["feature_views"][0]["ttl"] = "6h"
    definitions_apply(actor=contributor, document=doc)
    pushed = _push_data(rng)
    records = []
    for row in pushed.itertuples():
        records.append({"user_id": int(row.user_id), "event_timestamp": row.event_ts.isoformat(),
                        "created_timestamp": row.created_ts.isoformat(), "age": None if row.age is None else int(row.age),
                        "spend": None if np.isnan(row.spend) else float(row.spend), "plan": row.plan, "active": bool(row.active)})
    push_rows(actor=contributor, view_name="user_stats", rows=records)
    schema = settings.FEATURE_SOURCE_SCHEMAS[0]
    table = _table_rows(rng)
    with connection.cursor() as cursor:
        cursor.execute(f'CREATE SCHEMA "{schema}"')
        cursor.execute(f'CREATE TABLE "{schema}".scores (user_id bigint, ts timestamptz, created timestamptz, score double precision)')
        with cursor.copy(f'COPY "{schema}".scores FROM STDIN') as copy:
            for row in table.itertuples():
                copy.write_row((int(row.user_id), row.event_ts, None if pd.isna(row.created_ts) else row.created_ts, row.score))
    definitions_apply(actor=contributor, document={"feature_views": [{
        "name": "scores", "entity": "user", "features": [{"name": "score", "type": "float"}], "ttl": "3h",
        "source": {"kind": "table", "table": f"{schema}.scores"}, "event_timestamp_column": "ts",
        "created_timestamp_column": "created"}]})
    return pushed, table, _entity_frame(rng, pushed)


def _table_rows(rng):
    n = 300
    frame = pd.DataFrame({"user_id": rng.integers(1, 31, n), "event_ts": _grid(rng, n, step=60)})
    # Same key and event time: corrections with distinct created times, or none (the smallest).
    frame["created_ts"] = BASE + pd.to_timedelta(np.arange(n), unit="s")
    frame.loc[rng.random(n) < 0.15, "created_ts"] = pd.NaT
    frame = frame.drop_duplicates(["user_id", "event_ts"], keep="first").pipe(
        lambda f: pd.concat([f, f.assign(created_ts=f["created_ts"].fillna(BASE) + pd.Timedelta(hours=1)).iloc[::4]]))
    frame["score"] = rng.random(len(frame)).round(6)
    frame["seq"] = np.arange(len(frame))
    return frame.reset_index(drop=True)


def _ask(client, frame, **fields):
    buffer = io.BytesIO()
    frame.to_parquet(buffer, index=False)
    buffer.seek(0)
    buffer.name = "entities.parquet"
    answer = client.post("/api/v1/features/historical/", {"file": buffer, **fields}, format="multipart")
    assert answer.status_code == 200, answer.content if not answer.streaming else ""
    body = b"".join(answer.streaming_content)
    return pd.read_parquet(io.BytesIO(body)) if fields.get("format", "parquet") == "parquet" else pd.read_csv(io.BytesIO(body))


def test_matches_the_oracle_row_for_row(store, api, viewer):
    pushed, table, entities = store
    got = _ask(api(viewer, read_only=True), entities,
               features="user_stats:age,user_stats:spend,user_stats:plan,user_stats:active,scores:score")
    assert len(got) == len(entities)
    assert got["user_id"].tolist() == entities["user_id"].tolist()  # input order, duplicates kept
    assert got["label"].tolist() == entities["label"].tolist()
    push_features = ["age", "spend", "plan", "active"]
    expected = oracle(entities, pushed, key="user_id", ttl=TTL, features=push_features)
    assert mismatches(got, expected, push_features) == []
    expected = oracle(entities, table, key="user_id", ttl=pd.Timedelta(hours=3), features=["score"])
    assert mismatches(got, expected, ["score"]) == []
    # The data really had the tricky cases the oracle decides.
    assert got["age"].isna().sum() > 0 and got["age"].notna().sum() > 50
    assert pushed.duplicated(["user_id", "event_ts", "created_ts"]).any()
    assert table.duplicated(["user_id", "event_ts"]).any()


def test_csv_small_chunks_and_a_feature_service(store, api, viewer, settings):
    pushed, _, entities = store
    settings.FEATURE_HISTORICAL_CHUNK_ROWS = 37  # many chunks: the stream is stitched in order
    got = _ask(api(viewer), entities, feature_service="churn", format="csv")
    assert list(got.columns) == ["user_id", "event_timestamp", "label", "age", "spend", "plan"]
    expected = oracle(entities, pushed, key="user_id", ttl=TTL, features=["age", "spend"])
    assert mismatches(got, expected, ["age", "spend"]) == []


def test_server_path_must_be_under_the_roots(store, api, viewer, tmp_path, settings):
    _, _, entities = store
    settings.FEATURE_DATA_ROOTS = [tmp_path]
    entities.to_csv(tmp_path / "entities.csv", index=False)
    client = api(viewer)
    answer = client.post("/api/v1/features/historical/", {"path": str(tmp_path / "entities.csv"),
                         "features": ["scores:score"], "format": "csv"}, format="json")
    assert answer.status_code == 200
    assert len(pd.read_csv(io.BytesIO(b"".join(answer.streaming_content)))) == len(entities)
    refused = client.post("/api/v1/features/historical/", {"path": "/etc/passwd", "features": ["scores:score"]}, format="json")
    assert refused.status_code == 422 and refused.json()["error"]["code"] == "path_not_allowed"


def test_bad_frames_are_named(store, api, viewer):
    _, _, entities = store
    client = api(viewer)
    for frame, field in (
        (entities.drop(columns=["event_timestamp"]), "event_timestamp"),
        (entities.assign(user_id="x"), "user_id"),
        (entities.assign(event_timestamp="not a time"), "event_timestamp"),
    ):
        buffer = io.BytesIO(frame.to_csv(index=False).encode())
        buffer.name = "e.csv"
        answer = client.post("/api/v1/features/historical/", {"file": buffer, "features": "scores:score"}, format="multipart")
        assert answer.status_code == 422 and field in answer.json()["error"]["details"], answer.content


def test_query_sources_join_and_run_read_only(store, api, admin, viewer, settings):
    _, table, entities = store
    schema = settings.FEATURE_SOURCE_SCHEMAS[0]
    client = api(admin)
    view = {"name": "doubled", "entity": "user", "ttl": "3h", "features": [{"name": "twice", "type": "float"}],
            "source": {"kind": "query", "query": f'SELECT user_id, ts, created, score * 2 AS twice FROM "{schema}".scores'},
            "event_timestamp_column": "ts", "created_timestamp_column": "created"}
    assert client.post("/api/v1/features/views/", view, format="json").status_code == 201
    got = _ask(api(viewer), entities, features="doubled:twice,scores:score")
    both = got.dropna(subset=["score"])
    assert len(both) > 50 and (abs(both["twice"] - 2 * both["score"]) < 1e-9).all()
    writes = dict(view, name="sneaky", source={"kind": "query", "query": "SELECT user_id, ts, created, "
                  "nextval('auth_user_id_seq')::float AS twice FROM \"" + schema + "\".scores"})
    assert client.post("/api/v1/features/views/", writes, format="json").status_code == 201  # LIMIT 0 probe runs nothing
    buffer = io.BytesIO(entities.to_csv(index=False).encode())
    buffer.name = "e.csv"
    answer = api(viewer).post("/api/v1/features/historical/", {"file": buffer, "features": "sneaky:twice"}, format="multipart")
    assert answer.status_code == 422 and "read-only transaction" in answer.json()["error"]["message"]
