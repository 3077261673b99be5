"""Aliases, tags, renames and deletions: the calls MLflow clients make besides stages.

The production alias (settings.PRODUCTION_ALIAS, `champion` by default) is not stored:
it always names the Production version, so setting it files a promotion request."""

import re

from django.conf import settings
from django.contrib.auth.models import User
from django.db import IntegrityError, transaction
from django.utils import timezone

from control_plane import roles, token_scope
from control_plane.errors import Conflict, Invalid, NotFound
from control_plane.journal import event_append

from .. import rollout, stages
from ..models import ModelAlias, ModelVersion, RegisteredModel
from ..tag_rules import check_version_tags
from ._common import _claim_name, _lock_model, _require, _same_time, _version, name_check
from .stage_changes import _close_pending_requests

_ALIAS = re.compile(r"^[\w\-]{1,255}$")
_RESERVED_ALIAS = re.compile(r"^(latest|v\d+)$", re.IGNORECASE)


def is_production_alias(alias: str) -> bool:
    """The production alias is reserved in every case: `Champion` must not name a
    version that is not in Production while `champion` names the one that is."""
    return (alias or "").casefold() == settings.PRODUCTION_ALIAS.casefold()


def alias_validate(alias: str) -> str:
    if not _ALIAS.match(alias or "") or _RESERVED_ALIAS.match(alias):
        raise Invalid(
            f"Alias {alias!r} is invalid: use letters, digits, '_' or '-', and not 'latest' or 'v<number>'.",
            code="invalid_alias",
            details={"alias": ["Invalid alias."]},
        )
    return alias


def alias_set(*, actor: User, model_name: str, alias: str, version: int) -> ModelAlias:
    """Point a (non-production) alias at a version."""
    _require(actor, roles.REGISTER)
    alias_validate(alias)
    if is_production_alias(alias):
        raise Conflict(
            f"'{alias}' always names the Production version; file a promotion request instead.",
            code="promotion_required",
        )
    with transaction.atomic():
        model = _lock_model(model_name)
        mv = _version(model, version)
        current = ModelAlias.objects.filter(model=model, alias=alias).select_related("version").first()
        previous = current.version.version if current else None
        if current is None:
            current = ModelAlias.objects.create(model=model, alias=alias, version=mv, set_by=actor)
        elif current.version_id != mv.pk:
            current.version, current.set_by, current.updated_at = mv, actor, timezone.now()
            current.save(update_fields=["version", "set_by", "updated_at"])
        else:
            return current
        event_append(
            type="alias.set",
            actor=actor,
            model_name=model.name,
            version=mv.version,
            payload={"alias": alias, "previous_version": previous},
        )
    return current


def alias_delete(*, actor: User, model_name: str, alias: str) -> None:
    _require(actor, roles.REGISTER)
    if is_production_alias(alias):
        raise Conflict(
            f"'{alias}' follows the Production version and cannot be deleted; roll back instead.",
            code="rollback_required",
        )
    with transaction.atomic():
        model = _lock_model(model_name)
        current = ModelAlias.objects.filter(model=model, alias=alias).select_related("version").first()
        if current is None:
            raise NotFound(f"Model '{model_name}' has no alias '{alias}'.", code="alias_not_found")
        version = current.version.version
        current.delete()
        event_append(type="alias.deleted", actor=actor, model_name=model.name, version=version, payload={"alias": alias})


def alias_resolve(model: RegisteredModel, alias: str) -> ModelVersion | None:
    if is_production_alias(alias):
        return ModelVersion.objects.filter(model=model, stage=stages.PRODUCTION).select_related("model").first()
    found = ModelAlias.objects.filter(model=model, alias=alias).select_related("version__model").first()
    return found.version if found else None


def model_rename(*, actor: User, name: str, new_name: str) -> RegisteredModel:
    _require(actor, roles.REGISTER)
    token_scope.require_model(new_name)
    name_check(new_name, field="new_name")
    try:
        with transaction.atomic():
            model = _lock_model(name)
            if new_name == name:
                return model
            _require_renamable(model)
            _claim_name(actor, new_name)
            model.name = new_name
            model.save(update_fields=["name", "updated_at"])
            model.versions.update(updated_at=model.updated_at)  # MLflow updates the versions too
            event_append(type="model.renamed", actor=actor, model_name=new_name, payload={"from": name, "to": new_name})
    except IntegrityError:
        raise Conflict(f"Model '{new_name}' already exists.", code="model_exists") from None
    return model


def _require_renamable(model: RegisteredModel) -> None:
    """Clients find what serves them by name: a model in Production or served here keeps it."""
    production = ModelVersion.objects.filter(model=model, stage=stages.PRODUCTION).first()
    if production is not None:
        raise Conflict(
            f"Model '{model.name}' has version {production.version} in Production; a model in Production "
            "keeps its name.",
            code="model_in_production",
        )
    if rollout.is_served(model=model):
        raise Conflict(f"Model '{model.name}' has a live deployment; a served model keeps its name.", code="model_served")


def version_delete(*, actor: User, model_name: str, version: int) -> None:
    _require(actor, roles.REGISTER)
    with transaction.atomic():
        model = _lock_model(model_name)
        mv = _version(model, version)
        if mv.stage == stages.PRODUCTION:
            raise Conflict(
                f"{mv} is in Production and cannot be deleted; promote another version or roll back first.",
                code="version_in_production",
            )
        _close_pending_requests(mv, actor, "Version deleted.")
        stage = mv.stage
        mv.delete()
        _same_time(model, timezone.now())  # deleting a version updates its model (MLflow does)
        event_append(
            type="version.deleted", actor=actor, model_name=model.name, version=version, payload={"stage": stage}
        )


def _tag_change(target, key: str, value: str | None) -> bool:
    if not isinstance(key, str) or not key or len(key) > 250:
        raise Invalid("Tag keys are 1 to 250 characters.", details={"key": ["Invalid tag key."]})
    tags = dict(target.tags)
    if value is None:
        if key not in tags:
            return False
        del tags[key]
    else:
        if tags.get(key) == value:
            return False
        tags[key] = str(value)
    if hasattr(target, "input_schema"):  # a version: tags that name its inputs must fit its schema
        check_version_tags(tags, target.input_schema, version=target)
    target.tags = tags
    target.save(update_fields=["tags"])  # MLflow leaves last_updated_timestamp alone on tag changes
    return True


def model_tag_set(*, actor: User, model_name: str, key: str, value: str | None) -> RegisteredModel:
    """Set a tag, or delete it when value is None."""
    _require(actor, roles.REGISTER)
    with transaction.atomic():
        model = _lock_model(model_name)
        if _tag_change(model, key, value):
            event_append(
                type="model.updated", actor=actor, model_name=model.name, payload={"changed": ["tags"], "tag": key}
            )
    return model


def version_tag_set(*, actor: User, model_name: str, version: int, key: str, value: str | None) -> ModelVersion:
    """Set a version's tag, or delete it when value is None."""
    _require(actor, roles.REGISTER)
    with transaction.atomic():
        model = _lock_model(model_name)
        mv = _version(model, version)
        if _tag_change(mv, key, value):
            event_append(
                type="version.updated",
                actor=actor,
                model_name=model.name,
                version=mv.version,
                payload={"changed": ["tags"], "tag": key},
            )
    return mv
