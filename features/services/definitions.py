"""Apply definitions (the API's POST .../apply/, the single-object POSTs and `manage.py
features apply`): a plan first, like `feast apply`, then the changes, all in one
transaction. Applying the same document twice changes nothing the second time.

A whole document (the apply endpoint, `manage.py features apply`) is the registry, as
in `feast apply`: an object stored but missing from it is planned as "delete" and
deleted, unless the caller keeps what is missing (keep_missing; then nothing is ever
deleted). The single-object endpoints never delete. A feature service whose list changes
gets a new version; older versions stay as they were. Deleting refuses (409) a service
a model version names, and an entity a view of the document still uses. A deleted view's
materialization runs and schedule go with it; its offline rows (a push view's table, a
source's data) are kept, and its online keys expire by themselves.
"""

import json
import zoneinfo
from dataclasses import dataclass, field

from django.conf import settings
from django.contrib.auth.models import User
from django.db import transaction
from django_celery_beat.models import CrontabSchedule, PeriodicTask

from control_plane import roles
from control_plane.errors import Conflict, Forbidden, Invalid
from control_plane.journal import event_append
from monitoring.policies import schedule_fields

from .. import sources
from ..file_sources import under_data_roots
from ..definitions import DefinitionError, Document, EntitySpec, ServiceSpec, ViewSpec, parse_document, parse_ref
from ..models import Entity, FeatureService, FeatureView
from ..push_tables import push_table_ensure

MATERIALIZE_TASK = "features.tasks.materialize_scheduled"


@dataclass
class PlanItem:
    kind: str  # entity, feature_view, feature_service
    name: str
    action: str  # create, update, unchanged, new_version, delete
    changes: dict = field(default_factory=dict)  # field: [old, new]
    version: int | None = None  # feature services

    def as_dict(self) -> dict:
        out = {"kind": self.kind, "name": self.name, "action": self.action, "changes": self.changes}
        if self.version is not None:
            out["version"] = self.version
        return out


def entity_spec(entity: Entity) -> EntitySpec:
    return EntitySpec(entity.name, tuple((k["name"], k["type"]) for k in entity.join_keys), entity.description)


def view_spec(view: FeatureView) -> ViewSpec:
    return ViewSpec(
        name=view.name, entity=view.entity.name, features=tuple((f["name"], f["type"]) for f in view.features),
        source_kind=view.source_kind, ttl_seconds=view.ttl_seconds, source_table=view.source_table,
        source_query=view.source_query, source_connection=view.source_connection, source_path=view.source_path,
        event_timestamp_column=view.event_timestamp_column, created_timestamp_column=view.created_timestamp_column,
        tags=view.tags, description=view.description, schedule=view.schedule,
    )


def service_spec(service: FeatureService) -> ServiceSpec:
    return ServiceSpec(service.name, tuple(service.features), service.on_missing, service.description)


def _diff(old: dict, new: dict) -> dict:
    return {k: [old.get(k), v] for k, v in new.items() if old.get(k) != v and k != "name"}


def parse(document) -> Document:
    try:
        return parse_document(document)
    except DefinitionError as exc:
        raise Invalid(f"Invalid definitions: {exc}", code="invalid_definitions", details=exc.problems) from None


def _check_permissions(actor: User | None, doc: Document) -> None:
    if actor is None:  # manage.py: whoever runs it has the server's shell already
        return
    if not roles.user_can(actor, roles.REGISTER):
        raise Forbidden(f"Your role does not allow '{roles.REGISTER}'.", code="permission_denied")
    for view in doc.views:
        if view.source_kind == "query" and not roles.user_can(actor, roles.MANAGE_USERS):
            # A query runs the author's SQL on a database: admins only (sources.py says what else guards it).
            raise Forbidden(
                f"Feature view '{view.name}': only admins may define query sources; use a table or push source.",
                code="permission_denied",
            )


def _check_sources(doc: Document) -> None:
    problems = {}
    for i, view in enumerate(doc.views):
        if view.source_kind == "push":
            continue
        if view.source_kind == "file" and not under_data_roots(view.source_path):
            problems[f"feature_views[{i}].source.path"] = [
                f"'{view.source_path}' is not under a feature data folder (FEATURE_DATA_ROOTS)."
            ]
        if view.source_connection and view.source_connection not in settings.FEATURE_SOURCE_DATABASES:
            problems[f"feature_views[{i}].source.connection"] = [
                f"'{view.source_connection}' is not one of FEATURE_SOURCE_DATABASES."
            ]
        if view.source_kind == "table" and not view.source_connection:
            schema = view.source_table.split(".")[0]
            if schema not in settings.FEATURE_SOURCE_SCHEMAS:
                problems[f"feature_views[{i}].source.table"] = [
                    f"Schema '{schema}' is not one of FEATURE_SOURCE_SCHEMAS "
                    f"({', '.join(settings.FEATURE_SOURCE_SCHEMAS)}); the control plane's own tables are never a source."
                ]
        if view.schedule:
            try:
                schedule_fields(view.schedule)
            except Invalid as exc:
                problems[f"feature_views[{i}].schedule"] = [exc.message]
    if problems:
        raise Invalid(f"Invalid definitions: {next(iter(problems.values()))[0]}", code="invalid_definitions",
                      details=problems)


def _resolve(doc: Document, entities: dict, views: dict) -> None:
    """Cross-references against the document and the database: a view's entity exists and
    its features are not join keys; a service's references exist and name each feature
    once (models see features by name)."""
    problems = {}
    keys_of = {name: {k for k, _ in entity_spec(e).join_keys} for name, e in entities.items()}
    keys_of.update({e.name: {k for k, _ in e.join_keys} for e in doc.entities})
    for i, view in enumerate(doc.views):
        if view.entity not in keys_of:
            problems[f"feature_views[{i}].entity"] = [f"No entity '{view.entity}'."]
            continue
        clash = sorted(keys_of[view.entity] & {f for f, _ in view.features})
        if clash:
            problems[f"feature_views[{i}].features"] = [f"{', '.join(clash)}: join keys of {view.entity}."]
    features_of = {name: {f["name"] for f in v.features} for name, v in views.items()}
    features_of.update({v.name: {f for f, _ in v.features} for v in doc.views})
    for i, service in enumerate(doc.services):
        seen: dict[str, str] = {}
        for j, ref in enumerate(service.features):
            view, feature = parse_ref(ref)
            where = f"feature_services[{i}].features[{j}]"
            if view not in features_of:
                problems[where] = [f"No feature view '{view}'."]
            elif feature not in features_of[view]:
                problems[where] = [f"Feature view '{view}' has no feature '{feature}'."]
            elif feature in seen:
                problems[where] = [f"'{feature}' also comes from {seen[feature]}; a service names each feature once."]
            else:
                seen[feature] = ref
    if problems:
        raise Invalid(f"Invalid definitions: {next(iter(problems.values()))[0]}", code="invalid_definitions",
                      details=problems)


def _plan(doc: Document, entities: dict, views: dict, services: dict) -> list[PlanItem]:
    plan = []
    for kind, specs, stored, to_spec in (
        ("entity", doc.entities, entities, entity_spec),
        ("feature_view", doc.views, views, view_spec),
    ):
        for spec in specs:
            old = stored.get(spec.name)
            if old is None:
                plan.append(PlanItem(kind, spec.name, "create", _diff({}, spec.as_dict())))
            else:
                changes = _diff(to_spec(old).as_dict(), spec.as_dict())
                plan.append(PlanItem(kind, spec.name, "update" if changes else "unchanged", changes))
    for spec in doc.services:
        latest = services.get(spec.name)
        if latest is None:
            plan.append(PlanItem("feature_service", spec.name, "create", _diff({}, spec.as_dict()), version=1))
            continue
        changes = _diff(service_spec(latest).as_dict(), spec.as_dict())
        if changes:
            plan.append(PlanItem("feature_service", spec.name, "new_version", changes, version=latest.version + 1))
        else:
            plan.append(PlanItem("feature_service", spec.name, "unchanged", version=latest.version))
    return plan


def definitions_apply(*, actor: User | None, document, dry_run: bool = False, prune: bool = False) -> list[PlanItem]:
    """Plan the document against what is stored; unless dry_run, make the changes (one
    transaction, one journal event per object changed). Answers the plan. actor None is
    `manage.py features apply` (the shell's operator). prune: the document is the whole
    registry; what it lacks is deleted."""
    doc = parse(document)
    _check_permissions(actor, doc)
    _check_sources(doc)
    for view in doc.views:
        if view.source_kind != "push":
            sources.probe(_source_of(view, doc))
    with transaction.atomic():
        entities = {e.name: e for e in Entity.objects.select_for_update().filter(name__in=_entity_names(doc))}
        view_names = {v.name for v in doc.views} | {parse_ref(r)[0] for s in doc.services for r in s.features}
        views = {
            v.name: v for v in FeatureView.objects.select_for_update(of=("self",)).select_related("entity")
            .filter(name__in=view_names)
        }
        services = {}
        for service in FeatureService.objects.select_for_update().filter(name__in=[s.name for s in doc.services]):
            if service.name not in services or service.version > services[service.name].version:
                services[service.name] = service
        if prune:
            views = {name: view for name, view in views.items() if name in {v.name for v in doc.views}}
        _resolve(doc, entities, views)
        plan = _plan(doc, entities, views, services)
        missing = _missing(doc) if prune else []
        if not dry_run:
            _apply(actor, doc, plan, entities, views, services)
            _delete(actor, missing)
    return plan + [PlanItem(kind, obj.name, "delete") for kind, obj in missing]


def _missing(doc: Document) -> list[tuple[str, object]]:
    """Stored objects the document lacks, locked, services and views before the entities
    they use; Conflict when one must stay."""
    locked = FeatureService.objects.select_for_update().exclude(name__in=[s.name for s in doc.services])
    services = list({s.name: s for s in locked.order_by("name", "version")}.values())  # the latest of each
    from ..selectors import service_users  # selectors import this module

    for service in services:
        users = [f"{mv.model.name} v{mv.version}" for mv in service_users(service.name)]
        if users:
            raise Conflict(f"Feature service '{service.name}' is missing from the document but model versions use it: "
                           f"{', '.join(users)}. Keep it in the document (or apply with keep_missing).",
                           code="feature_service_in_use", details={"feature_services": [service.name]})
    views = list(FeatureView.objects.select_for_update().exclude(name__in=[v.name for v in doc.views]).order_by("name"))
    entities = list(Entity.objects.select_for_update().exclude(name__in=[e.name for e in doc.entities]).order_by("name"))
    used = {v.entity for v in doc.views}
    for entity in entities:
        if entity.name in used:
            raise Invalid(f"Entity '{entity.name}' is missing from the document but its feature views there use it.",
                          code="invalid_definitions", details={"entities": [f"Add '{entity.name}'."]})
    return [("feature_service", s) for s in services] + [("feature_view", v) for v in views] + \
        [("entity", e) for e in entities]


def _delete(actor, missing: list[tuple[str, object]]) -> None:
    for kind, obj in missing:
        if kind == "feature_service":
            FeatureService.objects.filter(name=obj.name).delete()
        else:
            if kind == "feature_view" and obj.periodic_task_id:
                PeriodicTask.objects.filter(pk=obj.periodic_task_id).delete()
            obj.delete()
        event_append(type=f"features.{kind.removeprefix('feature_')}.deleted", actor=actor,
                     payload={"kind": kind, "name": obj.name, "action": "delete"})


def _entity_names(doc: Document) -> set[str]:
    return {e.name for e in doc.entities} | {v.entity for v in doc.views}


def _source_of(view: ViewSpec, doc: Document) -> sources.ViewSource:
    entity = next((e for e in doc.entities if e.name == view.entity), None)
    if entity is None:
        stored = Entity.objects.filter(name=view.entity).first()
        entity = entity_spec(stored) if stored else EntitySpec(view.entity, ())
    return sources.ViewSource(
        name=view.name, keys=entity.join_keys, features=view.features, kind=view.source_kind, table=view.source_table,
        query=view.source_query, connection=view.source_connection, event_column=view.event_timestamp_column,
        created_column=view.created_timestamp_column, ttl_seconds=view.ttl_seconds, path=view.source_path,
    )


def _apply(actor, doc: Document, plan: list[PlanItem], entities: dict, views: dict, services: dict) -> None:
    actions = {(p.kind, p.name): p for p in plan}
    for spec in doc.entities:
        item = actions[("entity", spec.name)]
        if item.action == "unchanged":
            continue
        entity = entities.get(spec.name) or Entity(name=spec.name, owner=actor)
        if "join_keys" in item.changes and entity.pk and entity.views.exists():
            raise Conflict(
                f"Entity '{spec.name}' has feature views; its join keys cannot change (their stored rows are keyed "
                "by them). Define a new entity.",
                code="join_keys_in_use", details={"join_keys": [", ".join(entity.views.values_list("name", flat=True))]},
            )
        entity.join_keys, entity.description = spec.as_dict()["join_keys"], spec.description
        entity.full_clean()
        entity.save()
        entities[spec.name] = entity
        event_append(type=f"features.entity.{item.action}d", actor=actor, payload=item.as_dict())
    for spec in doc.views:
        item = actions[("feature_view", spec.name)]
        if item.action == "unchanged":
            continue
        view = views.get(spec.name) or FeatureView(name=spec.name, owner=actor)
        entity = entities.get(spec.entity) or Entity.objects.get(name=spec.entity)
        if spec.source_kind == "push":
            push_table_ensure(view_name=spec.name, keys=list(entity_spec(entity).join_keys), features=list(spec.features))
        view.entity = entity
        for attr in ("source_kind", "source_table", "source_query", "source_connection", "source_path", "event_timestamp_column",
                     "created_timestamp_column", "ttl_seconds", "tags", "description", "schedule"):
            setattr(view, attr, getattr(spec, attr))
        view.features = spec.as_dict()["features"]
        view.full_clean(exclude=["periodic_task"])
        view.save()
        _sync_schedule(view)
        event_append(type=f"features.view.{item.action}d", actor=actor, payload=item.as_dict())
    for spec in doc.services:
        item = actions[("feature_service", spec.name)]
        if item.action == "unchanged":
            continue
        service = FeatureService(
            name=spec.name, version=item.version, features=list(spec.features), on_missing=spec.on_missing,
            description=spec.description, owner=actor,
        )
        service.full_clean()
        service.save()
        event_append(type="features.service.versioned", actor=actor, payload=item.as_dict())


def periodic_task_name(view: FeatureView) -> str:
    return f"features: materialize {view.name}"


def _sync_schedule(view: FeatureView) -> None:
    task = view.periodic_task or PeriodicTask.objects.filter(name=periodic_task_name(view)).first()
    if not view.schedule:
        if task is not None:
            task.enabled = False
            task.save(update_fields=["enabled"])
        return
    fields = schedule_fields(view.schedule)
    crontab, _ = CrontabSchedule.objects.get_or_create(**fields, timezone=zoneinfo.ZoneInfo("UTC"))
    task = task or PeriodicTask(name=periodic_task_name(view))
    task.task, task.crontab, task.interval = MATERIALIZE_TASK, crontab, None
    task.args, task.kwargs, task.enabled = json.dumps([view.pk]), "{}", True
    task.description = f"Incremental materialization of feature view {view.name} (features.FeatureView)."
    task.save()
    if view.periodic_task_id != task.pk:
        view.periodic_task = task
        view.save(update_fields=["periodic_task", "updated_at"])
