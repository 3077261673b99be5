"""The demo's retraining (make run): a policy for churn-predictor with the repository's real
python trainer (retraining/sample_trainer.py, scikit-learn) and one run carried out now, on the
demo's labelled traffic, so every retraining page shows data."""

from django.contrib.auth.models import User

DEMO_MODEL = "churn-predictor"
TRAINER = "retraining.sample_trainer.train_gradient_boosting"


def seed_retraining_demo(*, owner: User) -> "RetrainingRun | None":  # noqa: F821
    from registry.models import RegisteredModel

    from .models import RetrainingPolicy, RetrainingRun
    from .pipeline import step_execute
    from .policies import retraining_policy_put
    from .services import retraining_trigger

    model = RegisteredModel.objects.filter(name=DEMO_MODEL).first()
    if model is None or RetrainingPolicy.objects.filter(model=model).exists():
        return None
    retraining_policy_put(
        model=model,
        actor=owner,
        trainer={"kind": "python", "callable": TRAINER},
        triggers={"schedule": "0 4 * * 1", "drift": {"psi_threshold": 0.25, "key_features": ["tenure_months", "support_tickets"]}},
        cooldown_hours=24,
        max_runs_per_day=2,
        evaluation={"metric": "roc_auc", "min_improvement": 0.0, "holdout": 0.25, "bootstrap": 200},
    )
    run = retraining_trigger(model=model, trigger="manual", actor=owner, reason="Demo: the first retraining run.",
                             evidence={"requested_by": owner.username})
    for name in ("check", "train", "evaluate", "stage", "notify"):  # here and now; the queued copies find them done
        step_execute(run_id=run.pk, name=name)
    return RetrainingRun.objects.get(pk=run.pk)
