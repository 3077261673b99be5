"""What the API token of the current request may touch: the one place that enforces a
token's model list (`models_allowed`) outside the serving data plane.

The token is the one DRF authenticated for the request being served (the request sits
in a context variable set by RequestIdMiddleware; DRF copies `auth` onto it). Every
path that names a model resolves it through a function that calls `require_model`:
the API's permission class for `/models/<name>/...` URLs, the registry's row lock
(so promotions, deployments and MLflow writes are covered whichever way they name the
model), the registry and MLflow read selectors, and batch jobs. Outside a request (the
shell, Celery, tests calling services) nothing is limited.
"""

from django.db.models import QuerySet

from .errors import Forbidden
from .models import ApiToken
from .request_context import current_request


def current_token() -> ApiToken | None:
    token = getattr(current_request(), "auth", None)
    return token if isinstance(token, ApiToken) else None


def allowed_models() -> frozenset[str] | None:
    """The model names the current token is limited to; None when it is not limited."""
    token = current_token()
    if token is None or not token.models_allowed:
        return None
    return frozenset(token.models_allowed)


def model_allowed(name: str) -> bool:
    allowed = allowed_models()
    return allowed is None or name in allowed


def require_model(name: str) -> None:
    if not model_allowed(name):
        raise Forbidden(f"This token may not act on model '{name}'.", code="model_not_allowed", details={"model": [name]})


def only_allowed(queryset: QuerySet, field: str = "name") -> QuerySet:
    """Narrow a list to the models the current token may see."""
    allowed = allowed_models()
    return queryset if allowed is None else queryset.filter(**{f"{field}__in": sorted(allowed)})
