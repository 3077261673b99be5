"""Helpers every registry service uses: role checks and row locks."""

from django.contrib.auth.models import User

from control_plane import roles
from control_plane.errors import Forbidden, Invalid, NotFound

from ..models import ModelVersion, RegisteredModel


def _require(actor: User, capability: str) -> None:
    if not roles.user_can(actor, capability):
        raise Forbidden(roles.not_allowed(capability, actor), code="permission_denied")


def _lock_model(name: str) -> RegisteredModel:
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
