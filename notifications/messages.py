"""What a journal event says to a person: a title, a summary, and a link to its page."""

from dataclasses import dataclass

from django.conf import settings
from django.urls import NoReverseMatch, reverse

from control_plane.models import Event

# The event types offered in the subscription form. Any type matching [a-z_]+\.[a-z_]+
# is accepted (later features add their own); these get a readable title.
KNOWN_EVENT_TYPES: dict[str, str] = {
    "promotion.requested": "Promotion requested",
    "promotion.approval_recorded": "Approval recorded",
    "promotion.approved": "Promotion approved",
    "promotion.rejected": "Promotion rejected",
    "promotion.cancelled": "Promotion cancelled",
    "gate.overridden": "Release gate overridden",
    "version.stage_changed": "Stage changed",
    "model.rolled_back": "Rolled back",
    "version.registered": "Version registered",
    "version.updated": "Version updated",
    "version.deleted": "Version deleted",
    "model.created": "Model created",
    "model.updated": "Model updated",
    "model.renamed": "Model renamed",
    "model.deleted": "Model deleted",
    "alias.set": "Alias set",
    "alias.deleted": "Alias deleted",
    "registry.imported": "Imported from MLflow",
    "channel.created": "Channel created",
    "channel.updated": "Channel updated",
    "channel.deleted": "Channel deleted",
    "channel.disabled": "Channel disabled",
    "channel.tested": "Test notification",
    "reference.uploaded": "Reference profile uploaded",
    "reference.failed": "Reference profile failed",
    "monitor.updated": "Monitor policy updated",
    "drift.detected": "Major drift detected",
    "performance.degraded": "Performance below its floor",
    "retraining.policy_updated": "Retraining policy updated",
    "retraining.triggered": "Retraining triggered",
    "retraining.suppressed": "Retraining trigger suppressed",
    "retraining.step_failed": "Retraining step failed",
    "retraining.completed": "Retraining completed",
    "retraining.retried": "Retraining retried",
    "retraining.cancelled": "Retraining cancelled",
}


@dataclass(frozen=True)
class Notice:
    event_id: int
    type: str
    created_at: str
    model: str
    version: int | None
    actor: str
    payload: dict
    title: str
    summary: str
    url: str


def _path(event: Event) -> str:
    payload = event.payload if isinstance(event.payload, dict) else {}
    promotion = payload.get("promotion_request")
    try:
        if event.type.split(".")[0] in ("promotion", "gate") and isinstance(promotion, int):
            return reverse("promotion-detail", args=[promotion])
        if event.type.startswith("retraining.") and isinstance(payload.get("run"), int):
            return reverse("retraining-run", args=[payload["run"]])
        if event.model_name:
            return reverse("model-detail", args=[event.model_name])
        if event.type.startswith("channel.") and isinstance(payload.get("channel"), int):
            return reverse("channel-detail", args=[payload["channel"]])
    except NoReverseMatch:
        pass
    return reverse("audit") + f"?type={event.type}"


def _target(event: Event) -> str:
    if event.model_name and event.version:
        return f"{event.model_name} v{event.version}"
    return event.model_name


def _retraining_summary(type_: str, payload: dict) -> str:
    run = f" Run #{payload['run']}" if payload.get("run") else ""
    if type_ == "retraining.triggered":
        return f"{run} started by the {payload.get('trigger')} trigger."
    if type_ == "retraining.suppressed":
        return f" The {payload.get('trigger')} trigger was suppressed ({payload.get('code')})."
    if type_ == "retraining.step_failed":
        return f"{run}: step {payload.get('step')} failed: {payload.get('error')}"
    if type_ == "retraining.completed":
        return f"{run} verdict: {payload.get('verdict')}."
    return run


def notice_for(event: Event) -> Notice:
    label = KNOWN_EVENT_TYPES.get(event.type, event.type)
    target = _target(event)
    payload = event.payload if isinstance(event.payload, dict) else {}
    title = f"{label}: {target}" if target else label
    if event.type == "version.stage_changed" and payload.get("to"):
        title += f" → {payload['to']}"
    if event.type.startswith("channel.") and payload.get("name"):
        title += f" ({payload['name']})"
    summary = f"{label} by {event.actor_name or 'system'}."
    if event.type == "drift.detected" and isinstance(payload.get("features"), list):
        drifted = ", ".join(f"{f.get('feature')} (PSI {f.get('psi') or 0:.2f})" for f in payload["features"][:10])
        summary += f" Drifted: {drifted or 'the prediction distribution'}."
    if event.type == "performance.degraded" and isinstance(payload.get("below_floor"), list):
        summary += f" Below floor ({payload.get('judged_on') or 'measured'}): {', '.join(payload['below_floor'])}."
    if event.type.startswith("retraining."):
        summary += _retraining_summary(event.type, payload)
    for key in ("reason", "comment", "override_reason"):
        if payload.get(key):
            summary += f" {key.replace('_', ' ').capitalize()}: {payload[key]}"
    return Notice(
        event_id=event.pk,
        type=event.type,
        created_at=event.created_at.isoformat().replace("+00:00", "Z"),
        model=event.model_name,
        version=event.version,
        actor=event.actor_name or "system",
        payload=payload,
        title=title,
        summary=summary,
        url=settings.PUBLIC_BASE_URL.rstrip("/") + _path(event),
    )
