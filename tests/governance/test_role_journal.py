"""Issue 11, item 6: role changes from any path (the Django admin, the shell,
user_create) append journal events with actor, target, before and after."""

import pytest
from django.contrib.auth.models import Group, User

from control_plane.models import Event
from control_plane.users import user_create
from tests.conftest import PASSWORD


def events(type_, target):
    """The events of this type about `target` since the test's users were made."""
    return list(Event.objects.filter(type=type_, payload__target=target, id__gt=MARK["id"]).order_by("id"))


MARK = {"id": 0}


@pytest.fixture(autouse=True)
def mark(admin, viewer):
    MARK["id"] = Event.objects.order_by("-id").values_list("id", flat=True).first() or 0


def admin_change_form(user, **changes):
    data = {
        "username": user.username,
        "first_name": "",
        "last_name": "",
        "email": user.email,
        "is_active": "on" if user.is_active else "",
        "is_staff": "on" if user.is_staff else "",
        "is_superuser": "on" if user.is_superuser else "",
        "groups": [str(g.pk) for g in user.groups.all()],
        "last_login_0": "",
        "last_login_1": "",
        "date_joined_0": user.date_joined.strftime("%Y-%m-%d"),
        "date_joined_1": user.date_joined.strftime("%H:%M:%S"),
        "initial-date_joined_0": user.date_joined.strftime("%Y-%m-%d"),
        "initial-date_joined_1": user.date_joined.strftime("%H:%M:%S"),
    }
    data.update(changes)
    return {k: v for k, v in data.items() if v != ""}


def test_a_role_granted_in_the_django_admin_is_journaled_with_its_actor(client, admin, viewer):
    client.force_login(admin)
    approver_group = Group.objects.get_or_create(name="approver")[0]
    form = admin_change_form(viewer, groups=[str(g.pk) for g in viewer.groups.all()] + [str(approver_group.pk)], is_staff="on")

    r = client.post(f"/admin/auth/user/{viewer.pk}/change/", form)

    assert r.status_code == 302, r.content.decode()[:2000]
    [granted] = events("user.groups_changed", viewer.username)
    assert granted.actor_name == admin.username
    assert granted.payload["before"] == ["viewer"] and granted.payload["after"] == ["approver", "viewer"]
    [flags] = events("user.flags_changed", viewer.username)
    assert flags.actor_name == admin.username
    assert flags.payload["before"] == {"is_staff": False} and flags.payload["after"] == {"is_staff": True}


def test_a_password_set_in_the_django_admin_is_journaled(client, admin, viewer):
    client.force_login(admin)

    r = client.post(
        f"/admin/auth/user/{viewer.pk}/password/",
        {"password1": "a-new-long-passphrase-1", "password2": "a-new-long-passphrase-1", "usable_password": "true"},
    )

    assert r.status_code == 302, r.content.decode()[:2000]
    [changed] = events("user.password_changed", viewer.username)
    assert changed.actor_name == admin.username
    assert "a-new-long" not in str(changed.payload) and "md5" not in str(changed.payload)


def test_shell_changes_are_journaled_as_system(viewer):
    viewer.is_superuser = True
    viewer.is_active = False
    viewer.save()
    Group.objects.get(name="viewer").user_set.remove(viewer)  # from the group's side

    [flags] = events("user.flags_changed", viewer.username)
    assert flags.actor_name == "system"
    assert flags.payload["before"] == {"is_active": True, "is_superuser": False}
    assert flags.payload["after"] == {"is_active": False, "is_superuser": True}
    [removed] = events("user.groups_changed", viewer.username)
    assert removed.actor_name == "system" and removed.payload["before"] == ["viewer"] and removed.payload["after"] == []


def test_user_create_re_roling_someone_is_journaled(viewer):
    user_create(username=viewer.username, role="admin", password=PASSWORD)

    changes = events("user.groups_changed", viewer.username)
    assert changes and changes[0].payload["before"] == ["viewer"] and changes[-1].payload["after"] == ["admin"]
    [flags] = events("user.flags_changed", viewer.username)
    assert flags.payload["after"] == {"is_staff": True, "is_superuser": True}


def test_a_login_is_not_a_role_change(client, viewer):
    assert client.login(username=viewer.username, password=PASSWORD)

    assert not Event.objects.filter(type__startswith="user.", payload__target=viewer.username, id__gt=MARK["id"]).exists()
    assert User.objects.get(pk=viewer.pk).last_login is not None


def test_a_new_users_first_role_is_journaled_but_not_as_a_password_change(db):
    user_create(username="newcomer", role="approver")

    assert [e.payload["after"] for e in events("user.groups_changed", "newcomer")] == [["approver"]]
    assert events("user.password_changed", "newcomer") == []
