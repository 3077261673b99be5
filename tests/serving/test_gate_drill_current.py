"""The release gate's "rollback path tested" is evidence about the current Production
version only: a fresh drill of a version archived since does not count."""

import pytest

from registry.gate import gate_evaluate
from serving import services as deployments
from serving.models import RollbackDrill

pytestmark = pytest.mark.django_db

MODEL = "churn-predictor"


def test_a_drill_of_another_version_is_not_evidence(served, contributor):
    v1, v2 = served
    deployments.deployment_configure(actor=contributor, model_name=MODEL, strategy="single")
    # The newest drill in the table is of v2 (not Production): it must not pass the check.
    RollbackDrill.objects.create(model=v1.model, target=v2, ok=True, detail="v2 loaded and scored", duration_ms=1.0)
    check = next(c for c in gate_evaluate(v2)["checks"] if c["name"] == "rollback_path_tested")
    assert check["status"] == "pass"
    assert "Production v1" in check["evidence"] and "v1 loaded and scored" in check["evidence"]
    assert RollbackDrill.objects.filter(target=v1).count() == 1  # run for the current Production version


def test_a_failed_drill_of_production_fails_the_check(served, contributor):
    v1, v2 = served
    deployments.deployment_configure(actor=contributor, model_name=MODEL, strategy="single")
    RollbackDrill.objects.create(model=v1.model, target=v1, ok=False, detail="artifact missing", duration_ms=1.0)
    check = next(c for c in gate_evaluate(v2)["checks"] if c["name"] == "rollback_path_tested")
    assert check["status"] == "fail" and "artifact missing" in check["evidence"]
