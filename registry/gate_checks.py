"""The gate checks the registry itself has evidence for."""

from .gate import FAIL, PASS, CheckResult, provide_check
from .schema import schema_problems
from .stages import STAGING


def check_registered(version) -> CheckResult:
    if not version.source:
        return CheckResult(FAIL, "The version has no source URI.")
    if version.stage != STAGING:
        return CheckResult(FAIL, f"{version.model.name} v{version.version} is in stage '{version.stage}', not staging.")
    return CheckResult(
        PASS, f"{version.model.name} v{version.version}, stage {version.stage}, source {version.source}."
    )


def check_serving_schema(version) -> CheckResult:
    if version.signature_found is False:
        return CheckResult(
            FAIL,
            f"The MLflow model at {version.source} has no signature, so serving cannot validate requests: "
            "log it with signature=infer_signature(X, y) and register again.",
        )
    if not version.input_schema:
        return CheckResult(FAIL, "No input schema registered: serving cannot validate requests.")
    problems = schema_problems(version.input_schema)
    if problems:
        return CheckResult(FAIL, "Input schema is invalid: " + "; ".join(problems))
    features = ", ".join(f"{f['name']}:{f['type']}{'?' if f.get('nullable') else ''}" for f in version.input_schema)
    return CheckResult(PASS, f"{len(version.input_schema)} input features: {features}.")


def register() -> None:
    provide_check("registered", check_registered)
    provide_check("serving_schema", check_serving_schema)
