"""The release gate: the seven rules a release must prove, each a function of a
model version returning pass, fail or not_available with evidence text.

Later features bring their evidence by calling `provide_check(name, func)` from
their AppConfig.ready(); the framework itself does not change. `not_available`
does not block an approval; `fail` does, unless the approver overrides it.
"""

from collections.abc import Callable
from dataclasses import asdict, dataclass

from django.utils import timezone

PASS, FAIL, NOT_AVAILABLE = "pass", "fail", "not_available"


@dataclass(frozen=True)
class CheckResult:
    status: str
    evidence: str


@dataclass(frozen=True)
class GateCheck:
    name: str
    label: str
    func: Callable[..., CheckResult]


def _not_built_yet(feature: str) -> Callable[..., CheckResult]:
    def check(version) -> CheckResult:
        return CheckResult(NOT_AVAILABLE, f"No evidence source yet: {feature} is not part of this installation.")

    return check


# Order is the order shown to approvers.
_CHECKS: dict[str, GateCheck] = {}


def define_check(name: str, label: str, func: Callable[..., CheckResult]) -> None:
    _CHECKS[name] = GateCheck(name, label, func)


def provide_check(name: str, func: Callable[..., CheckResult]) -> None:
    """Replace a check's evidence function (used by the apps that produce the evidence)."""
    if name not in _CHECKS:
        raise KeyError(f"Unknown gate check {name!r}; known: {', '.join(_CHECKS)}")
    _CHECKS[name] = GateCheck(name, _CHECKS[name].label, func)


def checks() -> list[GateCheck]:
    return list(_CHECKS.values())


def gate_evaluate(version) -> dict:
    """Run every check; the result is plain JSON, stored with requests and decisions."""
    results = []
    for check in checks():
        try:
            result = check.func(version)
        except Exception as exc:  # a broken evidence source fails its check, not the page
            result = CheckResult(FAIL, f"The check itself failed: {type(exc).__name__}: {exc}")
        results.append({"name": check.name, "label": check.label, **asdict(result)})
    failing = [r["name"] for r in results if r["status"] == FAIL]
    return {
        "evaluated_at": timezone.now().isoformat(),
        "passed": not failing,
        "failing": failing,
        "checks": results,
    }


define_check("registered", "Registered with version and stage", lambda v: CheckResult(NOT_AVAILABLE, ""))
define_check("serving_schema", "Serving schema present and valid", lambda v: CheckResult(NOT_AVAILABLE, ""))
define_check("shadow_or_canary_first", "Shadow or canary run first", _not_built_yet("serving"))
define_check("drift_detection_scheduled", "Drift detection scheduled", _not_built_yet("drift monitoring"))
define_check("retraining_trigger_defined", "Retraining trigger defined", _not_built_yet("retraining"))
define_check("prediction_logs_captured", "Prediction logs captured", _not_built_yet("the prediction log"))
define_check("rollback_path_tested", "Rollback path tested", _not_built_yet("serving"))
