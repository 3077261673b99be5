"""The stage rules, in one table: which moves exist, who may make them, and which
can only happen through a promotion request or a rollback."""

from dataclasses import dataclass

from control_plane import roles

NONE, STAGING, PRODUCTION, ARCHIVED = "none", "staging", "production", "archived"
STAGES = (NONE, STAGING, PRODUCTION, ARCHIVED)
STAGE_CHOICES = [(NONE, "None"), (STAGING, "Staging"), (PRODUCTION, "Production"), (ARCHIVED, "Archived")]


@dataclass(frozen=True)
class Transition:
    capability: str
    # "direct": the stage endpoint may make it; "promotion": only an approved promotion
    # request; "rollback": only the rollback action; "system": only as a side effect
    # (the old Production version archived when a new one arrives).
    via: str


TRANSITIONS: dict[tuple[str, str], Transition] = {
    (NONE, STAGING): Transition(roles.CHANGE_STAGE, "direct"),
    (NONE, ARCHIVED): Transition(roles.CHANGE_STAGE, "direct"),
    (STAGING, NONE): Transition(roles.CHANGE_STAGE, "direct"),
    (STAGING, ARCHIVED): Transition(roles.CHANGE_STAGE, "direct"),
    (ARCHIVED, STAGING): Transition(roles.CHANGE_STAGE, "direct"),
    (STAGING, PRODUCTION): Transition(roles.DECIDE_PROMOTION, "promotion"),
    (ARCHIVED, PRODUCTION): Transition(roles.ROLLBACK, "rollback"),
    (PRODUCTION, ARCHIVED): Transition(roles.ROLLBACK, "system"),
}


def transition_rule(from_stage: str, to_stage: str) -> Transition | None:
    return TRANSITIONS.get((from_stage, to_stage))


def direct_targets(from_stage: str) -> list[str]:
    """Stages the stage endpoint (and the version page) can move a version to."""
    return [to for (frm, to), rule in TRANSITIONS.items() if frm == from_stage and rule.via == "direct"]
