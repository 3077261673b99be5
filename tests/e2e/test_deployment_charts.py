"""The deployment page's champion-vs-challenger score histogram shows shares of each
variant's predictions, not counts: a canary answering 1 request in 20 is drawn on the same
scale as the champion."""

import pytest
from django.utils import timezone

from monitoring.models import PredictionLog
from serving import services as deployments
from tests.conftest import promote, staged_version

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

MODEL = "churn-predictor"


def test_score_histograms_are_shares(page, login, viewer, contributor, approver, registered_model):
    promote(contributor, approver)
    staged_version(contributor)
    canary = deployments.deployment_configure(actor=approver, model_name=MODEL, strategy="canary", challenger_version=2)
    now = timezone.now()
    rows = [("champion", 1, i, 0.2 + (i % 5) * 0.1) for i in range(200)] + [
        ("challenger", 2, i, 0.6) for i in range(10)
    ]
    PredictionLog.objects.bulk_create(
        PredictionLog(
            model_name=MODEL, model_version=version, variant=variant, deployment_id=canary.pk,
            request_id=f"{variant}-{i}", ts=now, features={"x": 1}, latency_ms=2.0,
            prediction={"label": int(p > 0.5), "probability": p},
        )
        for variant, version, i, p in rows
    )
    login(viewer)
    page.goto(f"/models/{MODEL}/deployment/")
    page.wait_for_function("() => { const el = document.getElementById('chart-scores'); return el && el._fullData; }")
    drawn = page.evaluate(
        """() => { const el = document.getElementById('chart-scores');
                   return { ys: el._fullData.map((t) => Array.from(t.y)),
                            title: el._fullLayout.yaxis.title.text }; }"""
    )
    assert [round(sum(y), 6) for y in drawn["ys"]] == [1.0, 1.0]
    assert max(drawn["ys"][1]) == 1.0  # all ten challenger scores in one bin: its whole share
    assert "share" in drawn["title"]
