"""Slack's mrkdwn turns `<!channel>` into a mention and `<url|text>` into a link: user text is
escaped (`&`, `<`, `>` as Slack's docs say) everywhere it lands in a message."""

import json

import pytest

from registry import services as registry

from ..conftest import staged_version
from .conftest import make_channel

pytestmark = pytest.mark.django_db

HOSTILE = "<!channel> <https://evil.example|Approve here> & <@U0123>"
ESCAPED = "&lt;!channel&gt; &lt;https://evil.example|Approve here&gt; &amp; &lt;@U0123&gt;"


def test_user_text_reaches_slack_escaped(admin, contributor, receiver, run_commits):
    make_channel(admin, "slack", receiver.url, events=["promotion.requested", "channel.tested"])
    registry.model_create(actor=contributor, name="churn")
    mv = staged_version(contributor, "churn")
    with run_commits():
        registry.promotion_request(actor=contributor, model_name="churn", version=mv.version, reason=HOSTILE)

    (message,) = receiver.bodies()
    header, summary, facts, actions = message["blocks"]
    assert summary["text"] == {
        "type": "mrkdwn",
        "text": f"Promotion requested by carl-contributor. Reason: {ESCAPED}",
    }
    assert message["text"] == "Promotion requested: churn v1 — https://cp.example.com/promotions/" + \
        actions["elements"][0]["url"].rsplit("/promotions/", 1)[1]
    raw = receiver.requests[0].body.decode()
    for live in ("<!channel>", "<https://evil", "<@U0123>"):
        assert live not in raw
        assert live not in json.dumps(message)


def test_channel_names_are_escaped_in_titles(admin, receiver, run_commits):
    from notifications import services

    channel = make_channel(admin, "slack", receiver.url, name="ops <!here> & co")
    services.channel_test_send(actor=admin, channel_id=channel.pk)

    (message,) = receiver.bodies()
    assert message["blocks"][0]["text"]["text"] == "Test notification (ops &lt;!here&gt; &amp; co)"
    assert message["text"].startswith("Test notification (ops &lt;!here&gt; &amp; co) — https://cp.example.com/")
