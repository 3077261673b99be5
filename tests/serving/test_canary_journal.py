"""Canary analysis journals decisions and step changes only: a "wait" tick (too few
requests yet) is an analysis row for the deployment page, not a journal event that every
channel subscribed to all types would receive."""

import pytest

from control_plane.models import Event
from serving import services as deployments
from serving.models import CanaryAnalysis
from serving.rollouts import canary_evaluate

pytestmark = pytest.mark.django_db

MODEL = "churn-predictor"


def test_wait_ticks_are_rows_not_events(served, contributor, approver):
    deployments.deployment_configure(actor=contributor, model_name=MODEL, strategy="single")
    canary = deployments.deployment_configure(
        actor=approver, model_name=MODEL, strategy="canary", challenger_version=2, analysis={"min_requests": 500}
    )
    before = Event.objects.count()
    for _ in range(5):
        assert canary_evaluate(canary.pk, force=True) == "wait"
    assert CanaryAnalysis.objects.filter(deployment=canary, decision="wait").count() == 5
    assert Event.objects.count() == before
    assert not Event.objects.filter(type="deployment.analysis").exists()


def test_the_deployment_page_folds_wait_ticks(client, served, contributor, approver):
    deployments.deployment_configure(actor=contributor, model_name=MODEL, strategy="single")
    canary = deployments.deployment_configure(
        actor=approver, model_name=MODEL, strategy="canary", challenger_version=2, analysis={"min_requests": 500}
    )
    for _ in range(3):
        canary_evaluate(canary.pk, force=True)
    client.force_login(approver)
    body = client.get(f"/models/{MODEL}/deployment/").content.decode()
    table = body.split('id="analyses"', 1)[1].split("</table>", 1)[0]
    assert "<details>" in table and "3 analysis ticks waiting for enough requests" in table
    assert table.count('<tr class="waits">') == 1
