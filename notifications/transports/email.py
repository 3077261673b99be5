"""Email through Django's mail API and the backend NOTIFY_EMAIL_BACKEND names (SMTP by
default, configured by the EMAIL_* settings)."""

import smtplib

from django.conf import settings
from django.core.mail import BadHeaderError, EmailMessage, get_connection

from ..messages import Notice
from .base import Transport, TransportError


def _body(notice: Notice) -> str:
    lines = [notice.title, "", notice.summary, ""]
    lines += [f"Model:   {notice.model or '—'}", f"Version: {notice.version or '—'}", f"By:      {notice.actor}"]
    lines += [f"Event:   {notice.type} (#{notice.event_id}) at {notice.created_at}", "", f"Open: {notice.url}", ""]
    return "\n".join(lines)


def _smtp_error(exc: smtplib.SMTPException) -> TransportError:
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        codes = [code for code, _ in exc.recipients.values()]
        permanent = all(code >= 500 for code in codes)
        return TransportError(f"Recipients refused: {', '.join(exc.recipients)}", permanent=permanent, code=max(codes))
    code = getattr(exc, "smtp_code", None)
    if isinstance(code, int):
        text = exc.smtp_error.decode(errors="replace") if isinstance(exc.smtp_error, bytes) else str(exc.smtp_error)
        return TransportError(f"SMTP {code}: {text[:300]}", permanent=code >= 500, code=code)
    return TransportError(f"SMTP error: {type(exc).__name__}: {exc}"[:300])


class EmailTransport(Transport):
    kind = "email"

    def prepare(self, notice: Notice, *, delivery_id: int) -> dict:
        return {
            "to": list(self.config["addresses"]),
            "subject": f"{settings.EMAIL_SUBJECT_PREFIX}{notice.title}",
            "body": _body(notice),
        }

    def send(self, prepared: dict, *, delivery_id: int) -> int | None:
        message = EmailMessage(
            subject=prepared["subject"],
            body=prepared["body"],
            to=prepared["to"],
            headers={"X-Delivery-Id": str(delivery_id)},
            connection=get_connection(settings.NOTIFY_EMAIL_BACKEND, timeout=settings.NOTIFY_HTTP_TIMEOUT),
        )
        try:
            message.send(fail_silently=False)
        except BadHeaderError as exc:  # a newline in a header (the subject holds channel and model names)
            raise TransportError(f"BadHeaderError: {exc}"[:300], permanent=True) from None
        except smtplib.SMTPException as exc:
            raise _smtp_error(exc) from None
        except OSError as exc:  # refused, unreachable, timed out
            raise TransportError(f"Mail server unreachable: {exc}"[:300]) from None
        return None
