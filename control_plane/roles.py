"""Roles are Django groups; each grants a set of capabilities. One table, used by the
API permissions, the pages and the templates."""

from django.contrib.auth.models import AnonymousUser, User

VIEWER, CONTRIBUTOR, APPROVER, ADMIN = "viewer", "contributor", "approver", "admin"
ROLES = (VIEWER, CONTRIBUTOR, APPROVER, ADMIN)

READ = "read"
REGISTER = "register"  # create models, register versions, edit metadata
CHANGE_STAGE = "change_stage"  # none/staging/archived moves
REQUEST_PROMOTION = "request_promotion"
DECIDE_PROMOTION = "decide_promotion"  # approve or reject someone else's request
ROLLBACK = "rollback"
DELETE_MODEL = "delete_model"
MANAGE_USERS = "manage_users"  # tokens of others, users
MONITOR = "monitor"  # edit a model's monitor policy, start drift runs

ROLE_CAPABILITIES: dict[str, frozenset[str]] = {
    VIEWER: frozenset({READ}),
    CONTRIBUTOR: frozenset({READ, REGISTER, CHANGE_STAGE, REQUEST_PROMOTION, MONITOR}),
    APPROVER: frozenset({READ, DECIDE_PROMOTION, ROLLBACK, CHANGE_STAGE, MONITOR}),
    ADMIN: frozenset(
        {READ, REGISTER, CHANGE_STAGE, REQUEST_PROMOTION, DECIDE_PROMOTION, ROLLBACK, DELETE_MODEL, MANAGE_USERS}
        | {MONITOR}
    ),
}


def user_roles(user: User | AnonymousUser) -> set[str]:
    if not user.is_authenticated:
        return set()
    if user.is_superuser:
        return {ADMIN}
    cached = getattr(user, "_cp_roles", None)
    if cached is None:
        cached = set(user.groups.filter(name__in=ROLES).values_list("name", flat=True))
        user._cp_roles = cached
    return cached


def user_capabilities(user: User | AnonymousUser) -> frozenset[str]:
    caps: set[str] = set()
    for role in user_roles(user):
        caps |= ROLE_CAPABILITIES[role]
    return frozenset(caps)


def user_can(user: User | AnonymousUser, capability: str) -> bool:
    return capability in user_capabilities(user)


# What each capability lets a person do, in the words the pages use.
CAPABILITY_WORDS = {
    READ: "read models and requests",
    REGISTER: "register models and versions",
    CHANGE_STAGE: "move versions between stages",
    REQUEST_PROMOTION: "request a promotion",
    DECIDE_PROMOTION: "approve or reject promotion requests",
    ROLLBACK: "roll a model back",
    DELETE_MODEL: "delete models",
    MANAGE_USERS: "manage users and other people's tokens",
    MONITOR: "change drift monitoring or start drift runs",
}


def not_allowed(capability: str, user: User | AnonymousUser | None = None) -> str:
    """'Your role (viewer) cannot approve or reject promotion requests; approvers and admins can.'"""
    mine = sorted(user_roles(user)) if user is not None else []
    holders = [f"{r}s" for r in ROLES if capability in ROLE_CAPABILITIES[r]]
    who = " and ".join([", ".join(holders[:-1]), holders[-1]] if len(holders) > 1 else holders)
    role = f"Your role ({', '.join(mine)})" if mine else "Your role"
    return f"{role} cannot {CAPABILITY_WORDS.get(capability, capability.replace('_', ' '))}; {who} can."
