"""An extension point for rules that tie a version's tags to its input schema: other apps
provide a rule (`provide_tag_rule`); registration and tag edits call `check_version_tags`,
which refuses with 422 naming every problem. (The feature store checks that a version
naming a feature service has the service's features in its schema.)"""

from collections.abc import Callable

from control_plane.errors import Conflict, Invalid

from .stages import PRODUCTION

TagRule = Callable[[dict, list], dict[str, list[str]]]  # (tags, input_schema) -> {field: [problems]}
_rules: list[TagRule] = []
# Tags that decide what a version is given as input: changing one on the Production version
# would change what serves traffic without a promotion request, so it is refused there.
_locked_in_production: set[str] = set()


def lock_in_production(key: str) -> None:
    _locked_in_production.add(key)


def provide_tag_rule(rule: TagRule) -> None:
    if rule not in _rules:
        _rules.append(rule)


def check_version_tags(tags: dict | None, input_schema: list | None, *, version=None) -> None:
    """`version`: the version whose tags change (None at registration)."""
    if version is not None and version.stage == PRODUCTION:
        changed = sorted(k for k in _locked_in_production if (tags or {}).get(k) != (version.tags or {}).get(k))
        if changed:
            raise Conflict(
                f"{', '.join(changed)} cannot change on the Production version: it decides what the model is given. "
                "Register a new version with the tag and promote it.",
                code="tag_locked_in_production", details={"tags": changed},
            )
    problems: dict[str, list[str]] = {}
    for rule in _rules:
        for field, found in rule(tags or {}, input_schema or []).items():
            problems.setdefault(field, []).extend(found)
    if problems:
        first = next(iter(problems.values()))[0]
        raise Invalid(f"The version's tags do not fit its schema: {first}", code="tag_schema_mismatch", details=problems)
