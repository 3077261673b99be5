"""Helpers every registry service uses: role checks and row locks."""

from django.contrib.auth.models import User

from control_plane import roles, token_scope
from control_plane.errors import Conflict, Forbidden, Invalid, NotFound
from control_plane.journal import event_append
from control_plane.models import Event

from .. import stages
from ..models import ModelVersion, RegisteredModel
from ..names import MODEL_NAME_RULE, model_name_problem


def name_check(name, *, field: str) -> None:
    problem = model_name_problem(name)
    if problem:
        raise Invalid(f"{problem} {MODEL_NAME_RULE}", code="invalid_name", details={field: [problem, MODEL_NAME_RULE]})


def _same_time(row, now) -> None:
    """Set a row's last-updated time to `now` (auto_now would stamp the time of the save:
    MLflow gives a new row equal creation and last-updated times, and a model the time of
    the change made to its version)."""
    type(row).objects.filter(pk=row.pk).update(updated_at=now)
    row.updated_at = now


def _require(actor: User, capability: str) -> None:
    if not roles.user_can(actor, capability):
        raise Forbidden(roles.not_allowed(capability, actor), code="permission_denied")


def _lock_model(name: str) -> RegisteredModel:
    token_scope.require_model(name)
    model = RegisteredModel.objects.select_for_update().filter(name=name).first()
    if model is None:
        raise NotFound(f"Model '{name}' does not exist.", code="model_not_found")
    return model


def _version(model: RegisteredModel, number: int, *, lock: bool = True) -> ModelVersion:
    qs = ModelVersion.objects.select_for_update() if lock else ModelVersion.objects
    version = qs.filter(model=model, version=number).first()
    if version is None:
        raise NotFound(f"Model '{model.name}' has no version {number}.", code="version_not_found")
    version.model = model
    return version


def _check_tags(tags) -> dict:
    if tags is None:
        return {}
    if not isinstance(tags, dict) or not all(isinstance(k, str) and isinstance(v, str) for k, v in tags.items()):
        raise Invalid("Tags must be an object of string keys to string values.", details={"tags": ["Invalid."]})
    return tags


def _claim_name(actor: User, name: str) -> None:
    """Refuse a name under which some version was in Production (the journal keeps names
    as they were), unless an admin takes it, on record: clients that call the name
    must not find another model's version behind it unapproved. Call it inside the
    transaction that gives the name."""
    if RegisteredModel.objects.filter(name=name).exists():
        return  # taken: the caller's unique constraint answers
    versions = sorted(
        set(
            Event.objects.filter(type="version.stage_changed", model_name=name, payload__to=stages.PRODUCTION)
            .exclude(version=None)
            .values_list("version", flat=True)
        )
    )
    if not versions:
        return
    if not roles.user_can(actor, roles.MANAGE_USERS):
        raise Conflict(
            f"The name '{name}' had versions in Production ({', '.join(f'v{v}' for v in versions)}); another "
            "model may not take it, so that clients calling it do not reach an unapproved version. Only an "
            "admin can reuse it.",
            code="name_had_production",
            details={"name": ["Had Production history."]},
        )
    event_append(type="model.name_reused", actor=actor, model_name=name, payload={"production_versions": versions})
