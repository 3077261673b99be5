"""An extension point for rules that tie a version's tags to its input schema: other apps
provide a rule (`provide_tag_rule`); registration and tag edits call `check_version_tags`,
which refuses with 422 naming every problem. (The feature store checks that a version
naming a feature service has the service's features in its schema.)"""

from collections.abc import Callable

from control_plane.errors import Invalid

TagRule = Callable[[dict, list], dict[str, list[str]]]  # (tags, input_schema) -> {field: [problems]}
_rules: list[TagRule] = []


def provide_tag_rule(rule: TagRule) -> None:
    if rule not in _rules:
        _rules.append(rule)


def check_version_tags(tags: dict | None, input_schema: list | None) -> None:
    problems: dict[str, list[str]] = {}
    for rule in _rules:
        for field, found in rule(tags or {}, input_schema or []).items():
            problems.setdefault(field, []).extend(found)
    if problems:
        first = next(iter(problems.values()))[0]
        raise Invalid(f"The version's tags do not fit its schema: {first}", code="tag_schema_mismatch", details=problems)
