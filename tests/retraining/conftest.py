"""Fixtures for retraining: a real classifier in Production, labelled traffic logged over the
last days (labels follow a rule the champion was not trained on, so a model retrained on the
log beats it), and a policy with the repository's real python trainer."""

from datetime import timedelta

import numpy as np
import pandas as pd
import pytest
from django.utils import timezone

from monitoring.models import PredictionLog
from registry import model_loading
from registry.models import StageTransition
from retraining.models import RetrainingRun
from retraining.policies import retraining_policy_put
from tests.conftest import promote
from tests.serving.conftest import SERVING_SCHEMA, save_classifier

MODEL = "churn-predictor"
FEATURES = [c["name"] for c in SERVING_SCHEMA]
GOOD = "retraining.sample_trainer.train_gradient_boosting"


@pytest.fixture(scope="session")
def champion_source(tmp_path_factory):
    return save_classifier(tmp_path_factory.mktemp("retrain-models") / "champion")


@pytest.fixture(autouse=True)
def retraining_settings(settings, tmp_path):
    settings.PREDICTION_LOG_BACKEND = "direct"
    settings.VAR_DIR = tmp_path / "var"
    settings.RETRAINING_DIR = tmp_path / "retraining"
    settings.RETRAINING_MODEL_ROOTS = [tmp_path / "retraining"]
    settings.RETRAINING_TRAINER_MODULES = ["retraining.sample_trainer", "tests.retraining.trainers"]
    settings.RETRAINING_POLL_SECONDS = 0.2
    settings.MLFLOW_TRACKING_URI = ""
    model_loading.cache_clear()
    yield settings
    model_loading.cache_clear()


@pytest.fixture(autouse=True)
def no_production_from_retraining(request):
    """After every test here: no version reached Production after a retraining run began,
    unless through a promotion request approved by someone other than its requester."""
    yield
    if "db" not in request.fixturenames and "transactional_db" not in request.fixturenames:
        return
    first = RetrainingRun.objects.order_by("created_at").first()
    if first is None:
        return
    for transition in StageTransition.objects.filter(to_stage="production", created_at__gte=first.created_at):
        promotion = transition.promotion_request
        assert transition.kind == "promotion" and promotion is not None, f"Production without a promotion: {transition.__dict__}"
        approvers = set(promotion.decisions.filter(verdict="approve").values_list("approver_id", flat=True))
        assert promotion.status == "approved" and approvers - {promotion.requested_by_id}


def customers(n: int, *, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame({
        "tenure_months": rng.uniform(0, 60, n),
        "monthly_spend": rng.uniform(10, 200, n),
        "support_tickets": rng.integers(0, 10, n).astype("int64"),
    })
    # The world changed: big spenders churn now, new customers no longer do.
    frame["label"] = ((frame["support_tickets"] > 4) | (frame["monthly_spend"] > 150)).astype(int)
    return frame


def log_labelled(version, frame: pd.DataFrame, *, days: float = 5, prefix: str = "r", labelled: bool = True) -> None:
    """Rows spread evenly over the last `days` days, scored by `version` as serving logs them."""
    loaded = model_loading.load_version(version)
    proba = loaded.predict_proba(frame[FEATURES])
    best = proba.argmax(axis=1)
    now = timezone.now()
    step = timedelta(days=days) / max(len(frame), 1)
    rows = frame[FEATURES].to_dict("records")
    PredictionLog.objects.bulk_create([
        PredictionLog(
            model_name=version.model.name, model_version=version.version, variant="champion",
            request_id=f"{prefix}-{i}", ts=now - timedelta(days=days) + step * i,
            features={k: (int(v) if k == "support_tickets" else float(v)) for k, v in row.items()},
            prediction={"label": int(best[i]), "probability": float(proba[i, best[i]])}, latency_ms=1.0,
            ground_truth=int(frame["label"].iat[i]) if labelled else None,
        )
        for i, row in enumerate(rows)
    ], batch_size=1000)


@pytest.fixture
def champion(champion_source, contributor, approver, registered_model):
    return promote(contributor, approver, source=champion_source, schema=SERVING_SCHEMA)


@pytest.fixture
def traffic(champion):
    log_labelled(champion, customers(1500, seed=3))
    return champion


def make_policy(model, actor, *, trainer=GOOD, **fields):
    fields.setdefault("triggers", {"drift": {"psi_threshold": 0.25}})
    fields.setdefault("cooldown_hours", 0)
    fields.setdefault("max_runs_per_day", 10)
    fields.setdefault("evaluation", {"metric": "roc_auc", "min_improvement": 0.01, "holdout": 0.3, "bootstrap": 100})
    trainer_spec = {"kind": "python", "callable": trainer} if isinstance(trainer, str) else trainer
    return retraining_policy_put(model=model, actor=actor, trainer=trainer_spec, **fields)


@pytest.fixture
def policy(traffic, contributor):
    return make_policy(traffic.model, contributor)


@pytest.fixture
def inline(django_capture_on_commit_callbacks):
    """inline(fn, **kwargs): call fn and run the tasks it queued (and theirs) before returning."""

    def call(fn, **kwargs):
        with django_capture_on_commit_callbacks(execute=True):
            result = fn(**kwargs)
        return result

    return call
