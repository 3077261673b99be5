"""Project system checks. Errors stop `migrate`, `runserver` and `check`; the WSGI and ASGI
applications run them too (control_plane.checks.refuse_to_start), so gunicorn does not
start either."""

from django.conf import settings
from django.core import checks
from django.core.exceptions import ImproperlyConfigured


@checks.register(checks.Tags.security)
def secret_key_is_not_published(app_configs=None, **kwargs) -> list[checks.CheckMessage]:
    if settings.DEBUG or settings.SECRET_KEY not in settings.PUBLISHED_SECRET_KEYS:
        return []
    return [
        checks.Error(
            "SECRET_KEY is unset or is a key published in this repository, and DEBUG is off: anyone could "
            "forge sessions, CSRF tokens and password reset links.",
            hint="Set SECRET_KEY to 50 or more random characters (python -c 'import secrets; "
            "print(secrets.token_urlsafe(50))'); `make run` generates one into var/ for the demo.",
            id="control_plane.E001",
        )
    ]


def refuse_to_start() -> None:
    """Raise when a check above reports an error: for entry points that skip system checks."""
    errors = [m for m in secret_key_is_not_published() if m.is_serious()]
    if errors:
        raise ImproperlyConfigured("; ".join(f"{m.id}: {m.msg}" for m in errors))
