"""The transport contract: `prepare` builds what will be sent (kept on the attempt
row, so it must hold no secret), `send` sends it and returns the response code, or
raises TransportError saying whether trying again could help."""

from http import HTTPStatus

import requests
from django.conf import settings

from control_plane import egress

from ..messages import Notice


class TransportError(Exception):
    def __init__(self, message: str, *, permanent: bool = False, code: int | None = None, retry_after: float = 0):
        super().__init__(message)
        self.message = message
        self.permanent = permanent
        self.code = code
        self.retry_after = retry_after


class Transport:
    kind = ""

    def __init__(self, config: dict):
        self.config = config

    def prepare(self, notice: Notice, *, delivery_id: int) -> dict:
        raise NotImplementedError

    def send(self, prepared: dict, *, delivery_id: int) -> int | None:
        raise NotImplementedError


def _retry_after(response: requests.Response) -> float:
    try:
        return max(0.0, float(response.headers.get("Retry-After", 0)))
    except ValueError:
        return 0.0


def http_post(url: str, body: bytes, headers: dict[str, str]) -> int:
    """POST through the egress rule and classify the answer: 2xx is success; timeouts,
    connection errors, 429 and 5xx are transient; a refused address and anything else (other
    4xx, redirects) are permanent. The receiver's body is never quoted: only its status."""
    try:
        response = egress.post(
            url,
            data=body,
            headers={"Content-Type": "application/json", "User-Agent": "ml-control-plane-notify/1", **headers},
            timeout=settings.NOTIFY_HTTP_TIMEOUT,
        )
    except egress.EgressRefused as exc:
        raise TransportError(f"Refused by the egress rule: {exc.message}", permanent=True) from None
    except requests.Timeout:
        raise TransportError(f"No answer within {settings.NOTIFY_HTTP_TIMEOUT} s.") from None
    except requests.RequestException as exc:
        raise TransportError(f"Connection failed: {type(exc).__name__}.") from None
    code = response.status_code
    response.close()
    if 200 <= code < 300:
        return code
    message = f"HTTP {code} {_phrase(code)}".rstrip()
    if code == 429 or code >= 500:
        raise TransportError(message, code=code, retry_after=_retry_after(response))
    if 300 <= code < 400:
        message += " (redirects are not followed; configure the final URL)"
    raise TransportError(message, permanent=True, code=code)


def _phrase(code: int) -> str:
    try:
        return HTTPStatus(code).phrase
    except ValueError:
        return ""
