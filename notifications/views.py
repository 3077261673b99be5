"""Notification pages: the channel list with health, the channel form, a channel's
delivery history, and the deliveries of one journal event. Thin, like the API."""

import json
import re

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.shortcuts import redirect, render
from django.views.decorators.http import require_http_methods, require_POST

from control_plane.errors import ServiceError
from control_plane.roles import MANAGE_USERS, user_can
from control_plane.views import or_404, refuse, role_required

from . import selectors, services
from .config import config_public
from .models import ChannelKind, DeliveryStatus

DELIVERIES_PER_PAGE = 20


def _require_admin(request) -> None:
    if not user_can(request.user, MANAGE_USERS):
        raise PermissionDenied("Only an admin can manage notification channels.")


def _split(raw: str | None) -> list[str]:
    return [part for part in re.split(r"[,\s]+", raw or "") if part]


def _form_input(post, kind: str, *, editing: bool) -> dict:
    """The form as service arguments. On edit, an empty URL or secret field keeps the
    stored one (they are never shown back)."""
    config: dict = {}
    if kind == ChannelKind.EMAIL:
        config["addresses"] = _split(post.get("addresses"))
    else:
        for key in ("url", "secret") if kind == ChannelKind.WEBHOOK else ("url",):
            value = post.get(key, "").strip()
            if value or not editing:
                config[key] = value
    return {
        "name": post.get("name", ""),
        "config": config,
        "events": sorted(set(post.getlist("events")) | set(_split(post.get("extra_events")))),
        "models": _split(post.get("models")),
        "enabled": post.get("enabled") == "on",
    }


def _with_payload_text(deliveries) -> list:
    deliveries = list(deliveries)
    for delivery in deliveries:
        for attempt in delivery.attempts.all():
            attempt.payload_text = json.dumps(attempt.payload, indent=2, sort_keys=True, ensure_ascii=False)
    return deliveries


@role_required
def channel_list(request):
    channels = list(selectors.channel_list())
    for channel in channels:
        channel.public = config_public(channel.kind, channel.config)
    return render(
        request,
        "notifications/channel_list.html",
        {"channels": channels, "can_manage": user_can(request.user, MANAGE_USERS)},
    )


def _form_page(request, *, channel=None, status=200):
    posted = request.POST if request.method == "POST" else None
    if posted is not None:
        selected = set(posted.getlist("events"))
    else:
        selected = set(channel.events) if channel else set()
    choices = selectors.event_type_choices()
    return render(
        request,
        "notifications/channel_form.html",
        {
            "channel": channel,
            "public": config_public(channel.kind, channel.config) if channel else {},
            "kinds": ChannelKind.values,
            "event_choices": [(t, t in selected) for t in choices],
            "extra_events": ", ".join(sorted(selected - set(choices))),
            "posted": posted or {},
        },
        status=status,
    )


@role_required
@require_http_methods(["GET", "POST"])
def channel_new(request):
    _require_admin(request)
    if request.method == "GET":
        return _form_page(request)
    kind = request.POST.get("kind", "")
    try:
        channel = services.channel_create(
            actor=request.user, kind=kind, **_form_input(request.POST, kind, editing=False)
        )
    except ServiceError as exc:
        return _form_page(request, status=refuse(request, exc))
    messages.success(request, f"Channel '{channel.name}' created.")
    return redirect("channel-detail", pk=channel.pk)


@role_required
@require_http_methods(["GET", "POST"])
def channel_edit(request, pk):
    _require_admin(request)
    channel = or_404(selectors.channel_get, pk)
    if request.method == "GET":
        return _form_page(request, channel=channel)
    try:
        services.channel_update(
            actor=request.user, channel_id=pk, **_form_input(request.POST, channel.kind, editing=True)
        )
    except ServiceError as exc:
        return _form_page(request, channel=channel, status=refuse(request, exc))
    messages.success(request, f"Channel '{channel.name}' saved.")
    return redirect("channel-detail", pk=pk)


@role_required
def channel_detail(request, pk):
    channel = or_404(selectors.channel_get, pk)
    page = Paginator(selectors.channel_deliveries(channel), DELIVERIES_PER_PAGE).get_page(request.GET.get("page"))
    return render(
        request,
        "notifications/channel_detail.html",
        {
            "channel": channel,
            "public": config_public(channel.kind, channel.config),
            "page": page,
            "deliveries": _with_payload_text(page.object_list),
            "can_manage": user_can(request.user, MANAGE_USERS),
        },
    )


@role_required
@require_POST
def channel_test(request, pk):
    _require_admin(request)
    try:
        delivery = services.channel_test_send(actor=request.user, channel_id=pk)
    except ServiceError as exc:
        refuse(request, exc)
        return redirect("channels")
    if delivery.status == DeliveryStatus.SUCCEEDED:
        messages.success(request, "Test message sent.")
    else:
        messages.error(request, f"Test message failed: {delivery.last_error}")
    return redirect("channel-detail", pk=pk)


@role_required
@require_POST
def channel_delete(request, pk):
    _require_admin(request)
    try:
        services.channel_delete(actor=request.user, channel_id=pk)
    except ServiceError as exc:
        refuse(request, exc)
        return redirect("channels")
    messages.success(request, "Channel deleted.")
    return redirect("channels")


@role_required
def event_deliveries(request, pk):
    event = or_404(selectors.event_get, pk)
    return render(
        request,
        "notifications/event_deliveries.html",
        {"event": event, "deliveries": _with_payload_text(selectors.event_deliveries(event))},
    )
