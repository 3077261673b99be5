"""MLflow's model-registry REST API (ModelRegistryService) over our registry, so that
`mlflow.set_registry_uri(<control plane>)` with MLFLOW_TRACKING_TOKEN set works unchanged.

Served at /api/2.0/mlflow/ and /ajax-api/2.0/mlflow/. Answers are MLflow's JSON (the
protobuf JSON of MLflow's handlers, field names as in model_registry.proto; empty
fields left out as MLflow leaves them out), errors are MLflow's `{"error_code",
"message"}`. Every write goes through registry.services, so the rules and the journal
are those of the native API. Governance holds: a move to Production, or setting the
production alias, files (or reuses) a promotion request and answers PERMISSION_DENIED
naming it; the version reaches Production once someone else approves.

Not in the OpenAPI schema: MLflow's own API documentation describes these calls.
"""

import json
import logging
from collections.abc import Callable
from dataclasses import dataclass

from django.conf import settings
from django.http import JsonResponse
from django.urls import reverse
from django.views.decorators.csrf import csrf_exempt
from drf_spectacular.utils import extend_schema
from rest_framework import exceptions as drf_exceptions
from rest_framework.authentication import SessionAuthentication
from rest_framework.parsers import JSONParser
from rest_framework.views import APIView

from control_plane import roles, token_scope
from control_plane.authentication import BearerTokenAuthentication
from control_plane.errors import Conflict, NotFound, ServiceError
from control_plane.models import ApiToken

from . import mlflow_search, services, stages
from .mlflow_search import SearchError
from .mlflow_shapes import (
    MLFLOW_TO_STAGE,
    MODEL_FIELDS,
    MODEL_ORDER_FIELDS,
    MODELS_MAX_RESULTS_DEFAULT,
    MODELS_MAX_RESULTS_LIMIT,
    STAGE_TO_MLFLOW,
    VERSION_FIELDS,
    VERSION_ORDER_FIELDS,
    VERSIONS_MAX_RESULTS_DEFAULT,
    VERSIONS_MAX_RESULTS_LIMIT,
    MlflowError,
    Params,
    error_response,
    filtered,
    from_service_error,
    invalid,
    latest_per_stage,
    model_json,
    model_row,
    model_rows,
    ordered,
    page,
    version_json,
    version_row,
    version_rows,
)
from .models import PromotionRequest

log = logging.getLogger(__name__)

# --- Endpoints ------------------------------------------------------------------------


@dataclass(frozen=True)
class Handler:
    func: Callable[[object, Params], dict]
    write: bool


def _stage(value: str) -> str:
    stage = MLFLOW_TO_STAGE.get((value or "").lower())
    if stage is None:
        raise invalid(
            f"Invalid Model Version stage: {value}. Value must be one of None, Staging, Production, Archived."
        )
    return stage


def _promotion_denied(request_row: PromotionRequest, what: str) -> MlflowError:
    url = settings.PUBLIC_BASE_URL.rstrip("/") + reverse("promotion-detail", args=[request_row.pk])
    needed = request_row.required_approvals
    who = "A second person" if needed == 1 else f"{needed} other people"
    return MlflowError(
        403,
        "PERMISSION_DENIED",
        f"{what} needs approval: promotion request #{request_row.pk} is pending ({url}). "
        f"{who} must approve it; the version becomes Production once approved.",
    )


# registered-models


def create_registered_model(request, p: Params) -> dict:
    name = p.text("name", required=True)
    services.model_create(actor=request.user, name=name, description=p.text("description") or "", tags=p.tags())
    return {"registered_model": model_json(model_row(name))}


def rename_registered_model(request, p: Params) -> dict:
    name, new_name = p.text("name", required=True), p.text("new_name", required=True)
    if new_name != name:
        services.model_rename(actor=request.user, name=name, new_name=new_name)
    return {"registered_model": model_json(model_row(new_name))}


def update_registered_model(request, p: Params) -> dict:
    name = p.text("name", required=True)
    description = p.data.get("description")
    services.model_update(
        actor=request.user, name=name, description=None if description is None else p.text("description") or ""
    )
    return {"registered_model": model_json(model_row(name))}


def delete_registered_model(request, p: Params) -> dict:
    services.model_delete(actor=request.user, name=p.text("name", required=True))
    return {}


def get_registered_model(request, p: Params) -> dict:
    return {"registered_model": model_json(model_row(p.text("name", required=True)))}


def search_registered_models(request, p: Params) -> dict:
    clauses = mlflow_search.parse_filter(p.text("filter"), mlflow_search.MODEL_ATTRIBUTES)
    order = mlflow_search.parse_order_by(p.strings("order_by"), mlflow_search.MODEL_ORDER_KEYS)
    qs = ordered(filtered(model_rows(), clauses, MODEL_FIELDS), order, MODEL_ORDER_FIELDS, [("name", True)])
    rows, token = page(qs, p, default=MODELS_MAX_RESULTS_DEFAULT, limit=MODELS_MAX_RESULTS_LIMIT)
    out: dict = {}
    if rows:
        out["registered_models"] = [model_json(model) for model in rows]
    if token:
        out["next_page_token"] = token
    return out


def get_latest_versions(request, p: Params) -> dict:
    model = model_row(p.text("name", required=True))
    wanted = {_stage(s) for s in p.strings("stages")} or None
    latest = latest_per_stage(model.all_versions, wanted)
    return {"model_versions": [version_json(mv) for mv in latest]} if latest else {}


def set_registered_model_tag(request, p: Params) -> dict:
    services.model_tag_set(
        actor=request.user,
        model_name=p.text("name", required=True),
        key=p.text("key", required=True),
        value=p.text("value") or "",
    )
    return {}


def delete_registered_model_tag(request, p: Params) -> dict:
    services.model_tag_set(
        actor=request.user, model_name=p.text("name", required=True), key=p.text("key", required=True), value=None
    )
    return {}


def set_registered_model_alias(request, p: Params) -> dict:
    name, alias, version = p.text("name", required=True), p.text("alias", required=True), p.version()
    if services.is_production_alias(alias):
        filed = services.promotion_request_ensure(
            actor=request.user, model_name=name, version=version, reason=f"Alias '{alias}' set through the MLflow API."
        )
        if filed is None:  # the version already is Production: the alias already names it
            return {}
        raise _promotion_denied(
            filed, f"Setting alias '{alias}' on {name} version {version} promotes it to Production, which"
        )
    services.alias_set(actor=request.user, model_name=name, alias=alias, version=version)
    return {}


def delete_registered_model_alias(request, p: Params) -> dict:
    name, alias = p.text("name", required=True), p.text("alias", required=True)
    try:
        services.alias_delete(actor=request.user, model_name=name, alias=alias)
    except NotFound as exc:
        if exc.code != "alias_not_found":
            raise
        # MLflow deletes an alias that does not exist without complaint.
    return {}


def get_model_version_by_alias(request, p: Params) -> dict:
    name, alias = p.text("name", required=True), p.text("alias", required=True)
    model = model_row(name)
    if alias.lower() == "latest":
        mv = max(model.all_versions, key=lambda v: v.version, default=None)
    else:
        mv = services.alias_resolve(model, alias)
    if mv is None:
        raise invalid(f"Registered model alias {alias} not found.")
    return {"model_version": version_json(version_row(name, mv.version))}


# model-versions


def create_model_version(request, p: Params) -> dict:
    name, source = p.text("name", required=True), p.text("source", required=True)
    mv = services.version_register_from_source(
        actor=request.user,
        model_name=name,
        source=source,
        run_id=p.text("run_id") or "",
        model_id=p.text("model_id") or "",
        description=p.text("description") or "",
        tags=p.tags(),
    )
    return {"model_version": version_json(version_row(name, mv.version))}


def update_model_version(request, p: Params) -> dict:
    name, version = p.text("name", required=True), p.version()
    description = p.data.get("description")
    services.version_update(
        actor=request.user,
        model_name=name,
        version=version,
        description=None if description is None else p.text("description") or "",
    )
    return {"model_version": version_json(version_row(name, version))}


def delete_model_version(request, p: Params) -> dict:
    services.version_delete(actor=request.user, model_name=p.text("name", required=True), version=p.version())
    return {}


def get_model_version(request, p: Params) -> dict:
    return {"model_version": version_json(version_row(p.text("name", required=True), p.version()))}


def search_model_versions(request, p: Params) -> dict:
    clauses = mlflow_search.parse_filter(p.text("filter"), mlflow_search.VERSION_ATTRIBUTES)
    order = mlflow_search.parse_order_by(
        p.strings("order_by") or ["last_updated_timestamp DESC"], mlflow_search.VERSION_ORDER_KEYS
    )
    qs = ordered(
        filtered(version_rows(), clauses, VERSION_FIELDS),
        order,
        VERSION_ORDER_FIELDS,
        [("name", True), ("version_number", False)],
    )
    rows, token = page(qs, p, default=VERSIONS_MAX_RESULTS_DEFAULT, limit=VERSIONS_MAX_RESULTS_LIMIT)
    out: dict = {}
    if rows:
        out["model_versions"] = [version_json(mv) for mv in rows]
    if token:
        out["next_page_token"] = token
    return out


def get_model_version_download_uri(request, p: Params) -> dict:
    mv = version_row(p.text("name", required=True), p.version())
    return {"artifact_uri": mv.storage_location or mv.source}


def transition_model_version_stage(request, p: Params) -> dict:
    name, version = p.text("name", required=True), p.version()
    stage = _stage(p.text("stage", required=True))
    archive_existing = p.flag("archive_existing_versions")
    if archive_existing and stage not in (stages.STAGING, stages.PRODUCTION):
        raise invalid(
            "Model version transition cannot archive existing model versions because "
            f"'{STAGE_TO_MLFLOW[stage]}' is not an Active stage. Valid stages are ['Staging', 'Production']"
        )
    if stage == stages.PRODUCTION:
        # The previous Production version is archived when the request is approved, so
        # archive_existing_versions=True is what happens anyway.
        filed = services.promotion_request_ensure(
            actor=request.user,
            model_name=name,
            version=version,
            reason="Transition to Production through the MLflow API.",
        )
        if filed is not None:
            raise _promotion_denied(filed, f"Promotion of {name} version {version} to Production")
    else:
        try:
            services.version_set_stage(
                actor=request.user,
                model_name=name,
                version=version,
                stage=stage,
                reason="Transition through the MLflow API.",
                archive_existing=archive_existing,
            )
        except Conflict as exc:
            # MLflow lets a version "move" to the stage it is in; answer it unchanged.
            if exc.code != "already_in_stage":
                raise
    return {"model_version": version_json(version_row(name, version))}


def set_model_version_tag(request, p: Params) -> dict:
    services.version_tag_set(
        actor=request.user,
        model_name=p.text("name", required=True),
        version=p.version(),
        key=p.text("key", required=True),
        value=p.text("value") or "",
    )
    return {}


def delete_model_version_tag(request, p: Params) -> dict:
    services.version_tag_set(
        actor=request.user,
        model_name=p.text("name", required=True),
        version=p.version(),
        key=p.text("key", required=True),
        value=None,
    )
    return {}


# --- The view ---------------------------------------------------------------------------


@extend_schema(exclude=True)
class MlflowEndpoint(APIView):
    """One MLflow path; `handlers` maps HTTP methods to the function answering them."""

    handlers: dict[str, Handler] = {}
    authentication_classes = [BearerTokenAuthentication, SessionAuthentication]
    permission_classes: list = []
    parser_classes = [JSONParser]

    @property
    def allowed_methods(self):  # the Allow header names this path's methods, not the class's
        return [*sorted(self.handlers), "OPTIONS"]

    def get(self, request):
        return self._answer(request)

    def post(self, request):
        return self._answer(request)

    def patch(self, request):
        return self._answer(request)

    def delete(self, request):
        return self._answer(request)

    def _answer(self, request):
        handler = self.handlers.get(request.method)
        if handler is None:
            allowed = ", ".join(sorted(self.handlers))
            raise MlflowError(
                405, "ENDPOINT_NOT_FOUND", f"{request.path} does not accept {request.method}; use {allowed}."
            )
        self._check_access(request, write=handler.write)
        params = self.mlflow_params = self._params(request)
        if isinstance(params.data.get("name"), str):
            token_scope.require_model(params.data["name"])
        answer = handler.func(request, params)
        return JsonResponse(answer)

    @staticmethod
    def _check_access(request, *, write: bool) -> None:
        """CanRead's rules in MLflow's words: a role, no serve-only token, no write with a
        read-only token."""
        if not request.user or not request.user.is_authenticated:
            raise MlflowError(
                401,
                "UNAUTHENTICATED",
                "Authentication required: send an API token as 'Authorization: Bearer <token>' "
                "(set MLFLOW_TRACKING_TOKEN for the MLflow client).",
            )
        token = request.auth if isinstance(request.auth, ApiToken) else None
        if token is not None and token.serve_only:
            raise MlflowError(403, "PERMISSION_DENIED", "This token may only call the serving endpoints.")
        if token is not None and token.read_only and write:
            raise MlflowError(403, "PERMISSION_DENIED", "This token is read-only.")
        if not roles.user_can(request.user, roles.READ):
            raise MlflowError(403, "PERMISSION_DENIED", "Your account has no role; ask an admin for one.")

    @staticmethod
    def _params(request) -> Params:
        data: dict = {}
        for key in request.query_params:
            values = request.query_params.getlist(key)
            data[key] = values if key in ("stages", "order_by") else values[-1]
        if request.method != "GET" or request.META.get("CONTENT_LENGTH"):
            body = request.data
            if isinstance(body, str):  # older clients double-encode their JSON
                try:
                    body = json.loads(body)
                except ValueError:
                    raise invalid("Malformed request body: not a JSON object.") from None
            if body and not isinstance(body, dict):
                raise invalid("Malformed request body: expected a JSON object.")
            data.update(body or {})
        return Params(data)

    def handle_exception(self, exc):
        if isinstance(exc, MlflowError):
            return error_response(exc)
        if isinstance(exc, SearchError):
            return error_response(invalid(str(exc)))
        if isinstance(exc, ServiceError):
            return error_response(from_service_error(exc, getattr(self, "mlflow_params", None)))
        if isinstance(exc, (drf_exceptions.NotAuthenticated, drf_exceptions.AuthenticationFailed)):
            return error_response(MlflowError(401, "UNAUTHENTICATED", str(exc.detail)))
        if isinstance(exc, drf_exceptions.PermissionDenied):  # e.g. CSRF on a session request
            return error_response(MlflowError(403, "PERMISSION_DENIED", str(exc.detail)))
        if isinstance(exc, drf_exceptions.ParseError):
            return error_response(invalid(f"Malformed request body: {exc.detail}"))
        if isinstance(exc, drf_exceptions.UnsupportedMediaType):
            return error_response(MlflowError(415, "BAD_REQUEST", str(exc.detail)))
        if isinstance(exc, drf_exceptions.Throttled):
            return error_response(MlflowError(429, "REQUEST_LIMIT_EXCEEDED", str(exc.detail)))
        if isinstance(exc, drf_exceptions.APIException):
            return error_response(MlflowError(exc.status_code, "BAD_REQUEST", str(exc.detail)))
        log.exception("MLflow API call failed")
        return error_response(MlflowError(500, "INTERNAL_ERROR", "Internal error; see the control plane's log."))


def endpoint(**methods: Handler):
    return MlflowEndpoint.as_view(handlers=methods)


def read(func) -> Handler:
    return Handler(func, write=False)


def write(func) -> Handler:
    return Handler(func, write=True)


@csrf_exempt
def endpoint_not_found(request, rest: str = ""):
    """Anything else under the MLflow prefix, in MLflow's words (its client falls back
    to another route on ENDPOINT_NOT_FOUND)."""
    return error_response(
        MlflowError(
            404,
            "ENDPOINT_NOT_FOUND",
            f"{request.method} {request.path} is not served here: the control plane serves MLflow's model "
            "registry API only; runs, experiments and artifacts stay on your MLflow tracking server.",
        )
    )
