"""One module per channel kind, each a Transport subclass (the Healthchecks layout)."""

from .base import Transport, TransportError
from .email import EmailTransport
from .slack import SlackTransport
from .webhook import WebhookTransport

TRANSPORTS: dict[str, type[Transport]] = {
    "email": EmailTransport,
    "slack": SlackTransport,
    "webhook": WebhookTransport,
}


def transport_for(kind: str, config: dict) -> Transport:
    return TRANSPORTS[kind](config)


__all__ = ["TRANSPORTS", "Transport", "TransportError", "transport_for"]
