"""Move a team over from an existing MLflow model registry: copy registered models and
their versions (stages, aliases, tags, descriptions, sources). Idempotent: each source
version is remembered (MlflowImportedVersion), and only differences are written, so a
second run changes nothing and journals nothing.

A version in Production there lands in Staging here with a promotion request filed by
the importer: someone else approves it, as for any version. Only the shell command,
with --keep-production, copies Production as is (journaled as such)."""

from dataclasses import dataclass, field

from django.conf import settings
from django.contrib.auth.models import User
from django.db import transaction

from control_plane import roles
from control_plane.errors import Forbidden, Invalid, ServiceError
from control_plane.journal import event_append

from . import services, stages
from .models import MlflowImportedVersion, ModelVersion, PromotionRequest, RegisteredModel
from .names import MODEL_NAME_RULE, model_name_problem

MLFLOW_STAGES = {"None": "none", "Staging": "staging", "Production": "production", "Archived": "archived"}


@dataclass
class ImportReport:
    registry_uri: str
    models_created: list[str] = field(default_factory=list)
    versions_created: list[str] = field(default_factory=list)
    stages_changed: list[str] = field(default_factory=list)
    aliases_set: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    promotion_requests: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    keep_production: bool = False
    production_kept: list[str] = field(default_factory=list)

    @property
    def changes(self) -> int:
        lists = (self.models_created, self.versions_created, self.stages_changed, self.aliases_set, self.updated)
        return sum(map(len, (*lists, self.promotion_requests)))

    def as_dict(self) -> dict:
        return {
            "registry_uri": self.registry_uri,
            "changes": self.changes,
            "models_created": self.models_created,
            "versions_created": self.versions_created,
            "stages_changed": self.stages_changed,
            "aliases_set": self.aliases_set,
            "updated": self.updated,
            "promotion_requests": self.promotion_requests,
            "warnings": self.warnings,
            "keep_production": self.keep_production,
            "production_kept": self.production_kept,
        }


def _paged(fetch):
    token = None
    while True:
        page = fetch(token)
        yield from page
        token = page.token
        if not token:
            return


def registry_import(
    *, actor: User, registry_uri: str = "", models: list[str] | None = None, keep_production: bool = False
) -> ImportReport:
    """`keep_production` is for the shell command only (the API does not offer it)."""
    if not roles.user_can(actor, roles.MANAGE_USERS):
        raise Forbidden("Only an admin can import a registry.", code="permission_denied")
    registry_uri = registry_uri or settings.MLFLOW_TRACKING_URI
    if not registry_uri:
        raise Invalid("Name the MLflow registry to import from.", details={"registry_uri": ["Required."]})
    from mlflow import MlflowClient
    from mlflow.exceptions import MlflowException

    client = MlflowClient(tracking_uri=registry_uri, registry_uri=registry_uri)
    report = ImportReport(registry_uri=registry_uri, keep_production=keep_production)
    try:
        source_models = list(_paged(lambda token: client.search_registered_models(max_results=100, page_token=token)))
        wanted = set(models or [])
        for source_model in source_models:
            if wanted and source_model.name not in wanted:
                continue
            versions = list(
                _paged(
                    lambda token, name=source_model.name: client.search_model_versions(
                        f"name = '{name}'", max_results=200, page_token=token
                    )
                )
            )
            _import_model(actor, registry_uri, source_model, sorted(versions, key=lambda v: int(v.version)), report)
    except MlflowException as exc:  # its message may quote the remote server's answer: not repeated
        why = f"MLflow error {exc.error_code}."
        raise Invalid(
            f"Reading the MLflow registry at {registry_uri} failed: {why}",
            code="import_source_unreadable",
            details={"registry_uri": [why]},
        ) from None
    if report.changes:
        with transaction.atomic():
            event_append(type="registry.imported", actor=actor, payload=report.as_dict())
    return report


def _import_model(actor, registry_uri, source_model, versions, report: ImportReport) -> None:
    name = source_model.name  # copied unchanged: spaces and all (registry/names.py)
    problem = model_name_problem(name)
    if problem:  # older MLflow servers accepted '/' and ':' in names
        report.warnings.append(f"{name!r} was not imported: {problem} {MODEL_NAME_RULE}")
        return
    model = RegisteredModel.objects.filter(name=name).first()
    tags = dict(source_model.tags or {})
    if model is None:
        services.model_create(actor=actor, name=name, description=source_model.description or "", tags=tags)
        report.models_created.append(name)
    elif model.description != (source_model.description or "") or model.tags != tags:
        services.model_update(actor=actor, name=name, description=source_model.description or "", tags=tags)
        report.updated.append(name)

    for source_version in versions:
        local = _import_version(actor, registry_uri, name, source_version, report)
        stage = MLFLOW_STAGES.get(source_version.current_stage, "none")
        if stage == stages.PRODUCTION and not report.keep_production:
            _stage_for_promotion(actor, registry_uri, name, local, report)
        elif local.stage != stage:
            note = " Production kept as is (import command, --keep-production)." if stage == stages.PRODUCTION else ""
            services.version_set_stage_imported(
                actor=actor, model_name=name, version=local.version, stage=stage, source=registry_uri, note=note
            )
            report.stages_changed.append(f"{name} v{local.version}: {local.stage} -> {stage}")
            if stage == stages.PRODUCTION:
                report.production_kept.append(f"{name} v{local.version}")

    for alias, number in (source_model.aliases or {}).items():
        if services.is_production_alias(alias):
            continue  # here it always names the Production version, imported above
        mapped = MlflowImportedVersion.objects.filter(
            source_registry=registry_uri, source_name=name, source_version=int(number)
        ).select_related("version").first()
        if mapped is None:
            report.warnings.append(f"{name}@{alias} points at v{number}, which was not imported.")
            continue
        current = services.alias_resolve(mapped.version.model, alias)
        if current is None or current.pk != mapped.version.pk:
            services.alias_set(actor=actor, model_name=name, alias=alias, version=mapped.version.version)
            report.aliases_set.append(f"{name}@{alias} -> v{mapped.version.version}")


def _stage_for_promotion(actor, registry_uri, name, local: ModelVersion, report: ImportReport) -> None:
    """Production there: Staging here, with the importer's promotion request (filed once)."""
    if local.stage == stages.PRODUCTION:
        return  # it got there here already
    if local.stage != stages.STAGING:
        services.version_set_stage_imported(
            actor=actor, model_name=name, version=local.version, stage=stages.STAGING, source=registry_uri,
            note=" In Production there; a promotion request is filed here.",
        )
        report.stages_changed.append(f"{name} v{local.version}: {local.stage} -> {stages.STAGING}")
    if PromotionRequest.objects.filter(version=local).exists():
        return
    request = services.promotion_request(
        actor=actor,
        model_name=name,
        version=local.version,
        reason=f"In Production in the MLflow registry at {registry_uri}; imported to Staging.",
    )
    report.promotion_requests.append(f"{name} v{local.version}: #{request.pk}")


def _import_version(actor, registry_uri, name, source_version, report: ImportReport) -> ModelVersion:
    number = int(source_version.version)
    mapped = MlflowImportedVersion.objects.filter(
        source_registry=registry_uri, source_name=name, source_version=number
    ).select_related("version__model").first()
    tags = dict(source_version.tags or {})
    description = source_version.description or ""
    if mapped is not None:
        local = mapped.version
        if local.description != description or local.tags != tags:
            services.version_update(actor=actor, model_name=name, version=local.version, description=description, tags=tags)
            report.updated.append(f"{name} v{local.version}")
        return local

    model = RegisteredModel.objects.get(name=name)
    keep_number = number if number > model.last_version else None
    options = dict(
        actor=actor,
        model_name=name,
        source=source_version.source,
        run_id=source_version.run_id or "",
        description=description,
        tags=tags,
        number=keep_number,
    )
    with transaction.atomic():  # the version and the record of where it came from, together
        try:
            local = services.version_register_from_source(**options)
        except ServiceError as exc:  # the source cannot be read here: keep what the registry said
            report.warnings.append(f"{name} v{number}: {exc.message} Registered without MLflow details.")
            local = services.version_register(**options)
        MlflowImportedVersion.objects.create(
            source_registry=registry_uri, source_name=name, source_version=number, version=local
        )
    report.versions_created.append(f"{name} v{local.version} (v{number} there)")
    return local
