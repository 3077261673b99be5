"""A feature view's page in a real browser: a file-source view (Parquet read by DuckDB) that
was materialized, then left behind for longer than its TTL. The page must show the
newest event of the source, the lag warning, the run with its counts, and one histogram
per feature drawn by Plotly from the sample, with the sample's counts."""

import os

import pandas as pd
import pytest
import redis
from django.utils import timezone
from playwright.sync_api import expect

from features.models import FeatureView, MaterializationRun
from features.services import definitions_apply, materialization_execute, materialization_start

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

ROWS = 50


@pytest.fixture
def stale_view(settings, tmp_path, contributor):
    settings.FEATURE_DATA_ROOTS = [tmp_path]
    settings.FEATURE_ONLINE_PREFIX = f"fs-e2e-{os.getpid()}"
    now = pd.Timestamp.now(tz="UTC").floor("s")
    rows = pd.DataFrame({
        "user_id": range(ROWS),
        "ts": [now - pd.Timedelta(hours=2, minutes=u) for u in range(ROWS)],
        "level": [u % 5 for u in range(ROWS)],
        "plan": ["pro" if u % 5 else "free" for u in range(ROWS)],
    })
    rows.to_parquet(tmp_path / "levels.parquet", index=False)
    definitions_apply(actor=contributor, document={
        "entities": [{"name": "user", "join_keys": [{"name": "user_id", "type": "int"}]}],
        "feature_views": [{"name": "levels", "entity": "user", "ttl": "1h", "event_timestamp_column": "ts",
                           "features": [{"name": "level", "type": "int"}, {"name": "plan", "type": "string"}],
                           "source": {"kind": "file", "path": str(tmp_path / "levels.parquet")}}]})
    run = materialization_start(actor=contributor, view_name="levels", kind="backfill")
    materialization_execute(run.pk)  # a no-op when the eager worker already ran it
    run.refresh_from_db()
    assert run.status == MaterializationRun.Status.SUCCEEDED, run.error
    # Online holds everything up to three hours ago: more than the 1 h TTL behind.
    FeatureView.objects.filter(name="levels").update(watermark=timezone.now() - pd.Timedelta(hours=3))
    yield rows, run, tmp_path / "levels.parquet"
    conn = redis.Redis.from_url(settings.FEATURE_ONLINE_REDIS_URL)
    keys = list(conn.scan_iter(f"{settings.FEATURE_ONLINE_PREFIX}:*"))
    if keys:
        conn.delete(*keys)


def test_view_page_freshness_lag_runs_and_histograms(page, login, contributor, stale_view):
    rows, run, path = stale_view
    login(contributor)
    page.goto("/features/views/levels/")
    expect(page.locator("#lag-warning")).to_be_visible()
    expect(page.locator("#lag-warning")).to_contain_text("more than the TTL (3600 s)")
    newest = rows["ts"].max().strftime("%Y-%m-%d %H:%M:%S")
    expect(page.locator("#newest-event")).to_have_text(f"{newest} UTC")
    expect(page.locator("#source-path")).to_have_text(str(path))
    expect(page.locator(f"#run-{run.pk}")).to_contain_text("succeeded")
    expect(page.locator(f"#run-{run.pk}")).to_contain_text(str(ROWS))
    for name in ("level", "plan"):
        expect(page.locator(f"#hist-{name} .main-svg").first).to_be_attached()
    drawn = page.evaluate("""() => Object.fromEntries(["level", "plan"].map((name) => {
        const trace = document.getElementById("hist-" + name).data[0];
        return [name, {x: Array.from(trace.x).map(String), y: Array.from(trace.y)}];
    }))""")
    assert sum(drawn["level"]["y"]) == ROWS  # every sampled row is in a bar
    assert dict(zip(drawn["plan"]["x"], drawn["plan"]["y"])) == {"pro": 40, "free": 10}
    page.screenshot(path="/tmp/ui-feature-view.png", full_page=True)
