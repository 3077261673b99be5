"""The pages say what happened: freshness with a warning when lag exceeds the TTL, runs
with their counts, histograms from a sample, services with the versions that use them."""

import json
from datetime import timedelta

import pytest
from django.utils import timezone

from features.models import FeatureView
from features.services import definitions_apply, push_rows
from tests.conftest import PASSWORD, register_version

from .conftest import DOCUMENT


@pytest.fixture
def browser(client, contributor):
    client.login(username=contributor.username, password=PASSWORD)
    return client


def test_view_page_histograms_and_lag_warning(browser, contributor, drop_schemas):
    definitions_apply(actor=contributor, document=DOCUMENT)
    now = timezone.now()
    push_rows(actor=contributor, view_name="user_stats", rows=[
        {"user_id": u, "event_timestamp": (now - timedelta(minutes=u)).isoformat(), "age": 20 + u % 7,
         "plan": "pro" if u % 3 else "free", "spend": None} for u in range(60)])
    page = browser.get("/features/views/user_stats/")
    assert page.status_code == 200
    chart = json.loads(page.content.decode().split('id="feature-data" type="application/json">')[1].split("</script>")[0])
    assert sum(chart["histograms"]["age"]["y"]) == 60 and chart["histograms"]["spend"]["nulls"] == 60
    assert dict(zip(chart["histograms"]["plan"]["x"], chart["histograms"]["plan"]["y"])) == {"pro": 40, "free": 20}
    assert b"lag-warning" not in page.content
    assert b"vendor/plotly.min.js" in page.content and b"cdn" not in page.content.lower()
    index = browser.get("/features/")
    assert b"user_stats" in index.content and b"churn" in index.content


def test_lag_past_the_ttl_is_a_warning(browser, contributor, db):
    definitions_apply(actor=None, document={
        "entities": DOCUMENT["entities"],
        "feature_views": [{"name": "daily", "entity": "user", "ttl": "1h", "features": [{"name": "x", "type": "int"}],
                           "source": {"kind": "query", "query": "SELECT 1::bigint AS user_id, now() AS ts, 1 AS x"},
                           "event_timestamp_column": "ts"}]})
    FeatureView.objects.filter(name="daily").update(watermark=timezone.now() - timedelta(hours=3))
    page = browser.get("/features/views/daily/")
    assert b'id="lag-warning"' in page.content and b"Query sources are not sampled." in page.content
    assert b"&gt; TTL" in browser.get("/features/").content


def test_service_page_lists_versions_and_users(browser, contributor, registered_model, db):
    definitions_apply(actor=contributor, document=DOCUMENT)
    schema = [{"name": "age", "type": "long"}, {"name": "spend", "type": "double", "nullable": True},
              {"name": "plan", "type": "string"}]
    register_version(contributor, schema=schema, tags={"features.service": "churn:1"})
    page = browser.get("/features/services/churn/")
    assert page.status_code == 200 and b"churn-predictor v1" in page.content and b"churn:1" in page.content
    assert browser.get("/features/services/ghost/").status_code == 404
