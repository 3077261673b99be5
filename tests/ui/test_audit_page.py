"""The audit trail page: type links and paging keep one `?`, payloads read as fields with
short numbers, and events link to the request, drift report or deployment they are about."""

import re

import pytest
from django.urls import reverse

from control_plane.event_display import payload_fields, value_text
from control_plane.journal import event_append
from control_plane.views import EVENTS_PER_PAGE

pytestmark = pytest.mark.django_db


def _hrefs(body: str) -> list[str]:
    return [h.replace("&amp;", "&") for h in re.findall(r'href="([^"]*)"', body)]


def test_type_links_and_paging_have_one_question_mark_and_reach_old_events(client, viewer):
    for n in range(EVENTS_PER_PAGE + 5):
        event_append(type="model.updated" if n else "model.created", actor=viewer, model_name="m", payload={"n": n})
    client.force_login(viewer)
    body = client.get(reverse("audit")).content.decode()
    hrefs = _hrefs(body)
    assert not [h for h in hrefs if "??" in h]
    older = next(h for h in hrefs if "page=2" in h)
    page2 = client.get(reverse("audit") + older).content.decode()
    assert "page 2 of 2" in page2
    assert "model.created" in page2
    type_link = next(h for h in hrefs if "type=model.updated" in h)
    filtered = client.get(reverse("audit") + type_link).content.decode()
    assert f"{EVENTS_PER_PAGE + 4} events" in filtered


def test_payload_reads_as_fields_with_short_numbers_and_links(client, viewer):
    event_append(
        type="drift.detected",
        actor=viewer,
        model_name="churn-predictor",
        version=3,
        payload={
            "drift_report": 17,
            "severity": "major",
            "features": [{"feature": "tenure_months", "kind": "numeric", "psi": 0.31234567891234567, "severity": "major"}],
        },
    )
    event_append(
        type="deployment.rolled_back",
        actor=None,
        model_name="churn-predictor",
        version=3,
        payload={"deployment": 4, "state": "rolled_back", "challenger_weight": 0, "promotion_request": 9},
    )
    client.force_login(viewer)
    body = client.get(reverse("audit")).content.decode()
    assert "0.31234567891234567" not in body and "0.3123" in body
    assert "tenure_months (" in body and "psi 0.3123" in body and "kind numeric" in body
    assert "{" not in body.split('id="events"', 1)[1].split("</table>", 1)[0]  # no raw JSON
    assert 'href="/models/churn-predictor/monitoring/reports/17/"' in body
    assert 'href="/models/churn-predictor/deployment/"' in body
    assert 'href="/promotions/9/"' in body
    assert "rolled back" in body and "rolled_back</dd>" not in body


def test_value_text_rounds_and_names():
    assert value_text(0.1 + 0.2) == "0.3"
    assert value_text({"start": "2026-11-01T03:00:00+00:00", "end": "2026-11-02T03:00:00+00:00"}) == (
        "2026-11-01 03:00 UTC → 2026-11-02 03:00 UTC"
    )
    assert payload_fields({"deployment": 3, "override_reason": "hotfix"}) == [("override reason", "hotfix")]
