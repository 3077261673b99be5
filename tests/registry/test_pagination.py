"""Lists are paginated: ?page=N&page_size=M answering {count, next, previous, results}."""

from urllib.parse import parse_qs, urlparse

from registry import services
from registry.models import RegisteredModel
from tests.conftest import register_version

NAMES = ["m-a", "m-b", "m-c", "m-d", "m-e"]


def query(url):
    return {k: v[0] for k, v in parse_qs(urlparse(url).query).items()} if url else None


def test_models_page_two_of_size_two(api, contributor):
    for name in reversed(NAMES):
        services.model_create(actor=contributor, name=name)
    client = api(contributor)

    r = client.get("/api/v1/models/", {"page": 2, "page_size": 2})

    assert r.status_code == 200
    body = r.json()
    assert set(body) == {"count", "next", "previous", "results"}
    assert body["count"] == RegisteredModel.objects.count() == 5
    assert [m["name"] for m in body["results"]] == ["m-c", "m-d"]
    assert query(body["next"]) == {"page": "3", "page_size": "2"}
    assert query(body["previous"]) == {"page_size": "2"}  # page 1

    last = client.get("/api/v1/models/", {"page": 3, "page_size": 2}).json()
    assert [m["name"] for m in last["results"]] == ["m-e"] and last["next"] is None
    first = client.get("/api/v1/models/", {"page_size": 2}).json()
    assert [m["name"] for m in first["results"]] == ["m-a", "m-b"] and first["previous"] is None

    # Walking the pages yields every model exactly once.
    seen, url = [], "/api/v1/models/?page_size=2"
    while url:
        page = client.get(url).json()
        seen += [m["name"] for m in page["results"]]
        url = page["next"]
    assert seen == sorted(RegisteredModel.objects.values_list("name", flat=True))

    r = client.get("/api/v1/models/", {"page": 4, "page_size": 2})
    assert r.status_code == 404 and r.json()["error"]["code"] == "not_found"


def test_versions_are_paginated_newest_first(api, contributor):
    services.model_create(actor=contributor, name="paged")
    for _ in range(5):
        register_version(contributor, "paged")
    body = api(contributor).get("/api/v1/models/paged/versions/", {"page": 2, "page_size": 2}).json()
    assert body["count"] == 5
    assert [v["version"] for v in body["results"]] == [3, 2]
