"""Channel use-cases: keyword-only, one transaction each, one journal event per change.

Journal payloads name the channel and what changed, never a secret."""

import unicodedata

from django.contrib.auth.models import AnonymousUser, User
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction

from control_plane.errors import Conflict, Forbidden, Invalid, NotFound
from control_plane.journal import event_append
from control_plane.roles import MANAGE_USERS, user_can

from .config import config_clean, subscriptions_clean
from .delivery import delivery_attempt
from .models import Channel, ChannelKind, Delivery

# Control, format and line/paragraph separator characters: never in a name.
CONTROL_CATEGORIES = {"Cc", "Cf", "Zl", "Zp"}


def _require_admin(actor: User | AnonymousUser) -> None:
    if not user_can(actor, MANAGE_USERS):
        raise Forbidden("Only an admin can manage notification channels.", code="permission_denied")


def _lock(channel_id: int) -> Channel:
    channel = Channel.objects.select_for_update().filter(pk=channel_id).first()
    if channel is None:
        raise NotFound(f"Channel {channel_id} does not exist.", code="channel_not_found")
    return channel


def _clean_name(name: str, *, exclude: int | None = None) -> str:
    if any(unicodedata.category(c) in CONTROL_CATEGORIES for c in name or ""):
        raise Invalid(
            "The name contains a control character (such as a line break or tab).",
            details={"name": ["No control characters (they end up in mail headers)."]},
        )
    name = (name or "").strip()
    if not name:
        raise Invalid("A channel needs a name.", details={"name": ["This field is required."]})
    if len(name) > 100:
        raise Invalid("The name is longer than 100 characters.", details={"name": ["At most 100 characters."]})
    if Channel.objects.filter(name=name).exclude(pk=exclude).exists():
        raise Conflict(f"A channel named '{name}' already exists.", code="channel_exists", details={"name": ["Taken."]})
    return name


def _save(channel: Channel) -> None:
    try:
        channel.full_clean(validate_unique=False, validate_constraints=False)
    except ValidationError as exc:
        raise Invalid("Invalid channel.", details=exc.message_dict) from None
    try:
        with transaction.atomic():
            channel.save()
    except IntegrityError:  # lost a race for the name
        raise Conflict(f"A channel named '{channel.name}' already exists.", code="channel_exists") from None


def _summary(channel: Channel) -> dict:
    return {
        "channel": channel.pk,
        "name": channel.name,
        "kind": channel.kind,
        "events": channel.events,
        "models": channel.model_names,
    }


def channel_create(
    *,
    actor: User,
    kind: str,
    name: str,
    config: dict,
    events: list[str],
    models: list[str] | None = None,
    enabled: bool = True,
) -> Channel:
    _require_admin(actor)
    if kind not in ChannelKind.values:
        raise Invalid(f"Unknown channel kind '{kind}'.", details={"kind": [f"One of {', '.join(ChannelKind.values)}."]})
    events, models = subscriptions_clean(events=events, models=models or [])
    with transaction.atomic():
        channel = Channel(
            kind=kind,
            name=_clean_name(name),
            config=config_clean(kind, config),
            events=events,
            model_names=models,
            enabled=enabled,
            disabled_reason="" if enabled else f"Disabled by {actor.get_username()}.",
            created_by=actor,
        )
        _save(channel)
        event_append(type="channel.created", actor=actor, payload=_summary(channel))
    return channel


def channel_update(
    *,
    actor: User,
    channel_id: int,
    name: str | None = None,
    config: dict | None = None,
    events: list[str] | None = None,
    models: list[str] | None = None,
    enabled: bool | None = None,
) -> Channel:
    """Change what is given (None leaves a field as it is). A config update merges into
    the stored one, so leaving a secret out keeps it. Enabling a channel clears its
    failure count and disabled reason."""
    _require_admin(actor)
    with transaction.atomic():
        channel = _lock(channel_id)
        changed = []
        if name is not None and name.strip() != channel.name:
            channel.name = _clean_name(name, exclude=channel.pk)
            changed.append("name")
        if config is not None:
            cleaned = config_clean(channel.kind, config, previous=channel.config)
            if cleaned != channel.config:
                channel.config = cleaned
                changed.append("config")
        if events is not None or models is not None:
            new_events, new_models = subscriptions_clean(
                events=channel.events if events is None else events,
                models=channel.model_names if models is None else models,
            )
            changed += [f for f, old, new in (("events", channel.events, new_events),
                                                ("models", channel.model_names, new_models)) if old != new]
            channel.events, channel.model_names = new_events, new_models
        if enabled is not None and enabled != channel.enabled:
            channel.enabled = enabled
            channel.disabled_reason = "" if enabled else f"Disabled by {actor.get_username()}."
            if enabled:
                channel.consecutive_permanent_failures = 0
            changed.append("enabled")
        if changed:
            _save(channel)
            event_append(type="channel.updated", actor=actor, payload=_summary(channel) | {"changed": changed})
    return channel


def channel_delete(*, actor: User, channel_id: int) -> None:
    """Delete a channel with its delivery history (the journal keeps the events)."""
    _require_admin(actor)
    with transaction.atomic():
        channel = _lock(channel_id)
        summary = _summary(channel)
        channel.delete()
        event_append(type="channel.deleted", actor=actor, payload=summary)


def channel_test_send(*, actor: User, channel_id: int) -> Delivery:
    """Send a test message now, even to a disabled channel, without retries: a
    `channel.tested` event and its delivery to this channel, sent in this request.
    The answer counts toward the channel's health like any other."""
    _require_admin(actor)
    with transaction.atomic():
        channel = _lock(channel_id)
        event = event_append(
            type="channel.tested",
            actor=actor,
            payload={"channel": channel.pk, "name": channel.name, "message": "A test message from the control plane."},
        )
        delivery = Delivery.objects.create(event=event, channel=channel)
        delivery_attempt(delivery_id=delivery.pk, retry=False, force=True)
    return Delivery.objects.select_related("event", "channel").prefetch_related("attempts").get(pk=delivery.pk)
