"""File sources (Parquet under FEATURE_DATA_ROOTS, joined with DuckDB): the point-in-time
join against the same oracle as PostgreSQL sources, beside a push and a table view; a
backfill into the online store; paths outside the roots and unreadable columns refused."""

import pandas as pd
import pytest

from features import online
from features.client import FeatureStore
from features.online_reads import store as redis_store
from features.resolve import resolve
from features.models import MaterializationRun
from features.services import definitions_apply, materialization_execute, materialization_start

from .oracle import mismatches, oracle
from .test_historical import TTL, _ask, store  # noqa: F401 (the fixture)

pytestmark = pytest.mark.usefixtures("drop_schemas")

FEATURES = ["age", "spend", "plan", "active"]


def _file_view(path, **changes) -> dict:
    view = {"name": "stats_file", "entity": "user", "ttl": "6h",
            "features": [{"name": "f_" + f, "type": t} for f, t in
                         (("age", "int"), ("spend", "float"), ("plan", "string"), ("active", "bool"))],
            "source": {"kind": "file", "path": str(path)},
            "event_timestamp_column": "event_ts", "created_timestamp_column": "created_ts"}
    return {**view, **changes}


@pytest.fixture
def file_store(store, contributor, tmp_path, settings):  # noqa: F811
    """The pushed rows as a Parquet file. An exact (key, event, created) tie has no storage
    order in a file: the file holds the row the oracle picks among such ties (the later push)."""
    pushed, table, entities = store
    settings.FEATURE_DATA_ROOTS = [tmp_path]
    rows = pushed.drop_duplicates(["user_id", "event_ts", "created_ts"], keep="last")
    rows = rows.rename(columns={f: "f_" + f for f in FEATURES})
    rows["f_age"] = rows["f_age"].astype("Int64")
    rows.sample(frac=1, random_state=3).to_parquet(tmp_path / "stats.parquet", index=False)  # no order to rely on
    definitions_apply(actor=contributor, document={"feature_views": [_file_view(tmp_path / "stats.parquet")]})
    return pushed, table, entities


def test_file_view_matches_the_oracle_beside_postgres_views(file_store, api, viewer):
    pushed, table, entities = file_store
    got = _ask(api(viewer), entities, features="stats_file:f_age,stats_file:f_spend,stats_file:f_plan,"
               "stats_file:f_active,user_stats:age,scores:score")
    assert got["user_id"].tolist() == entities["user_id"].tolist()
    expected = oracle(entities, pushed, key="user_id", ttl=TTL, features=FEATURES)
    expected.columns = ["f_" + f for f in FEATURES]
    assert mismatches(got, expected, list(expected.columns)) == []
    assert got["f_age"].notna().sum() > 50 and got["f_age"].isna().sum() > 0
    # The PostgreSQL views of the same request answer the same rows as the file view.
    assert mismatches(got.rename(columns={"age": "age_pg"}), got.rename(columns={"f_age": "age_pg"}), ["age_pg"]) == []
    expected = oracle(entities, table, key="user_id", ttl=pd.Timedelta(hours=3), features=["score"])
    assert mismatches(got, expected, ["score"]) == []


def test_backfill_from_a_file_serves_the_newest_row_per_key(store, contributor, tmp_path, settings):  # noqa: F811
    """The rows moved to the last two days (online keys expire a week after their TTL)."""
    pushed, _, _ = store
    settings.FEATURE_DATA_ROOTS = [tmp_path]
    settings.FEATURE_MATERIALIZE_BATCH = 7  # many batches: the cursor moves over keys in order
    shift = pd.Timestamp.now(tz="UTC").floor("h") - pd.Timestamp("2026-01-03T00:00:00Z")
    rows = pushed.assign(event_ts=pushed["event_ts"] + shift, created_ts=pushed["created_ts"] + shift)
    rows = rows.drop_duplicates(["user_id", "event_ts", "created_ts"], keep="last")
    rows.rename(columns={f: "f_" + f for f in FEATURES}).astype({"f_age": "Int64"}).to_parquet(tmp_path / "s.parquet")
    definitions_apply(actor=contributor, document={"feature_views": [_file_view(tmp_path / "s.parquet")]})
    run = materialization_start(actor=None, view_name="stats_file", kind="backfill")
    materialization_execute(run.pk)  # a no-op when the eager worker already ran it
    run.refresh_from_db()
    assert run.status == MaterializationRun.Status.SUCCEEDED, run.error
    keys = sorted(rows["user_id"].unique().tolist())
    assert run.keys_written == len(keys) == run.keys_total
    lowest = pd.Timestamp.min.tz_localize("UTC")
    newest = (rows.assign(rank=rows["created_ts"].fillna(lowest))
              .sort_values(["event_ts", "rank", "seq"]).groupby("user_id").tail(1).set_index("user_id"))
    resolved = resolve(features=[f"stats_file:f_{f}" for f in FEATURES])
    # Read as of the oldest newest-event, so every key is inside its TTL.
    answers = online.read(redis_store(), settings.FEATURE_ONLINE_PREFIX, list(resolved.views),
                          [((k,),) for k in keys], now_us=int(newest["event_ts"].min().timestamp() * 1e6))
    for key, answer in zip(keys, answers):
        row = newest.loc[key]
        assert answer["f_spend"][1:] == ("present", int(row["event_ts"].timestamp() * 1e6))
        for f in FEATURES:
            value, wanted = answer["f_" + f][0], None if pd.isna(row[f]) else row[f]
            assert (value is None and wanted is None) or value == pytest.approx(wanted), (key, f, value, wanted)
    # Read now, every row is past the 6 h TTL: the client answers None, outside_ttl.
    response = FeatureStore().get_online_features(features=["stats_file:f_spend"], entity_rows=[{"user_id": keys[0]}])
    assert response.statuses()["f_spend"] == ["outside_ttl"] and response.to_dict()["f_spend"] == [None]


def test_paths_and_columns_are_checked(store, api, contributor, tmp_path, settings):  # noqa: F811
    settings.FEATURE_DATA_ROOTS = [tmp_path / "data"]
    (tmp_path / "data").mkdir()
    pd.DataFrame({"user_id": [1], "event_ts": [pd.Timestamp("2026-01-01T00:00:00Z")], "f_age": ["x"]}).to_parquet(
        tmp_path / "data" / "bad.parquet")
    client = api(contributor)
    outside = client.post("/api/v1/features/views/", _file_view(tmp_path / "elsewhere.parquet"), format="json")
    assert outside.status_code == 422 and "feature_views[0].source.path" in outside.json()["error"]["details"]
    climbing = client.post("/api/v1/features/views/", _file_view(f"{tmp_path}/data/../x.parquet"), format="json")
    assert climbing.status_code == 422
    bad = client.post("/api/v1/features/views/", _file_view(tmp_path / "data" / "bad.parquet"), format="json")
    assert bad.status_code == 422 and bad.json()["error"]["code"] == "source_unreadable", bad.content
    mixed = client.post("/api/v1/features/views/", _file_view(tmp_path / "data" / "bad.parquet",
                        source={"kind": "file", "path": str(tmp_path / "data" / "bad.parquet"), "table": "a.b"}), format="json")
    assert mixed.status_code == 422 and "feature_views[0].source.table" in mixed.json()["error"]["details"]
