"""Model names as MLflow allows them (registry/names.py): spaces, accents, punctuation.
Only what cannot work is refused, and the message says which rule; every page and API
quotes names in its URLs."""

from urllib.parse import quote

import pytest
from django.db import IntegrityError, connection
from django.urls import reverse

from registry import services
from registry.models import RegisteredModel
from tests.conftest import register_version

pytestmark = pytest.mark.django_db

# Names MLflow 3.17's own store accepts; our old rule (letters, digits, '.', '_', '-') refused them.
MLFLOW_NAMES = ["Model 1", "UpdateRMTest 2", " churn", "modèle été", "a;drop table", "50% off #1?", "m" * 256]


@pytest.mark.parametrize("name", MLFLOW_NAMES)
def test_names_mlflow_accepts_work_through_the_native_api(api, contributor, name):
    client = api(contributor)

    created = client.post("/api/v1/models/", {"name": name}, format="json")
    registered = client.post(
        reverse("api-versions", args=[name]), {"source": "s3://bucket/model"}, format="json"
    )
    fetched = client.get(reverse("api-model", args=[name]))

    assert created.status_code == 201, created.json()
    assert registered.status_code == 201, registered.json()
    assert fetched.status_code == 200 and fetched.json()["name"] == name
    assert RegisteredModel.objects.get(name=name).versions.count() == 1


def test_urls_quote_names_and_pages_link_to_them(client, contributor):
    name = "Churn model #2?"
    services.model_create(actor=contributor, name=name)
    register_version(contributor, model_name=name)
    client.force_login(contributor)

    url = reverse("model-detail", args=[name])
    page = client.get(url)

    assert url == "/models/Churn%20model%20%232%3F/"
    assert page.status_code == 200
    html = page.content.decode()
    assert 'href="/models/Churn%20model%20%232%3F/versions/1/"' in html
    assert client.get(reverse("version-detail", args=[name, 1])).status_code == 200


@pytest.mark.parametrize(
    "name, rule",
    [
        ("", "empty"),
        ("   ", "empty"),
        ("team/churn", "'/'"),
        ("prod:churn", "':'"),
        (".", "relative path"),
        ("..churn", "relative path"),
        ("m" * 257, "257 characters"),
    ],
)
def test_a_refused_name_says_which_rule_it_breaks(contributor, name, rule):
    from control_plane.errors import Invalid

    with pytest.raises(Invalid) as caught:
        services.model_create(actor=contributor, name=name)

    assert rule in caught.value.message
    assert "1 to 256 characters" in caught.value.message  # and the whole rule
    assert not RegisteredModel.objects.exists()


@pytest.mark.parametrize("name", ["team/churn", "prod:churn", "..churn", "   "])
def test_the_database_refuses_names_the_rule_refuses(name):
    with pytest.raises(IntegrityError), connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO registry_registeredmodel (name, description, tags, required_approvals, last_version, "
            "created_at, updated_at) VALUES (%s, '', '{}', 1, 0, now(), now())",
            [name],
        )


def test_renaming_to_a_name_with_spaces_keeps_the_versions(contributor):
    services.model_create(actor=contributor, name="churn")
    register_version(contributor, model_name="churn")

    services.model_rename(actor=contributor, name="churn", new_name="Churn predictor 2")

    assert RegisteredModel.objects.get(name="Churn predictor 2").versions.count() == 1


def test_serving_urls_take_quoted_names(api, contributor):
    services.model_create(actor=contributor, name="Churn v2")

    r = api(contributor).post(f"/api/v1/serve/{quote('Churn v2')}/predict", {"instances": [{}]}, format="json")

    # It reaches the view for this model (no version deployed yet), not a URL-level 404 page.
    assert r["Content-Type"].startswith("application/json"), r.content[:200]
    assert "Churn v2" in r.json()["error"]["message"]
