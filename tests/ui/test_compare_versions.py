"""Compare versions: metrics, params and schema side by side with differences marked, run
links, several versions at once; linked from the version page as "Compare with Production"."""

import pytest
from django.urls import reverse

from registry.compare import VersionFacts, metric_rows, schema_rows
from tests.conftest import SCHEMA, promote, register_version, staged_version

pytestmark = pytest.mark.django_db

MODEL = "churn-predictor"


@pytest.fixture
def three(contributor, approver, registered_model):
    v1 = promote(contributor, approver, metrics={"auc": 0.81, "f1": 0.7}, params={"depth": "4"})
    v2 = staged_version(
        contributor,
        metrics={"auc": 0.86, "f1": 0.69},
        params={"depth": "6"},
        schema=[*SCHEMA, {"name": "plan_tier", "type": "long", "nullable": False}],
    )
    v3 = register_version(contributor, metrics={"auc": 0.84}, params={"depth": "6"})
    return v1, v2, v3


def test_the_version_page_links_to_a_comparison_with_production(client, viewer, three):
    v1, v2, _ = three
    client.force_login(viewer)
    page = client.get(reverse("version-detail", args=[MODEL, v2.version])).content.decode()
    assert f'href="/models/{MODEL}/compare/?versions={v2.version},{v1.version}"' in page
    assert "Compare with Production v1" in page


def test_compare_shows_metrics_params_schema_and_runs(client, viewer, three, settings):
    settings.MLFLOW_TRACKING_URI = "http://mlflow.internal:5000"
    client.force_login(viewer)
    body = client.get(reverse("version-compare", args=[MODEL]) + "?versions=2,1,3").content.decode()
    head = body.split('id="compare-versions-table"', 1)[1].split("</thead>", 1)[0]
    assert head.index("v2") < head.index("v1") < head.index("v3")  # in the order asked
    metrics = body.split('id="compare-metrics"', 1)[1].split("</table>", 1)[0]
    assert '<td class="num best">0.86</td>' in metrics and "0.81" in metrics and "—" in metrics  # v3 has no f1
    params = body.split('id="compare-params"', 1)[1].split("</table>", 1)[0]
    assert '<tr class="differs"><th>depth</th>' in params
    schema = body.split('id="compare-schema"', 1)[1].split("</table>", 1)[0]
    assert '<tr class="differs"><th>plan_tier</th>' in schema and "absent" in schema
    assert 'href="http://mlflow.internal:5000/#/runs/0123456789abcdef"' in body
    assert 'id="chart-metrics"' in body and "/static/vendor/plotly.min.js" in body and "cdn" not in body.lower()


def test_default_is_production_against_the_newest_staging(client, viewer, three):
    client.force_login(viewer)
    response = client.get(reverse("version-compare", args=[MODEL]))
    assert response.context["chosen"] == [1, 2]


def test_rows_mark_what_differs():
    a = VersionFacts(version=1, stage="production", metrics={"auc": 0.8}, input_schema=[{"name": "x", "type": "double"}])
    b = VersionFacts(version=2, stage="staging", metrics={"auc": 0.8}, input_schema=[{"name": "x", "type": "long"}])
    assert metric_rows([a, b])[0]["differs"] is False
    assert schema_rows([a, b])[0]["differs"] is True
