"""Seed the embedded demo: users of every role and a model with a version in each
stage, a production history, and a pending promotion request with its gate."""

import secrets
from pathlib import Path

from django.conf import settings
from django.contrib.auth.models import User
from django.core.management.base import BaseCommand

from control_plane.demo_drift import seed_drift_demo
from control_plane.demo_models import save_churn_model
from control_plane.demo_shadow import seed_shadow_demo
from control_plane.users import user_create
from registry import services
from registry.models import RegisteredModel
from retraining.demo import seed_retraining_demo

DEMO_USERS = [("admin", "admin"), ("alice", "approver"), ("bob", "approver"), ("carol", "contributor"), ("victor", "viewer")]
SCHEMA = [
    {"name": "tenure_months", "type": "double", "nullable": False},
    {"name": "monthly_spend", "type": "double", "nullable": False},
    {"name": "support_tickets", "type": "long", "nullable": False},
    {"name": "plan", "type": "string", "nullable": False},
    {"name": "last_login_days", "type": "double", "nullable": True},
]


class Command(BaseCommand):
    help = "Create demo users and a demo model (idempotent); prints the demo passwords."

    def handle(self, *args, **options):
        credentials_file = Path(settings.VAR_DIR) / "demo-credentials.txt"
        credentials = self._users(credentials_file)
        if not RegisteredModel.objects.filter(name="churn-predictor").exists():
            self._churn_model()
            self._fraud_model()
        reports = seed_drift_demo(actor=User.objects.get(username="carol"))
        if reports:
            self.stdout.write(f"Drift demo: {len(reports)} daily drift reports of churn-predictor.")
        if seed_shadow_demo(actor=User.objects.get(username="carol")):
            self.stdout.write("Shadow demo: churn-predictor v3 answers shadow traffic; its request's gate passes.")
        run = seed_retraining_demo(owner=User.objects.get(username="carol"))
        if run is not None:
            self.stdout.write(f"Retraining demo: run #{run.pk} of churn-predictor {run.status} ({run.verdict or run.error}).")
        self.stdout.write("Demo users (also in %s):" % credentials_file)
        for line in credentials:
            self.stdout.write("  " + line)

    def _users(self, credentials_file: Path) -> list[str]:
        if credentials_file.exists() and all(User.objects.filter(username=u).exists() for u, _ in DEMO_USERS):
            return credentials_file.read_text().splitlines()
        lines = []
        for username, role in DEMO_USERS:
            password = secrets.token_urlsafe(9)
            user_create(username=username, role=role, password=password, email=f"{username}@example.com")
            lines.append(f"{username:<8} {role:<12} {password}")
        credentials_file.parent.mkdir(parents=True, exist_ok=True)
        credentials_file.write_text("\n".join(lines) + "\n")
        return lines

    def _churn_model(self) -> None:
        carol, alice, bob = (User.objects.get(username=u) for u in ("carol", "alice", "bob"))
        name = "churn-predictor"
        services.model_create(
            actor=carol,
            name=name,
            description="Predicts which subscribers cancel within 30 days.",
            tags={"team": "growth", "task": "binary-classification"},
        )
        models_dir = Path(settings.VAR_DIR) / "demo-models"
        for number, auc in enumerate((0.86, 0.89, 0.91, 0.92), start=1):
            services.version_register(
                actor=carol,
                model_name=name,
                source=save_churn_model(models_dir / f"churn-v{number}", seed=number, depth=2 + number),
                metrics={"auc": auc, "f1": round(auc - 0.05, 2)},
                params={"learning_rate": "0.05", "max_depth": str(4 + number)},
                input_schema=SCHEMA,
                output_schema=[{"name": "churn_probability", "type": "double"}],
                description=f"Gradient boosting, retrain #{number}.",
            )
        for number, approver in ((1, alice), (2, bob)):
            services.version_set_stage(actor=carol, model_name=name, version=number, stage="staging")
            request = services.promotion_request(
                actor=carol, model_name=name, version=number, reason=f"v{number} beats the baseline on AUC."
            )
            services.promotion_approve(actor=approver, request_id=request.pk, comment="Looks good.")
        services.version_set_stage(actor=carol, model_name=name, version=3, stage="staging")
        services.promotion_request(actor=carol, model_name=name, version=3, reason="AUC +0.02 on the holdout.")

    def _fraud_model(self) -> None:
        carol = User.objects.get(username="carol")
        name = "fraud-detector"
        services.model_create(
            actor=carol, name=name, description="Scores card transactions.", required_approvals=2
        )
        services.version_register(actor=carol, model_name=name, source="runs:/legacy/model", metrics={"auc": 0.8})
        services.version_set_stage(actor=carol, model_name=name, version=1, stage="staging")
        services.promotion_request(
            actor=carol, model_name=name, version=1, reason="Registered without a signature: the gate fails."
        )
