"""The gate's fifth rule, from retraining's evidence."""

import pytest

from registry.gate import gate_evaluate

from .conftest import make_policy

pytestmark = pytest.mark.django_db


def _check(version):
    return next(c for c in gate_evaluate(version)["checks"] if c["name"] == "retraining_trigger_defined")


def test_not_available_only_for_a_model_neither_served_nor_monitored(champion):
    assert _check(champion)["status"] == "not_available"


def test_fails_without_a_policy_when_traffic_is_logged(traffic):
    check = _check(traffic)
    assert check["status"] == "fail" and "No retraining policy" in check["evidence"]


def test_fails_manual_only_and_disabled_passes_with_a_trigger_and_trainer(traffic, contributor):
    policy = make_policy(traffic.model, contributor, triggers={})
    check = _check(traffic)
    assert check["status"] == "fail" and "manual-only" in check["evidence"]
    make_policy(traffic.model, contributor, triggers={"schedule": "0 2 * * *", "drift": {"key_features": ["tenure_months"]}})
    check = _check(traffic)
    assert check["status"] == "pass"
    assert "python retraining.sample_trainer.train_gradient_boosting" in check["evidence"]
    assert "schedule '0 2 * * *' (UTC)" in check["evidence"] and "tenure_months" in check["evidence"]
    from retraining.policies import retraining_policy_put

    retraining_policy_put(model=policy.model, actor=contributor, enabled=False)
    assert _check(traffic)["status"] == "fail" and "disabled" in _check(traffic)["evidence"]
