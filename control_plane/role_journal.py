"""Role changes reach the journal whatever made them: the Django admin, the shell,
`user_create`, a data migration. Signals are the one place every path passes through
(the admin saves users and their groups itself), so this is the exception to "no
business rules in signals": it only records, it never decides.

Events: `user.groups_changed` (before/after: group names), `user.flags_changed`
(before/after: the is_staff, is_superuser and is_active values that changed) and
`user.password_changed` (no hash, no password). The actor is the signed-in user of
the request being served, else "system" (the shell, a task).
"""

from django.contrib.auth.models import Group, User
from django.db import transaction
from django.db.models.signals import m2m_changed, post_save, pre_save

from .journal import event_append
from .request_context import current_request

FLAGS = ("is_active", "is_staff", "is_superuser")


def _actor():
    user = getattr(current_request(), "user", None)
    return user if user is not None and user.is_authenticated else None


def _append(type_: str, target: User, **payload) -> None:
    with transaction.atomic():  # joins the caller's transaction when there is one
        event_append(type=type_, actor=_actor(), payload={"target": target.get_username(), **payload})


def _remember_flags(sender, instance: User, update_fields=None, **kwargs) -> None:
    watched = set(FLAGS) | {"password"}
    if instance.pk is None or (update_fields is not None and not watched & set(update_fields)):
        instance._cp_flags_before = None
        return
    instance._cp_flags_before = User.objects.filter(pk=instance.pk).values(*FLAGS).first()


def _journal_flags(sender, instance: User, created: bool, **kwargs) -> None:
    before = getattr(instance, "_cp_flags_before", None)
    instance._cp_flags_before = None
    if created or before is None:
        return
    changed = sorted(f for f in FLAGS if before[f] != getattr(instance, f))
    if changed:
        _append(
            "user.flags_changed",
            instance,
            before={f: before[f] for f in changed},
            after={f: getattr(instance, f) for f in changed},
        )
    # set_password() leaves the raw password in `_password` until save() finishes; a
    # hash upgraded at login does not, so it is not mistaken for a change.
    if getattr(instance, "_password", None) is not None:
        _append("user.password_changed", instance)


def _group_names(user_id: int) -> list[str]:
    return sorted(Group.objects.filter(user__pk=user_id).values_list("name", flat=True))


def _affected_users(instance, reverse: bool, pk_set) -> list[int]:
    if not reverse:
        return [instance.pk]
    if pk_set is None:  # clearing a group: all its members
        return list(instance.user_set.values_list("pk", flat=True))
    return sorted(pk_set)


def _journal_groups(sender, instance, action: str, reverse: bool, pk_set, **kwargs) -> None:
    if action.startswith("pre_"):
        instance._cp_groups_before = {uid: _group_names(uid) for uid in _affected_users(instance, reverse, pk_set)}
        return
    before = getattr(instance, "_cp_groups_before", None) or {}
    instance._cp_groups_before = None
    for user_id, names in before.items():
        after = _group_names(user_id)
        if after != names:
            _append("user.groups_changed", User.objects.get(pk=user_id), before=names, after=after)


def connect() -> None:
    pre_save.connect(_remember_flags, sender=User, dispatch_uid="role_journal_pre_save")
    post_save.connect(_journal_flags, sender=User, dispatch_uid="role_journal_post_save")
    m2m_changed.connect(_journal_groups, sender=User.groups.through, dispatch_uid="role_journal_groups")
