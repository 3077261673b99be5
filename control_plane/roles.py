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
