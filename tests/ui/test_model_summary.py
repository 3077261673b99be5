"""The model page opens with the facts an owner looks for first, and the model list's
"Updated" moves when a version is promoted."""

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from registry import services
from registry.models import RegisteredModel
from tests.conftest import promote, staged_version

pytestmark = pytest.mark.django_db

MODEL = "churn-predictor"


def test_summary_strip_names_production_rollout_drift_and_pending(client, viewer, contributor, approver, registered_model):
    v1 = promote(contributor, approver)
    v2 = staged_version(contributor)
    services.promotion_request(actor=contributor, model_name=MODEL, version=v2.version)
    client.force_login(viewer)
    body = client.get(reverse("model-detail", args=[MODEL])).content.decode()
    strip = body.split('id="model-summary"', 1)[1].split("</section>", 1)[0]
    assert f"v{v1.version}" in strip and "since " in strip and " UTC" in strip
    assert "not deployed here" in strip
    assert "no report yet" in strip
    pending = strip.split('id="summary-pending"', 1)[1]
    assert "<strong>1</strong>" in pending


def test_updated_on_the_model_list_includes_promotions(client, viewer, contributor, approver, registered_model):
    RegisteredModel.objects.filter(pk=registered_model.pk).update(updated_at=timezone.now() - timedelta(days=30))
    promote(contributor, approver)
    RegisteredModel.objects.filter(pk=registered_model.pk).update(updated_at=timezone.now() - timedelta(days=30))
    client.force_login(viewer)
    body = client.get(reverse("home")).content.decode()
    assert timezone.now().strftime("%Y-%m-%d") in body.split(MODEL, 2)[-1]
