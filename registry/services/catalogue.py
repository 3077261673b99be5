"""Models and versions: create, update, delete."""

from django.contrib.auth.models import User
from django.db import IntegrityError, transaction
from django.utils import timezone

from control_plane import roles, token_scope
from control_plane.errors import Conflict, Invalid
from control_plane.journal import event_append

from .. import stages
from ..models import ModelVersion, RegisteredModel
from .. import mlflow_source
from ..mlflow_source import SourceInfo
from ..source_rules import source_problem
from ..schema import schema_normalise, schema_problems
from ..tag_rules import check_version_tags
from ._common import _check_tags, _claim_name, _lock_model, _require, _same_time, _version, name_check


# --- Models ---------------------------------------------------------------------------


def model_create(
    *,
    actor: User,
    name: str,
    description: str = "",
    tags: dict | None = None,
    required_approvals: int = 1,
    owner: User | None = None,
) -> RegisteredModel:
    _require(actor, roles.REGISTER)
    token_scope.require_model(name)
    name_check(name, field="name")
    if not 1 <= required_approvals <= 10:
        raise Invalid("required_approvals must be between 1 and 10.", details={"required_approvals": ["1 to 10."]})
    try:
        with transaction.atomic():
            _claim_name(actor, name)
            now = timezone.now()
            model = RegisteredModel.objects.create(
                created_at=now,
                name=name,
                description=description,
                tags=_check_tags(tags),
                required_approvals=required_approvals,
                owner=owner or actor,
                created_by=actor,
            )
            _same_time(model, now)
            event_append(
                type="model.created",
                actor=actor,
                model_name=name,
                payload={"required_approvals": required_approvals, "owner": model.owner.username},
            )
    except IntegrityError:
        raise Conflict(f"Model '{name}' already exists.", code="model_exists") from None
    return model


def model_update(
    *,
    actor: User,
    name: str,
    description: str | None = None,
    tags: dict | None = None,
    required_approvals: int | None = None,
) -> RegisteredModel:
    _require(actor, roles.REGISTER)
    with transaction.atomic():
        model = _lock_model(name)
        changes = {}
        if description is not None and description != model.description:
            changes["description"] = description
        if tags is not None and _check_tags(tags) != model.tags:
            changes["tags"] = tags
        if required_approvals is not None and required_approvals != model.required_approvals:
            # Lowering the number of approvers weakens the four-eyes rule: approvers only.
            if required_approvals < model.required_approvals:
                _require(actor, roles.DECIDE_PROMOTION)
            if not 1 <= required_approvals <= 10:
                raise Invalid("required_approvals must be between 1 and 10.", details={"required_approvals": ["1 to 10."]})
            changes["required_approvals"] = required_approvals
        if changes:
            for field, value in changes.items():
                setattr(model, field, value)
            model.save()
            event_append(type="model.updated", actor=actor, model_name=name, payload={"changed": sorted(changes)})
    return model


def model_delete(*, actor: User, name: str) -> None:
    _require(actor, roles.DELETE_MODEL)
    with transaction.atomic():
        model = _lock_model(name)
        production = model.versions.filter(stage=stages.PRODUCTION).first()
        if production is not None:
            raise Conflict(
                f"Model '{name}' has version {production.version} in Production; roll it back or archive it first.",
                code="model_in_production",
            )
        count = model.versions.count()
        model.delete()
        event_append(type="model.deleted", actor=actor, model_name=name, payload={"versions": count})


# --- Versions -------------------------------------------------------------------------


def version_register(
    *,
    actor: User,
    model_name: str,
    source: str,
    run_id: str = "",
    description: str = "",
    metrics: dict | None = None,
    params: dict | None = None,
    tags: dict | None = None,
    input_schema: list | None = None,
    output_schema: list | None = None,
    mlflow_info: SourceInfo | None = None,
    number: int | None = None,
) -> ModelVersion:
    """Register a version as given. `mlflow_info` carries what the tracking server said about
    the source (see version_register_from_source). `number` (imports only) asks for a
    specific version number above every number handed out so far."""
    _require(actor, roles.REGISTER)
    problems = {}
    if not source or not source.strip():
        problems["source"] = ["A source URI is required."]
    elif why := source_problem(source):
        problems["source"] = [why]
    for field, schema in (("input_schema", input_schema), ("output_schema", output_schema)):
        if schema:
            found = schema_problems(schema)
            if found:
                problems[field] = found
    if metrics and not all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in metrics.values()):
        problems["metrics"] = ["Metric values must be numbers."]
    if problems:
        raise Invalid("The version is invalid: " + "; ".join(f"{k}: {v[0]}" for k, v in problems.items()), details=problems)
    check_version_tags(_check_tags(tags), input_schema)
    with transaction.atomic():
        model = _lock_model(model_name)
        if number is not None and number <= model.last_version:
            raise Conflict(
                f"Version number {number} of '{model.name}' is taken (numbers go up to {model.last_version}).",
                code="version_number_taken",
            )
        model.last_version = number if number is not None else model.last_version + 1
        model.save(update_fields=["last_version"])
        now = timezone.now()
        version = ModelVersion.objects.create(
            created_at=now,
            stage_changed_at=now,
            model=model,
            version=model.last_version,
            source=source.strip(),
            run_id=run_id or "",
            description=description or "",
            metrics=metrics or {},
            params={k: str(v) for k, v in (params or {}).items()},
            tags=_check_tags(tags),
            input_schema=schema_normalise(input_schema or []),
            output_schema=schema_normalise(output_schema or []),
            storage_location=mlflow_info.storage_location if mlflow_info else "",
            mlflow_model_id=mlflow_info.model_id if mlflow_info else "",
            flavors=mlflow_info.flavors if mlflow_info else [],
            run_tags=mlflow_info.tags if mlflow_info else {},
            signature_found=mlflow_info.signature_found if mlflow_info else None,
            created_by=actor,
        )
        _same_time(version, now)
        _same_time(model, now)  # a new version updates its model, at the version's creation time
        event_append(
            type="version.registered",
            actor=actor,
            model_name=model.name,
            version=version.version,
            payload={
                "source": version.source,
                "run_id": version.run_id,
                "model_id": version.mlflow_model_id,
                "signature": version.signature_found,
            },
        )
    return version


def version_register_from_source(
    *,
    actor: User,
    model_name: str,
    source: str = "",
    run_id: str = "",
    model_id: str = "",
    description: str = "",
    metrics: dict | None = None,
    params: dict | None = None,
    tags: dict | None = None,
    input_schema: list | None = None,
    output_schema: list | None = None,
    number: int | None = None,
) -> ModelVersion:
    """Register a version, first reading the run, the model's flavours and signature from
    MLflow when the source is an MLflow URI (or only a run id is given). What the caller
    states explicitly wins over what MLflow says."""
    _require(actor, roles.REGISTER)  # before any network call
    if source and (why := source_problem(source)):
        raise Invalid(f"The version is invalid: source: {why}", details={"source": [why]})
    reference = mlflow_source.registry_reference(source)
    if reference is not None:
        info = _registry_source(reference, source)
    else:
        info = mlflow_source.resolve(source=source, run_id=run_id, model_id=model_id)
    if info is None:
        return version_register(
            actor=actor, model_name=model_name, source=source, run_id=run_id, description=description,
            metrics=metrics, params=params, tags=tags, input_schema=input_schema, output_schema=output_schema,
            number=number,
        )
    return version_register(
        actor=actor,
        model_name=model_name,
        source=info.source,
        run_id=run_id or info.run_id,
        description=description,
        metrics={**info.metrics, **(metrics or {})},
        params={**info.params, **(params or {})},
        tags=tags,
        input_schema=input_schema or info.input_schema,
        output_schema=output_schema or info.output_schema,
        mlflow_info=info,
        number=number,
    )


def _registry_source(reference: mlflow_source.RegistryReference, source: str) -> SourceInfo:
    """A version of this registry as the source of a new one (MLflow's copy_model_version):
    the new version points at the same artifacts, resolved now as MLflow resolves them,
    and carries what was known about them."""
    from .aliases import alias_resolve

    model = RegisteredModel.objects.filter(name=reference.name).first()
    original = None
    if model is not None:
        versions = ModelVersion.objects.filter(model=model)
        wanted = reference.version.lower()
        if reference.alias:
            original = alias_resolve(model, reference.alias)
        elif reference.version.isdigit():
            original = versions.filter(version=int(reference.version)).first()
        elif wanted == "latest":
            original = versions.order_by("-version").first()
        elif wanted in stages.STAGES:
            original = versions.filter(stage=wanted).order_by("-version").first()
    if original is None:
        raise Invalid(
            f"source '{source}' names no version of this registry.",
            code="source_not_found",
            details={"source": ["No such registered model version."]},
        )
    return SourceInfo(
        source=f"models:/{reference.name}/{original.version}",
        run_id=original.run_id,
        model_id=original.mlflow_model_id,
        storage_location=original.storage_location or original.source,
        flavors=list(original.flavors),
        metrics=dict(original.metrics),
        params=dict(original.params),
        tags=dict(original.run_tags),
        input_schema=list(original.input_schema),
        output_schema=list(original.output_schema),
        signature_found=original.signature_found,
    )


def version_update(
    *, actor: User, model_name: str, version: int, description: str | None = None, tags: dict | None = None
) -> ModelVersion:
    _require(actor, roles.REGISTER)
    with transaction.atomic():
        model = _lock_model(model_name)
        mv = _version(model, version)
        changed = []
        if description is not None and description != mv.description:
            mv.description = description
            changed.append("description")
        if tags is not None and _check_tags(tags) != mv.tags:
            check_version_tags(tags, mv.input_schema, version=mv)
            mv.tags = tags
            changed.append("tags")
        if changed:
            mv.save(update_fields=[*changed, "updated_at"])
            event_append(
                type="version.updated", actor=actor, model_name=model.name, version=mv.version, payload={"changed": changed}
            )
    return mv
