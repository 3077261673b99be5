"""The policy and run endpoints (API.md, Retraining), and the database's hold on one active run."""

import pytest
from django.db import IntegrityError, transaction
from django.utils import timezone
from django_celery_beat.models import PeriodicTask

from retraining.models import RetrainingRun

pytestmark = pytest.mark.django_db

URL = "/api/v1/models/churn-predictor/retraining/"
PYTHON = {"kind": "python", "callable": "retraining.sample_trainer.train_gradient_boosting"}


def test_put_creates_the_policy_and_beats_schedule_get_reads_it(api, contributor, registered_model):
    client = api(contributor)
    body = {"trainer": PYTHON, "triggers": {"schedule": "0 4 * * 1", "drift": {"psi_threshold": 0.3}},
            "cooldown_hours": 12, "max_runs_per_day": 3, "evaluation": {"metric": "f1", "min_improvement": 0.02}}
    response = client.put(URL, body, format="json")
    assert response.status_code == 200, response.json()
    data = response.json()
    assert data["owner"] == contributor.username and data["trainer"] == PYTHON
    assert data["triggers"]["drift"] == {"psi_threshold": 0.3, "key_features": [], "on_score": True}
    assert data["evaluation"]["metric"] == "f1" and data["evaluation"]["holdout"] == 0.2
    task = PeriodicTask.objects.get(name=data["periodic_task"])
    assert task.task == "retraining.tasks.retraining_scheduled" and task.enabled
    assert (task.crontab.minute, task.crontab.hour, task.crontab.day_of_week) == ("0", "4", "1")
    assert client.get(URL).json()["cooldown_hours"] == 12
    client.put(URL, {"enabled": False}, format="json")
    task.refresh_from_db()
    assert not task.enabled


@pytest.mark.parametrize(
    "body, field",
    [
        ({"trainer": {"kind": "bash", "command": "rm -rf /"}}, "trainer"),
        ({"trainer": {"kind": "python", "callable": "os.system"}}, "trainer"),
        ({"trainer": {"kind": "mlflow_project", "uri": "/etc"}}, "trainer"),
        ({"trainer": {"kind": "external", "channel": "nope"}}, "trainer"),
        ({"trainer": PYTHON, "triggers": {"schedule": "every day"}}, "schedule"),
        ({"trainer": PYTHON, "triggers": {"weather": True}}, "triggers"),
        ({"trainer": PYTHON, "evaluation": {"metric": "vibes"}}, "evaluation"),
        ({"trainer": PYTHON, "max_runs_per_day": 0}, "max_runs_per_day"),
        ({"trainer": PYTHON, "owner": "vera-viewer"}, "owner"),
        ({"triggers": {"drift": True}}, "trainer"),
        ({"trainer": PYTHON, "colour": "blue"}, "colour"),
    ],
)
def test_bad_policies_are_refused_naming_the_field(api, contributor, viewer, registered_model, body, field):
    response = api(contributor).put(URL, body, format="json")
    assert response.status_code == 422, response.json()
    assert field in response.json()["error"]["details"]


def test_viewers_cannot_write_and_runs_need_a_policy(api, viewer, contributor, registered_model):
    assert api(viewer).put(URL, {"trainer": PYTHON}, format="json").status_code == 403
    response = api(contributor).post(URL + "run/", {}, format="json")
    assert response.status_code == 422 and response.json()["error"]["code"] == "no_retraining_policy"
    assert api(contributor).get(URL).status_code == 404


def test_a_manual_run_while_one_is_active_is_409(api, contributor, registered_model):
    api(contributor).put(URL, {"trainer": PYTHON}, format="json")
    now = timezone.now()
    active = RetrainingRun.objects.create(model=registered_model, trigger="drift", status="running",
                                          window_start=now - timezone.timedelta(days=1), window_end=now)
    response = api(contributor).post(URL + "run/", {"reason": "again"}, format="json")
    assert response.status_code == 409 and response.json()["error"]["code"] == "run_active"
    assert str(active.pk) in response.json()["error"]["message"]
    listed = api(contributor).get(URL + "runs/").json()
    assert [r["id"] for r in listed["results"]] == [active.pk]
    detail = api(contributor).get(f"/api/v1/retraining/runs/{active.pk}/").json()
    assert detail["status"] == "running" and detail["trigger"] == "drift"
    assert api(contributor).post(f"/api/v1/retraining/runs/{active.pk}/retry/").status_code == 409
    cancelled = api(contributor).post(f"/api/v1/retraining/runs/{active.pk}/cancel/").json()
    assert cancelled["status"] == "cancelled" and cancelled["verdict"] == "cancelled"


def test_the_database_holds_one_active_run_per_model(registered_model):
    now = timezone.now()
    fields = dict(model=registered_model, trigger="manual", window_start=now - timezone.timedelta(days=1), window_end=now)
    RetrainingRun.objects.create(status="queued", **fields)
    with pytest.raises(IntegrityError), transaction.atomic():
        RetrainingRun.objects.create(status="running", **fields)
    RetrainingRun.objects.create(status="failed", **fields)  # finished runs are not counted
