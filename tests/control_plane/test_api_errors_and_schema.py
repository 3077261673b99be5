"""The OpenAPI document tells the truth (validated as Paperless-ngx does), and every error
under /api/ answers in the API's JSON format, whoever produced it."""

import pytest
from django.core.management import call_command
from django.test import override_settings
from django.urls import path

from control_plane.urls import urlpatterns as site_urls

pytestmark = pytest.mark.django_db


def test_schema_validates_without_warnings(tmp_path):
    call_command("spectacular", "--validate", "--fail-on-warn", "--file", str(tmp_path / "schema.yaml"))


@pytest.fixture
def schema(api, viewer):
    response = api(viewer).get("/api/schema/?format=json")
    assert response.status_code == 200
    return response.json()


def test_paginated_lists_are_documented_as_pages(schema):
    answer = schema["paths"]["/api/v1/models/"]["get"]["responses"]["200"]["content"]["application/json"]["schema"]
    page = schema["components"]["schemas"][answer["$ref"].rsplit("/", 1)[1]]
    assert set(page["properties"]) >= {"count", "next", "previous", "results"}
    names = {p["name"] for p in schema["paths"]["/api/v1/models/"]["get"]["parameters"]}
    assert {"page", "page_size"} <= names


def test_serving_and_the_mlflow_api_are_documented(schema):
    assert "post" in schema["paths"]["/api/v1/serve/{name}/predict"]
    assert "post" in schema["paths"]["/api/v1/serve/{name}/invocations"]
    mlflow = [p for p in schema["paths"] if p.startswith("/api/2.0/mlflow/")]
    assert "/api/2.0/mlflow/model-versions/transition-stage" in mlflow and len(mlflow) >= 18


def test_every_operation_has_a_tag_a_summary_and_the_shared_errors(schema):
    for route, item in schema["paths"].items():
        for method, operation in item.items():
            where = f"{method.upper()} {route}"
            assert operation.get("tags") and operation.get("summary"), where
            assert {"400", "401", "403", "404"} <= set(operation["responses"]), where
            if not route.startswith("/api/2.0/mlflow/"):
                assert "422" in operation["responses"], where


def test_unknown_fields_are_declared_refused(schema):
    body = schema["paths"]["/api/v1/models/"]["post"]["requestBody"]["content"]["application/json"]["schema"]
    request = schema["components"]["schemas"][body["$ref"].rsplit("/", 1)[1]]
    assert request["additionalProperties"] is False


def test_an_unmatched_api_url_answers_json_404(api, viewer):
    response = api(viewer).get("/api/v1/no-such-thing/")
    assert response.status_code == 404
    assert response["Content-Type"] == "application/json"
    assert response.json()["error"]["code"] == "not_found"


def test_a_wrong_method_on_a_plain_view_answers_json_405(api, viewer):
    response = api(viewer).get("/api/v1/serve/churn-predictor/predict")
    assert response.status_code == 405
    assert response.json()["error"]["code"] == "method_not_allowed"
    assert response["Allow"] == "POST"


def crash(request):
    raise RuntimeError("boom")


urlpatterns = [path("api/v1/crash/", crash), path("crash/", crash), *site_urls]


@override_settings(ROOT_URLCONF=__name__)
def test_an_exception_under_api_answers_json_500_and_pages_keep_html(client):
    client.raise_request_exception = False
    response = client.get("/api/v1/crash/")
    assert response.status_code == 500
    assert response.json()["error"]["code"] == "internal_error"
    assert "boom" not in response.content.decode()
    page = client.get("/crash/")
    assert page.status_code == 500 and not page["Content-Type"].startswith("application/json")


def test_a_page_404_stays_html(client):
    response = client.get("/no-such-page/")
    assert response.status_code == 404 and response["Content-Type"].startswith("text/html")
