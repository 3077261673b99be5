"""Words for people: refusals name what a role cannot do, gate failures name checks by their
labels, error pages are branded and never show Django's internals, every time says UTC."""

import re

import pytest
from django.test import Client, RequestFactory
from django.urls import reverse

from control_plane.error_pages import server_error
from registry import services
from serving.services import deployment_action, deployment_configure
from tests.conftest import promote, staged_version

MODEL = "churn-predictor"
TIME = re.compile(r"\b\d{4}-\d\d-\d\d \d\d:\d\d(?::\d\d)?(?![:\d])(?! UTC)")


@pytest.fixture
def world(contributor, approver, registered_model):
    promote(contributor, approver)
    v2 = staged_version(contributor)
    pending = services.promotion_request(actor=contributor, model_name=MODEL, version=v2.version, reason="auc")
    return {"v2": v2, "pending": pending}


def test_a_role_refusal_names_what_the_role_cannot_do(client, contributor, world):
    client.force_login(contributor)
    other = staged_version(contributor, schema=[])
    del other
    response = client.post(reverse("model-rollback", args=[MODEL]), {"reason": "x"})
    body = response.content.decode()
    assert response.status_code == 403
    assert "Your role (contributor) cannot roll a model back; approvers and admins can." in body
    assert "rollback'" not in body and "does not allow" not in body


def test_gate_failure_names_checks_by_label(client, contributor, approver, registered_model):
    mv = staged_version(contributor, schema=[])
    request = services.promotion_request(actor=contributor, model_name=MODEL, version=mv.version)
    client.force_login(approver)
    page = client.get(reverse("promotion-detail", args=[request.pk])).content.decode()
    assert "The release gate fails (Serving schema present and valid)" in page
    response = client.post(reverse("promotion-approve", args=[request.pk]), {"comment": "ok"})
    body = response.content.decode()
    assert "Serving schema present and valid" in body and "override reason" in body
    assert "(serving_schema)" not in body and "with an override_reason" not in body


def test_unknown_address_is_a_branded_404_without_internals(client, viewer):
    client.force_login(viewer)
    for url in ("/no/such/page/", "/batch-jobs/999999/", "/models/nope/batch/"):
        response = client.get(url)
        body = response.content.decode()
        assert response.status_code == 404, url
        assert 'id="error-page"' in body and "ML control plane" in body
        assert "Resolver404" not in body and "tried" not in body and "matches the given query" not in body
        assert "BatchJob" not in body and "RegisteredModel" not in body
    assert "There is no batch job #999999." in client.get("/batch-jobs/999999/").content.decode()


def test_api_404_stays_json(client, viewer):
    client.force_login(viewer)
    response = client.get("/api/v1/no-such-thing/")
    assert response.status_code == 404 and response.json()["error"]["code"] == "not_found"


def test_403_and_csrf_failure_pages_are_friendly(viewer):
    client = Client(enforce_csrf_checks=True)
    client.force_login(viewer)
    response = client.get(reverse("channel-new"))
    assert response.status_code == 403 and "Not allowed" in response.content.decode()
    response = client.post(reverse("tokens"), {"name": "x"})
    body = response.content.decode()
    assert response.status_code == 403 and "This form was stale" in body and "CSRF" not in body


def test_500_page_is_branded_and_needs_no_database():
    response = server_error(RequestFactory().get("/models/"))
    body = response.content.decode()
    assert response.status_code == 500 and "Something went wrong" in body and "favicon.svg" in body


def test_favicon(client, viewer):
    response = client.get("/favicon.ico")
    assert response.status_code == 302 and response["Location"].endswith("favicon.svg")
    assert client.get(response["Location"]).status_code == 200
    client.force_login(viewer)
    assert 'rel="icon"' in client.get(reverse("home")).content.decode()


def test_every_time_on_the_pages_says_utc(client, admin, contributor, approver, world):
    deployment_configure(actor=approver, model_name=MODEL, strategy="canary", challenger_version=world["v2"].version)
    deployment_action(actor=approver, model_name=MODEL, action="abort")
    client.force_login(admin)
    client.post(reverse("tokens"), {"name": "ci", "expires_days": "30"})
    urls = [
        reverse("home"),
        reverse("model-detail", args=[MODEL]),
        reverse("version-detail", args=[MODEL, world["v2"].version]),
        reverse("inbox"),
        reverse("promotion-detail", args=[world["pending"].pk]),
        reverse("audit"),
        reverse("tokens"),
        reverse("deployment-comparison", args=[MODEL]),
    ]
    for url in urls:
        body = client.get(url).content.decode()
        text = re.sub(r"<script.*?</script>|<[^>]+>", " ", body, flags=re.S)
        text = re.sub(r"\s+", " ", text)
        assert not TIME.findall(text), (url, TIME.findall(text)[:3])


def test_deployment_page_says_states_and_steps_in_words(client, approver, world):
    deployment_configure(actor=approver, model_name=MODEL, strategy="canary", challenger_version=world["v2"].version)
    deployment_action(actor=approver, model_name=MODEL, action="rollback")
    client.force_login(approver)
    body = client.get(reverse("deployment-comparison", args=[MODEL])).content.decode()
    visible = re.sub(r"<script.*?</script>|<[^>]+>", " ", body, flags=re.S)
    assert "rolled_back" not in visible and "rolled back" in visible
    assert "current step -1" not in body
