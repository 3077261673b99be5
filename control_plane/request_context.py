"""The id of the request being served, for logs and journal events."""

import contextvars
import logging
import re
import uuid

_request_id: contextvars.ContextVar[str] = contextvars.ContextVar("request_id", default="")
# 100 characters leave room for the "-<row>" suffix serving adds per row (columns hold 128).
_VALID_ID = re.compile(r"^[A-Za-z0-9._:\-]{1,100}$")


def new_request_id(proposed: str | None = None) -> str:
    """Honour a caller's id when it is sane, else make one."""
    if proposed and _VALID_ID.match(proposed):
        return proposed
    return uuid.uuid4().hex


def set_request_id(value: str) -> contextvars.Token:
    return _request_id.set(value)


def reset_request_id(token: contextvars.Token) -> None:
    _request_id.reset(token)


def get_request_id() -> str:
    return _request_id.get()


class RequestIdLogFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        record.request_id = get_request_id() or "-"
        return True


# The HTTP request being served (None in the shell, Celery and tests calling services):
# who acts, for writes that happen below the view, such as a role change saved by the
# Django admin, and which API token they used.
_request: contextvars.ContextVar[object | None] = contextvars.ContextVar("current_request", default=None)


def set_current_request(request) -> contextvars.Token:
    return _request.set(request)


def reset_current_request(token: contextvars.Token) -> None:
    _request.reset(token)


def current_request():
    return _request.get()


class ClientErrorLogFilter(logging.Filter):
    """A 4xx answer (a 403, a 404) is the client's mistake: log its one line, without the
    traceback Django attaches; 5xx keep theirs."""

    def filter(self, record: logging.LogRecord) -> bool:
        status = getattr(record, "status_code", None)
        if record.exc_info and isinstance(status, int) and 400 <= status < 500:
            record.exc_info, record.exc_text = None, None
        return True
