"""A model version names a feature service by tag `features.service=<name>:<version>`.
The rule checked at registration and on tag edits: the service exists and every one of
its features is in the version's input schema with a type that holds it."""

from .definitions import parse_ref

TAG = "features.service"
# Feature type -> the schema types that hold its values.
COMPATIBLE = {
    "int": {"integer", "long", "double", "float"},
    "float": {"double", "float"},
    "string": {"string"},
    "bool": {"boolean"},
    "timestamp": {"datetime"},
}


def service_schema_problems(tags: dict, input_schema: list) -> dict[str, list[str]]:
    text = tags.get(TAG)
    if text is None:
        return {}
    from .models import FeatureService, FeatureView

    name, _, version = str(text).partition(":")
    if not version.isdigit():
        return {f"tags.{TAG}": [f"'{text}' must be '<service>:<version>', e.g. 'churn:1'."]}
    service = FeatureService.objects.filter(name=name, version=int(version)).first()
    if service is None:
        return {f"tags.{TAG}": [f"No feature service '{text}'."]}
    refs = [parse_ref(r) for r in service.features]
    types = {}
    for view in FeatureView.objects.filter(name__in={v for v, _ in refs}):
        for feature in view.features:
            types[(view.name, feature["name"])] = feature["type"]
    schema = {c.get("name"): c.get("type") for c in input_schema if isinstance(c, dict)}
    problems = []
    for view, feature in refs:
        kind = types.get((view, feature))
        if feature not in schema:
            problems.append(f"{feature} ({view}:{feature}, {kind}) is not in the input schema")
        elif kind and schema[feature] not in COMPATIBLE[kind]:
            problems.append(f"{feature} is {kind} in {view} but {schema[feature]} in the input schema")
    return {"input_schema": problems} if problems else {}
