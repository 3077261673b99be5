"""Generic webhooks: a JSON body signed per Standard Webhooks (see notifications.signing).

The body is the same on every attempt of a delivery and `webhook-id` is the delivery
id, so a receiver drops a repeat it has already processed."""

import json

from .. import signing
from ..messages import Notice
from .base import Transport, http_post


class WebhookTransport(Transport):
    kind = "webhook"

    def prepare(self, notice: Notice, *, delivery_id: int) -> dict:
        return {
            "id": str(delivery_id),
            "type": notice.type,
            "created_at": notice.created_at,
            "model": notice.model,
            "version": notice.version,
            "actor": notice.actor,
            "payload": notice.payload,
            "url": notice.url,
        }

    def send(self, prepared: dict, *, delivery_id: int) -> int | None:
        body = json.dumps(prepared, separators=(",", ":"), sort_keys=True).encode()
        headers = signing.signed_headers(secret=self.config["secret"], msg_id=str(delivery_id), body=body)
        return http_post(self.config["url"], body, headers)
