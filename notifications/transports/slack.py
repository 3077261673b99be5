"""Slack incoming webhooks: a Block Kit message (header, facts, a button to the page). Every
text is escaped (`escape`): model names, reasons, comments and user names come from users.

Slack answers 200 "ok"; errors such as invalid_token, no_service, channel_not_found
come as 4xx and are permanent, 429 and 5xx are transient (see base.http_post)."""

import json

from ..messages import Notice
from .base import Transport, http_post


def escape(text) -> str:
    """Slack's escaping (api.slack.com/reference/surfaces/formatting#escaping): `&`, `<` and `>`
    as entities, so user text never becomes a mention (`<!channel>`) or a link (`<url|label>`)."""
    return str(text).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _field(label: str, value) -> dict:
    return {"type": "mrkdwn", "text": f"*{label}*\n{escape(value) if value not in (None, '') else '—'}"}


class SlackTransport(Transport):
    kind = "slack"

    def prepare(self, notice: Notice, *, delivery_id: int) -> dict:
        return {
            "text": f"{escape(notice.title)} — {escape(notice.url)}",
            "blocks": [
                {"type": "header", "text": {"type": "plain_text", "text": escape(notice.title)[:150], "emoji": False}},
                {"type": "section", "text": {"type": "mrkdwn", "text": escape(notice.summary)[:3000]}},
                {
                    "type": "section",
                    "fields": [
                        _field("Model", notice.model),
                        _field("Version", notice.version),
                        _field("Actor", notice.actor),
                        _field("Event", f"`{notice.type}`"),
                    ],
                },
                {
                    "type": "actions",
                    "elements": [
                        {"type": "button", "text": {"type": "plain_text", "text": "Open"}, "url": notice.url}
                    ],
                },
            ],
        }

    def send(self, prepared: dict, *, delivery_id: int) -> int | None:
        return http_post(self.config["url"], json.dumps(prepared).encode(), {})
