"""Pages of the core: the home dashboard, the audit trail and the API tokens.

Views stay thin: they read through selectors (or the same query helpers the API
uses), write only through services, and turn a ServiceError into a message on the
page with the error's status code.
"""

from functools import wraps

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.contrib.staticfiles.storage import staticfiles_storage
from django.core.paginator import Paginator
from django.http import Http404
from django.shortcuts import redirect, render
from django.views.decorators.http import require_http_methods, require_POST

from registry import selectors as registry_selectors

from . import tokens
from .api import _visible_tokens, event_filter
from .event_display import event_links, payload_fields
from .errors import Invalid, NotFound, ServiceError
from .models import Event
from .roles import DECIDE_PROMOTION, MANAGE_USERS, user_can, user_roles

EVENTS_PER_PAGE = 50


# --- Shared helpers for every page (registry.views imports them too) ------------------


def role_required(view):
    """Login first (anonymous users go to the login page), then any role: a user
    without one gets 403."""

    @wraps(view)
    def wrapper(request, *args, **kwargs):
        if not user_roles(request.user):
            raise PermissionDenied("Your account has no role; ask an admin to give you one.")
        return view(request, *args, **kwargs)

    return login_required(wrapper)


def or_404(func, *args, **kwargs):
    """Call a selector; its NotFound becomes the 404 page."""
    try:
        return func(*args, **kwargs)
    except NotFound as exc:
        raise Http404(exc.message) from None


def refuse(request, exc: ServiceError) -> int:
    """Show a service's refusal as a message; return the status the page answers with."""
    messages.error(request, exc.message)
    return exc.status


def _int_or_none(raw: str | None, field: str, *, low: int = 1, high: int | None = None) -> int | None:
    """A form's optional whole number, checked like the API's serializers check it."""
    raw = (raw or "").strip()
    if not raw:
        return None
    try:
        value = int(raw)
    except ValueError:
        raise Invalid(f"'{field}' must be a whole number.", details={field: ["Not a number."]}) from None
    if value < low or (high is not None and value > high):
        bounds = f"between {low} and {high}" if high is not None else f"at least {low}"
        raise Invalid(f"'{field}' must be {bounds}.", details={field: [f"Must be {bounds}."]})
    return value


def favicon(request):
    """Browsers ask for /favicon.ico whatever the page says: send them to the real one."""
    return redirect(staticfiles_storage.url("favicon.svg"), permanent=False)


# --- Home -----------------------------------------------------------------------------


@role_required
def home(request):
    models = list(registry_selectors.model_list(search=request.GET.get("q", "").strip()))
    rows = [
        {
            "model": m,
            "production": registry_selectors.production_version(m),
            "staging": registry_selectors.staging_versions(m),
            "updated": registry_selectors.model_last_change(m),
        }
        for m in models
    ]
    can_decide = user_can(request.user, DECIDE_PROMOTION)
    inbox_count = registry_selectors.promotion_inbox(request.user).count() if can_decide else 0
    pending_total = registry_selectors.promotion_list(status="pending").count()
    return render(
        request,
        "control_plane/home.html",
        {
            "rows": rows,
            "q": request.GET.get("q", ""),
            "can_decide": can_decide,
            "inbox_count": inbox_count,
            "pending_total": pending_total,
        },
    )


# --- Audit trail ----------------------------------------------------------------------


@role_required
def audit_trail(request):
    status = 200
    try:
        filters = event_filter(request.GET)
        qs = Event.objects.filter(**filters).order_by("-id")
    except ServiceError as exc:
        status = refuse(request, exc)
        qs = Event.objects.none()
    page = Paginator(qs, EVENTS_PER_PAGE).get_page(request.GET.get("page"))
    for event in page.object_list:
        event.fields = payload_fields(event.payload)
        event.links = event_links(event_type=event.type, model_name=event.model_name, payload=event.payload)
    event_types = Event.objects.order_by("type").values_list("type", flat=True).distinct()
    return render(
        request,
        "control_plane/audit.html",
        {
            "page": page,
            "filters": {k: request.GET.get(k, "") for k in ("model", "type", "actor", "since")},
            "event_types": list(event_types),
        },
        status=status,
    )


# --- API tokens -----------------------------------------------------------------------


ISSUED_SESSION_KEY = "issued_token"


@role_required
@require_http_methods(["GET", "POST"])
def token_list(request):
    """Post/Redirect/Get: a created token's secret rides the session to the next GET,
    shown once, so reloading the page shows the list and never creates a second token."""
    status = 200
    if request.method == "POST":
        try:
            issued = tokens.token_create(
                actor=request.user,
                owner=request.user,
                name=request.POST.get("name", ""),
                read_only=request.POST.get("read_only") == "on",
                expires_days=_int_or_none(request.POST.get("expires_days"), "expires_days", high=3650),
            )
        except ServiceError as exc:
            status = refuse(request, exc)
        else:
            request.session[ISSUED_SESSION_KEY] = {"name": issued.token.name, "secret": issued.secret}
            messages.success(request, f"Token '{issued.token.name}' created.")
            return redirect("tokens")
    return _tokens_page(request, status=status, posted=request.POST if status >= 400 else {})


def _tokens_page(request, *, status: int = 200, posted=None):
    return render(
        request,
        "control_plane/tokens.html",
        {
            "tokens": _visible_tokens(request.user).order_by("-created_at"),
            "issued": request.session.pop(ISSUED_SESSION_KEY, None) if status == 200 else None,
            "show_owner": user_can(request.user, MANAGE_USERS),
            "posted": posted or {},
        },
        status=status,
    )


@role_required
@require_POST
def token_revoke(request, pk):
    try:
        token = tokens.token_revoke(actor=request.user, token_id=pk)
    except ServiceError as exc:
        return _tokens_page(request, status=refuse(request, exc))
    messages.success(request, f"Token '{token.name}' ({token.prefix}…) is revoked.")
    return redirect("tokens")
