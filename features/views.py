"""Feature store pages: the index (entities, views with freshness, services), a view's
page (schema, source, TTL, freshness, materialization runs, a histogram per feature from
a recent sample) and a service's page (versions and the model versions that use them)."""

from django.contrib import messages
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from control_plane.errors import ServiceError
from control_plane.roles import REGISTER, user_can
from control_plane.views import or_404, refuse, role_required

from . import selectors
from .models import Entity, FeatureView
from .sample import view_evidence
from .services import materialization_start
from .sources import view_source


@role_required
def index(request):
    views = list(FeatureView.objects.select_related("entity").order_by("name"))
    return render(request, "features/index.html", {
        "entities": Entity.objects.order_by("name"),
        "views": [{"view": v, "freshness": selectors.freshness(v)} for v in views],
        "services": selectors.services_latest(),
    })


def _view_page(request, name, *, status=200):
    view = or_404(selectors.view_get, name)
    evidence = view_evidence(view_source(view))
    runs = [selectors.run_out(r) for r in view.runs.select_related("view").order_by("-created_at")[:25]]
    return render(request, "features/view.html", {
        "view": view,
        "freshness": selectors.freshness(view, evidence["newest_event"]),
        "evidence": evidence,
        "chart": {"histograms": evidence["histograms"], "features": view.feature_names},
        "runs": runs,
        "services": [s for s in selectors.services_latest() if any(r.startswith(f"{view.name}:") for r in s.features)],
        "can_materialize": user_can(request.user, REGISTER),
    }, status=status)


@role_required
def view_detail(request, name):
    return _view_page(request, name)


@role_required
@require_POST
def view_materialize(request, name):
    kind = "incremental" if request.POST.get("kind") == "incremental" else "backfill"
    try:
        run = materialization_start(actor=request.user, view_name=name, kind=kind)
    except ServiceError as exc:
        return _view_page(request, name, status=refuse(request, exc))
    messages.success(request, f"Materialization run #{run.pk} ({kind}) queued.")
    return redirect("feature-view", name=name)


@role_required
def service_detail(request, name):
    versions = or_404(selectors.service_versions, name)
    return render(request, "features/service.html", {
        "service": versions[0], "versions": versions,
        "users": [{"mv": mv, "service": mv.tags.get("features.service")} for mv in selectors.service_users(name)],
    })
