"""Reads shared by the API and the pages."""

from django.db.models import Max
from django.utils import timezone

from control_plane.errors import NotFound

from .models import Entity, FeatureService, FeatureView, MaterializationRun
from .services.definitions import entity_spec, service_spec, view_spec


def entity_get(name: str) -> Entity:
    found = Entity.objects.select_related("owner").filter(name=name).first()
    if found is None:
        raise NotFound(f"No entity '{name}'.", code="entity_not_found")
    return found


def view_get(name: str) -> FeatureView:
    found = FeatureView.objects.select_related("entity", "owner").filter(name=name).first()
    if found is None:
        raise NotFound(f"No feature view '{name}'.", code="feature_view_not_found")
    return found


def service_versions(name: str) -> list[FeatureService]:
    found = list(FeatureService.objects.select_related("owner").filter(name=name).order_by("-version"))
    if not found:
        raise NotFound(f"No feature service '{name}'.", code="feature_service_not_found")
    return found


def services_latest() -> list[FeatureService]:
    latest = FeatureService.objects.values("name").annotate(v=Max("version"))
    wanted = {(row["name"], row["v"]) for row in latest}
    return [s for s in FeatureService.objects.order_by("name", "-version") if (s.name, s.version) in wanted]


def entity_out(entity: Entity) -> dict:
    return {**entity_spec(entity).as_dict(), "owner": entity.owner.username if entity.owner else None,
            "created_at": entity.created_at, "updated_at": entity.updated_at}


def run_out(run: MaterializationRun) -> dict:
    return {
        "id": run.pk, "view": run.view.name, "kind": run.kind, "status": run.status, "window_start": run.window_start,
        "window_end": run.window_end, "keys_written": run.keys_written, "keys_total": run.keys_total,
        "progress": round(run.keys_written / run.keys_total, 4) if run.keys_total else None,
        "attempts": run.attempts, "error": run.error, "created_at": run.created_at, "started_at": run.started_at,
        "heartbeat_at": run.heartbeat_at, "finished_at": run.finished_at, "duration_seconds": run.duration_seconds,
    }


def freshness(view: FeatureView, newest_event=None) -> dict:
    """Lag = now - the watermark (what online is known to hold); a warning past the TTL,
    when online values start to answer outside_ttl."""
    last = view.runs.filter(status=MaterializationRun.Status.SUCCEEDED).order_by("-finished_at").first()
    reference = view.watermark
    lag = (timezone.now() - reference).total_seconds() if reference else None
    return {
        "watermark": view.watermark,
        "newest_event": newest_event,
        "last_materialization": last.finished_at if last else None,
        "lag_seconds": round(lag, 1) if lag is not None else None,
        "lag_exceeds_ttl": lag is not None and lag > view.ttl_seconds and view.source_kind != "push",
    }


def view_out(view: FeatureView, *, with_freshness: bool = False) -> dict:
    out = {**view_spec(view).as_dict(), "owner": view.owner.username if view.owner else None,
           "created_at": view.created_at, "updated_at": view.updated_at, "watermark": view.watermark}
    if with_freshness:
        out["freshness"] = freshness(view)
    return out


def service_out(service: FeatureService) -> dict:
    return {**service_spec(service).as_dict(), "version": service.version,
            "owner": service.owner.username if service.owner else None, "created_at": service.created_at}


def service_users(name: str) -> list:
    """Model versions whose tag names a version of this service."""
    from registry.models import ModelVersion

    return list(
        ModelVersion.objects.select_related("model")
        .filter(**{"tags__features.service__startswith": f"{name}:"})
        .order_by("model__name", "version")
    )
