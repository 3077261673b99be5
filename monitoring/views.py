"""Drift pages: the per-model dashboard /models/<name>/monitoring/, one report's page, and
the "Run now" form. Thin like the other pages: reads through `dashboard`, the one write
through `drift_jobs.drift_report_start`."""

from django.contrib import messages
from django.http import Http404
from django.shortcuts import redirect, render
from django.urls import NoReverseMatch, reverse
from django.views.decorators.http import require_POST

from control_plane.errors import ServiceError
from control_plane.roles import MONITOR, user_can
from control_plane.views import or_404, refuse, role_required
from registry import selectors as registry_selectors

from . import dashboard
from .drift_jobs import drift_report_start

# What the drift API requires for POST .../drift/run/ (and PUT .../monitor/): same rule on the page.
RUN_CAPABILITY = MONITOR


def _schedule_admin_url(policy: dict) -> str | None:
    """Where an admin edits the schedule: the policy's PeriodicTask in django-celery-beat's admin."""
    try:
        if policy.get("periodic_task_id"):
            return reverse("admin:django_celery_beat_periodictask_change", args=[policy["periodic_task_id"]])
        return reverse("admin:django_celery_beat_periodictask_changelist")
    except NoReverseMatch:
        return None


def _dashboard_page(request, name, *, status=200):
    model = or_404(registry_selectors.model_get, name)
    data = dashboard.drift_dashboard(model)
    history = data["chart"]["history"]
    history["report_urls"] = [reverse("drift-report", args=[model.name, pk]) for pk in history["report_ids"]]
    return render(
        request,
        "monitoring/dashboard.html",
        {
            **data,
            "can_run": user_can(request.user, RUN_CAPABILITY),
            "run_capability": RUN_CAPABILITY,
            "schedule_admin_url": _schedule_admin_url(data["policy"]) if request.user.is_staff else None,
        },
        status=status,
    )


@role_required
def drift_dashboard(request, name):
    return _dashboard_page(request, name)


@role_required
def drift_report(request, name, pk):
    model = or_404(registry_selectors.model_get, name)
    data = dashboard.drift_report_page(model, pk)
    if data is None:
        raise Http404(f"Model '{name}' has no drift report #{pk}.")
    return render(request, "monitoring/report.html", {"model": model, **data})


@role_required
@require_POST
def drift_run(request, name):
    """Run now: start a report over the policy's window ending now, as the API's POST does."""
    model = or_404(registry_selectors.model_get, name)
    try:  # the service refuses a role without RUN_CAPABILITY (403), as the API does
        report = drift_report_start(model=model, actor=request.user, trigger="manual")
    except ServiceError as exc:
        return _dashboard_page(request, name, status=refuse(request, exc))
    messages.success(request, f"Drift report #{report.pk} started; this page shows it once the worker has run it.")
    return redirect("drift-dashboard", name=name)
