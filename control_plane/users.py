"""Creating users with a role (used by the create_user command and the demo)."""

import secrets

from django.contrib.auth.models import Group, User
from django.db import transaction

from .errors import Invalid
from .journal import event_append
from .roles import ADMIN, ROLES


def user_create(*, username: str, role: str, password: str | None = None, email: str = "") -> tuple[User, str]:
    """Create (or re-role) a user. Returns the user and the password that was set."""
    if role not in ROLES:
        raise Invalid(f"Unknown role '{role}'; use one of {', '.join(ROLES)}.", details={"role": ["Unknown role."]})
    password = password or secrets.token_urlsafe(12)
    with transaction.atomic():
        # A new user is saved once, complete: the role journal records changes, not births.
        user = User.objects.select_for_update().filter(username=username).first()
        created = user is None
        if created:
            user = User(username=username, email=email)
        user.set_password(password)
        user.is_staff = role == ADMIN
        user.is_superuser = role == ADMIN
        if email:
            user.email = email
        user.save()
        user.groups.set([Group.objects.get_or_create(name=role)[0]])
        event_append(
            type="user.created" if created else "user.updated",
            actor=None,
            payload={"username": username, "role": role},
        )
    return user, password
