"""Move a team over from an existing MLflow model registry: copy registered models and
their versions (stages, aliases, tags, descriptions, sources). Idempotent: each source
version is remembered (MlflowImportedVersion), and only differences are written, so a
second run changes nothing and journals nothing."""

from dataclasses import dataclass, field

from django.conf import settings
from django.contrib.auth.models import User
from django.db import transaction

from control_plane import roles
from control_plane.errors import Forbidden, Invalid, ServiceError
from control_plane.journal import event_append

from . import services
from .models import MlflowImportedVersion, ModelVersion, RegisteredModel

MLFLOW_STAGES = {"None": "none", "Staging": "staging", "Production": "production", "Archived": "archived"}


@dataclass
class ImportReport:
    registry_uri: str
    models_created: list[str] = field(default_factory=list)
    versions_created: list[str] = field(default_factory=list)
    stages_changed: list[str] = field(default_factory=list)
    aliases_set: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    @property
    def changes(self) -> int:
        return sum(map(len, (self.models_created, self.versions_created, self.stages_changed, self.aliases_set, self.updated)))

    def as_dict(self) -> dict:
        return {
            "registry_uri": self.registry_uri,
            "changes": self.changes,
            "models_created": self.models_created,
            "versions_created": self.versions_created,
            "stages_changed": self.stages_changed,
            "aliases_set": self.aliases_set,
            "updated": self.updated,
            "warnings": self.warnings,
        }


def _paged(fetch):
    token = None
    while True:
        page = fetch(token)
        yield from page
        token = page.token
        if not token:
            return


def registry_import(*, actor: User, registry_uri: str = "", models: list[str] | None = None) -> ImportReport:
    if not roles.user_can(actor, roles.MANAGE_USERS):
        raise Forbidden("Only an admin can import a registry.", code="permission_denied")
    registry_uri = registry_uri or settings.MLFLOW_TRACKING_URI
    if not registry_uri:
        raise Invalid("Name the MLflow registry to import from.", details={"registry_uri": ["Required."]})
    from mlflow import MlflowClient
    from mlflow.exceptions import MlflowException

    client = MlflowClient(tracking_uri=registry_uri, registry_uri=registry_uri)
    report = ImportReport(registry_uri=registry_uri)
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
    name = source_model.name
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
        if local.stage != stage:
            services.version_set_stage_imported(
                actor=actor, model_name=name, version=local.version, stage=stage, source=registry_uri
            )
            report.stages_changed.append(f"{name} v{local.version}: {local.stage} -> {stage}")

    for alias, number in (source_model.aliases or {}).items():
        if alias == settings.PRODUCTION_ALIAS:
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
