"""The `external` trainer's request: a `retraining.requested` webhook, signed the Standard
Webhooks way with the named webhook channel's secret (notifications.signing), so the CI
system or orchestrator verifies it as it verifies our notifications.

The one place that sends it: when the SSRF-safe sender lands (control_plane/egress.py),
switch `_post` to it."""

import json

from notifications.models import Channel
from notifications.signing import signed_headers
from notifications.transports.base import TransportError, http_post


class ExternalTrainerError(Exception):
    pass


def _post(url: str, body: bytes, headers: dict[str, str]) -> int:
    return http_post(url, body, headers)


def send_retraining_request(*, channel_name: str, msg_id: str, payload: dict) -> int:
    channel = Channel.objects.filter(name=channel_name, kind="webhook").first()
    if channel is None:
        raise ExternalTrainerError(f"Webhook channel '{channel_name}' no longer exists.")
    if not channel.enabled:
        raise ExternalTrainerError(f"Webhook channel '{channel_name}' is disabled: {channel.disabled_reason}")
    body = json.dumps({"id": msg_id, "type": "retraining.requested", "payload": payload},
                      separators=(",", ":"), sort_keys=True).encode()
    headers = signed_headers(secret=channel.config["secret"], msg_id=msg_id, body=body)
    try:
        return _post(channel.config["url"], body, headers)
    except TransportError as exc:
        raise ExternalTrainerError(f"The retraining request to '{channel_name}' failed: {exc.message}") from exc
