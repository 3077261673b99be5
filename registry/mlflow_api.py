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
from django.db.models import F, Prefetch, Q, QuerySet
from django.db.models.fields.json import KeyTextTransform
from django.http import JsonResponse
from django.urls import reverse
from django.views.decorators.csrf import csrf_exempt
from drf_spectacular.utils import extend_schema
from rest_framework import exceptions as drf_exceptions
from rest_framework.authentication import SessionAuthentication
from rest_framework.parsers import JSONParser
from rest_framework.views import APIView

from control_plane import roles
from control_plane.authentication import BearerTokenAuthentication
from control_plane.errors import Conflict, Forbidden, Invalid, NotFound, ServiceError
from control_plane.models import ApiToken

from . import mlflow_search, selectors, services, stages
from .mlflow_search import SearchError
from .models import ModelAlias, ModelVersion, PromotionRequest, RegisteredModel

log = logging.getLogger(__name__)

STAGE_TO_MLFLOW = {
    stages.NONE: "None",
    stages.STAGING: "Staging",
    stages.PRODUCTION: "Production",
    stages.ARCHIVED: "Archived",
}
MLFLOW_TO_STAGE = {name.lower(): stage for stage, name in STAGE_TO_MLFLOW.items()}

# MLflow's defaults and limits (mlflow/store/model_registry/__init__.py).
MODELS_MAX_RESULTS_DEFAULT, MODELS_MAX_RESULTS_LIMIT = 100, 1000
VERSIONS_MAX_RESULTS_DEFAULT, VERSIONS_MAX_RESULTS_LIMIT = 10_000, 200_000


# --- Errors ---------------------------------------------------------------------------


class MlflowError(Exception):
    def __init__(self, status: int, error_code: str, message: str):
        super().__init__(message)
        self.status, self.error_code, self.message = status, error_code, message


def _invalid(message: str) -> MlflowError:
    return MlflowError(400, "INVALID_PARAMETER_VALUE", message)


# Conflicts that are the approval gate speaking, not a state the caller can fix alone.
_GOVERNANCE_CONFLICTS = {"promotion_required", "rollback_required"}


def _from_service_error(exc: ServiceError) -> MlflowError:
    """Our service errors as MLflow error codes. MLflow maps INVALID_STATE to HTTP 500,
    which its client retries; ours is a definite refusal, so it is sent with 400."""
    if isinstance(exc, NotFound):
        return MlflowError(404, "RESOURCE_DOES_NOT_EXIST", exc.message)
    if isinstance(exc, Forbidden):
        return MlflowError(403, "PERMISSION_DENIED", exc.message)
    if isinstance(exc, Invalid):
        return MlflowError(400, "INVALID_PARAMETER_VALUE", exc.message)
    if isinstance(exc, Conflict):
        if exc.code == "model_exists":
            return MlflowError(400, "RESOURCE_ALREADY_EXISTS", exc.message)
        if exc.code in _GOVERNANCE_CONFLICTS:
            return MlflowError(403, "PERMISSION_DENIED", exc.message)
        return MlflowError(400, "INVALID_STATE", exc.message)
    return MlflowError(400, "BAD_REQUEST", exc.message)


def _error_response(error: MlflowError) -> JsonResponse:
    return JsonResponse({"error_code": error.error_code, "message": error.message}, status=error.status)


# --- Request parameters -----------------------------------------------------------------


class Params:
    """A request's parameters: the query string, then the JSON body over it (MLflow's
    client sends GET parameters in the query string and everything else as JSON)."""

    def __init__(self, data: dict):
        self.data = data

    def _missing(self, key: str) -> MlflowError:
        return _invalid(
            f"Missing value for required parameter '{key}'. "
            "See the API docs for more information about request parameters."
        )

    def text(self, key: str, *, required: bool = False) -> str | None:
        value = self.data.get(key)
        if isinstance(value, list):
            value = value[0] if value else None
        if value is None or value == "":
            if required:
                raise self._missing(key)
            return value
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            value = str(value)
        if not isinstance(value, str):
            raise _invalid(f"Invalid value {json.dumps(value)} for parameter '{key}' supplied: expected a string.")
        return value

    def version(self, key: str = "version") -> int:
        value = self.text(key, required=True)
        try:
            number = int(value)
        except ValueError:
            raise _invalid(f"Parameter '{key}' must be an integer, got '{value}'.") from None
        if number < 1:
            raise _invalid(f"Parameter '{key}' must be a positive integer, got '{value}'.")
        return number

    def integer(self, key: str, *, default: int, limit: int) -> int:
        value = self.data.get(key)
        if isinstance(value, list):
            value = value[0] if value else None
        if value is None or value == "":
            return default
        try:
            number = int(value)
        except (TypeError, ValueError):
            raise _invalid(f"Invalid value {json.dumps(value)} for parameter '{key}': expected an integer.") from None
        if number < 1:
            raise _invalid(f"Invalid value for parameter '{key}': it must be a positive integer, got {number}.")
        if number > limit:
            raise _invalid(
                f"Invalid value for request parameter {key}. It must be at most {limit}, but got value {number}."
            )
        return number

    def flag(self, key: str) -> bool:
        value = self.data.get(key)
        if isinstance(value, list):
            value = value[0] if value else None
        if value is None or value == "":
            return False
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.lower() in ("true", "false"):
            return value.lower() == "true"
        raise _invalid(f"Invalid value {json.dumps(value)} for parameter '{key}': expected true or false.")

    def strings(self, key: str) -> list[str]:
        value = self.data.get(key)
        if value is None:
            return []
        if isinstance(value, str):
            value = [value]
        if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
            raise _invalid(f"Invalid value {json.dumps(value)} for parameter '{key}': expected a list of strings.")
        return value

    def tags(self, key: str = "tags") -> dict[str, str]:
        value = self.data.get(key)
        if value is None:
            return {}
        if not isinstance(value, list) or not all(isinstance(item, dict) and "key" in item for item in value):
            raise _invalid(f"Invalid value for parameter '{key}': expected a list of {{key, value}} objects.")
        tags = {}
        for item in value:
            tag_key, tag_value = item.get("key"), item.get("value", "")
            if not isinstance(tag_key, str) or not isinstance(tag_value, (str, type(None))):
                raise _invalid(f"Invalid tag {json.dumps(item)}: key and value must be strings.")
            tags[tag_key] = tag_value or ""
        return tags


# --- Serialisation (MLflow's protobuf JSON) ---------------------------------------------


def _ms(dt) -> int:
    return int(dt.timestamp() * 1000)


def _tags_json(tags: dict) -> list[dict]:
    return [{"key": key, "value": value} for key, value in sorted(tags.items())]


def version_json(mv: ModelVersion) -> dict:
    out = {
        "name": mv.model.name,
        "version": str(mv.version),
        "creation_timestamp": _ms(mv.created_at),
        "last_updated_timestamp": _ms(mv.updated_at),
    }
    if mv.created_by is not None:
        out["user_id"] = mv.created_by.username
    out |= {
        "current_stage": STAGE_TO_MLFLOW[mv.stage],
        "description": mv.description,
        "source": mv.source,
        "run_id": mv.run_id,
        "status": "READY",
    }
    if mv.tags:
        out["tags"] = _tags_json(mv.tags)
    out["run_link"] = ""
    aliases = selectors.version_aliases(mv)
    if aliases:
        out["aliases"] = aliases
    if mv.mlflow_model_id:
        out["model_id"] = mv.mlflow_model_id
    return out


def _latest_per_stage(versions: list[ModelVersion], wanted: set[str] | None = None) -> list[ModelVersion]:
    """The newest version in each stage, in the order MLflow lists them (the stage of
    the oldest version first)."""
    latest: dict[str, ModelVersion] = {}
    for mv in sorted(versions, key=lambda v: v.version):
        if wanted is None or mv.stage in wanted:
            latest[mv.stage] = mv
    return list(latest.values())


def model_json(model: RegisteredModel) -> dict:
    versions = model.all_versions
    out = {
        "name": model.name,
        "creation_timestamp": _ms(model.created_at),
        "last_updated_timestamp": _ms(model.updated_at),
    }
    if model.created_by is not None:
        out["user_id"] = model.created_by.username
    if model.description:
        out["description"] = model.description
    latest = _latest_per_stage(versions)
    if latest:
        out["latest_versions"] = [version_json(mv) for mv in latest]
    if model.tags:
        out["tags"] = _tags_json(model.tags)
    aliases = {a.alias: a.version.version for a in model.aliases.all()}
    production = next((mv for mv in versions if mv.stage == stages.PRODUCTION), None)
    if production is not None:
        aliases[settings.PRODUCTION_ALIAS] = production.version
    if aliases:
        out["aliases"] = [{"alias": alias, "version": str(v)} for alias, v in sorted(aliases.items())]
    return out


def _versions() -> QuerySet[ModelVersion]:
    return ModelVersion.objects.select_related("model", "created_by").prefetch_related("aliases")


def _models() -> QuerySet[RegisteredModel]:
    return RegisteredModel.objects.select_related("created_by").prefetch_related(
        Prefetch(
            "versions",
            queryset=ModelVersion.objects.select_related("created_by").prefetch_related("aliases"),
            to_attr="all_versions",
        ),
        Prefetch("aliases", queryset=ModelAlias.objects.select_related("version")),
    )


def _model(name: str) -> RegisteredModel:
    model = _models().filter(name=name).first()
    if model is None:
        raise MlflowError(404, "RESOURCE_DOES_NOT_EXIST", f"Registered Model with name={name} not found")
    return model


def _version(name: str, version: int) -> ModelVersion:
    mv = _versions().filter(model__name=name, version=version).first()
    if mv is None:
        raise MlflowError(404, "RESOURCE_DOES_NOT_EXIST", f"Model Version (name={name}, version={version}) not found")
    return mv


# --- Endpoints ------------------------------------------------------------------------


@dataclass(frozen=True)
class Handler:
    func: Callable[[object, Params], dict]
    write: bool


def _stage(value: str) -> str:
    stage = MLFLOW_TO_STAGE.get((value or "").lower())
    if stage is None:
        raise _invalid(
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
    return {"registered_model": model_json(_model(name))}


def rename_registered_model(request, p: Params) -> dict:
    name, new_name = p.text("name", required=True), p.text("new_name", required=True)
    if new_name != name:
        services.model_rename(actor=request.user, name=name, new_name=new_name)
    return {"registered_model": model_json(_model(new_name))}


def update_registered_model(request, p: Params) -> dict:
    name = p.text("name", required=True)
    description = p.data.get("description")
    services.model_update(
        actor=request.user, name=name, description=None if description is None else p.text("description") or ""
    )
    return {"registered_model": model_json(_model(name))}


def delete_registered_model(request, p: Params) -> dict:
    services.model_delete(actor=request.user, name=p.text("name", required=True))
    return {}


def get_registered_model(request, p: Params) -> dict:
    return {"registered_model": model_json(_model(p.text("name", required=True)))}


_MODEL_FIELDS = {"name": "name"}
_MODEL_ORDER_FIELDS = {"name": "name", "creation_timestamp": "created_at", "last_updated_timestamp": "updated_at"}
_VERSION_FIELDS = {"name": "model__name", "run_id": "run_id", "source_path": "source", "version_number": "version"}
_VERSION_ORDER_FIELDS = {
    "name": "model__name",
    "version_number": "version",
    "creation_timestamp": "created_at",
    "last_updated_timestamp": "updated_at",
}
_LOOKUPS = {
    "=": "exact",
    "LIKE": "regex",
    "ILIKE": "iregex",
    "IN": "in",
    "<": "lt",
    "<=": "lte",
    ">": "gt",
    ">=": "gte",
}


def _filtered(qs: QuerySet, clauses: list[mlflow_search.Clause], fields: dict[str, str]) -> QuerySet:
    clauses, wants_prompts = mlflow_search.split_prompt_clauses(clauses)
    qs = qs.annotate(_is_prompt=KeyTextTransform(mlflow_search.PROMPT_TAG, "tags"))
    if wants_prompts:
        qs = qs.filter(_is_prompt="true")
    else:  # spelled out: NOT (NULL = 'true') is NULL in SQL, which would drop untagged rows
        qs = qs.filter(Q(_is_prompt__isnull=True) | ~Q(_is_prompt="true"))
    for n, clause in enumerate(clauses):
        if clause.kind == "tag":
            field = f"_tag_{n}"
            qs = qs.annotate(**{field: KeyTextTransform(clause.key, "tags")}).filter(**{f"{field}__isnull": False})
        else:
            field = fields[clause.key]
        value = clause.value
        if clause.comparator in ("LIKE", "ILIKE"):
            value = mlflow_search.like_to_regex(value)
        if clause.comparator == "!=":
            qs = qs.exclude(**{field: value})
        else:
            qs = qs.filter(**{f"{field}__{_LOOKUPS[clause.comparator]}": value})
    return qs


def _ordered(qs: QuerySet, order: list[tuple[str, bool]], fields: dict[str, str], tie_breakers) -> QuerySet:
    keys = [key for key, _ in order]
    order = [*order, *[(key, asc) for key, asc in tie_breakers if key not in keys]]
    return qs.order_by(*[F(fields[key]).asc() if asc else F(fields[key]).desc() for key, asc in order])


def _page(qs: QuerySet, p: Params, *, default: int, limit: int) -> tuple[list, str | None]:
    max_results = p.integer("max_results", default=default, limit=limit)
    offset = mlflow_search.page_token_decode(p.text("page_token"))
    rows = list(qs[offset : offset + max_results + 1])
    token = mlflow_search.page_token_encode(offset + max_results) if len(rows) > max_results else None
    return rows[:max_results], token


def search_registered_models(request, p: Params) -> dict:
    clauses = mlflow_search.parse_filter(p.text("filter"), mlflow_search.MODEL_ATTRIBUTES)
    order = mlflow_search.parse_order_by(p.strings("order_by"), mlflow_search.MODEL_ORDER_KEYS)
    qs = _ordered(_filtered(_models(), clauses, _MODEL_FIELDS), order, _MODEL_ORDER_FIELDS, [("name", True)])
    rows, token = _page(qs, p, default=MODELS_MAX_RESULTS_DEFAULT, limit=MODELS_MAX_RESULTS_LIMIT)
    out: dict = {}
    if rows:
        out["registered_models"] = [model_json(model) for model in rows]
    if token:
        out["next_page_token"] = token
    return out


def get_latest_versions(request, p: Params) -> dict:
    model = _model(p.text("name", required=True))
    wanted = {_stage(s) for s in p.strings("stages")} or None
    latest = _latest_per_stage(model.all_versions, wanted)
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
    if alias == settings.PRODUCTION_ALIAS:
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
    model = _model(name)
    if alias.lower() == "latest":
        mv = max(model.all_versions, key=lambda v: v.version, default=None)
    else:
        mv = services.alias_resolve(model, alias)
    if mv is None:
        raise _invalid(f"Registered model alias {alias} not found.")
    return {"model_version": version_json(_version(name, mv.version))}


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
    return {"model_version": version_json(_version(name, mv.version))}


def update_model_version(request, p: Params) -> dict:
    name, version = p.text("name", required=True), p.version()
    description = p.data.get("description")
    services.version_update(
        actor=request.user,
        model_name=name,
        version=version,
        description=None if description is None else p.text("description") or "",
    )
    return {"model_version": version_json(_version(name, version))}


def delete_model_version(request, p: Params) -> dict:
    services.version_delete(actor=request.user, model_name=p.text("name", required=True), version=p.version())
    return {}


def get_model_version(request, p: Params) -> dict:
    return {"model_version": version_json(_version(p.text("name", required=True), p.version()))}


def search_model_versions(request, p: Params) -> dict:
    clauses = mlflow_search.parse_filter(p.text("filter"), mlflow_search.VERSION_ATTRIBUTES)
    order = mlflow_search.parse_order_by(
        p.strings("order_by") or ["last_updated_timestamp DESC"], mlflow_search.VERSION_ORDER_KEYS
    )
    qs = _ordered(
        _filtered(_versions(), clauses, _VERSION_FIELDS),
        order,
        _VERSION_ORDER_FIELDS,
        [("name", True), ("version_number", False)],
    )
    rows, token = _page(qs, p, default=VERSIONS_MAX_RESULTS_DEFAULT, limit=VERSIONS_MAX_RESULTS_LIMIT)
    out: dict = {}
    if rows:
        out["model_versions"] = [version_json(mv) for mv in rows]
    if token:
        out["next_page_token"] = token
    return out


def get_model_version_download_uri(request, p: Params) -> dict:
    mv = _version(p.text("name", required=True), p.version())
    return {"artifact_uri": mv.storage_location or mv.source}


def transition_model_version_stage(request, p: Params) -> dict:
    name, version = p.text("name", required=True), p.version()
    stage = _stage(p.text("stage", required=True))
    archive_existing = p.flag("archive_existing_versions")
    if archive_existing and stage not in (stages.STAGING, stages.PRODUCTION):
        raise _invalid(
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
    return {"model_version": version_json(_version(name, version))}


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
        answer = handler.func(request, self._params(request))
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
                    raise _invalid("Malformed request body: not a JSON object.") from None
            if body and not isinstance(body, dict):
                raise _invalid("Malformed request body: expected a JSON object.")
            data.update(body or {})
        return Params(data)

    def handle_exception(self, exc):
        if isinstance(exc, MlflowError):
            return _error_response(exc)
        if isinstance(exc, SearchError):
            return _error_response(_invalid(str(exc)))
        if isinstance(exc, ServiceError):
            return _error_response(_from_service_error(exc))
        if isinstance(exc, (drf_exceptions.NotAuthenticated, drf_exceptions.AuthenticationFailed)):
            return _error_response(MlflowError(401, "UNAUTHENTICATED", str(exc.detail)))
        if isinstance(exc, drf_exceptions.PermissionDenied):  # e.g. CSRF on a session request
            return _error_response(MlflowError(403, "PERMISSION_DENIED", str(exc.detail)))
        if isinstance(exc, drf_exceptions.ParseError):
            return _error_response(_invalid(f"Malformed request body: {exc.detail}"))
        if isinstance(exc, drf_exceptions.UnsupportedMediaType):
            return _error_response(MlflowError(415, "BAD_REQUEST", str(exc.detail)))
        if isinstance(exc, drf_exceptions.Throttled):
            return _error_response(MlflowError(429, "REQUEST_LIMIT_EXCEEDED", str(exc.detail)))
        if isinstance(exc, drf_exceptions.APIException):
            return _error_response(MlflowError(exc.status_code, "BAD_REQUEST", str(exc.detail)))
        log.exception("MLflow API call failed")
        return _error_response(MlflowError(500, "INTERNAL_ERROR", "Internal error; see the control plane's log."))


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
    return _error_response(
        MlflowError(
            404,
            "ENDPOINT_NOT_FOUND",
            f"{request.method} {request.path} is not served here: the control plane serves MLflow's model "
            "registry API only; runs, experiments and artifacts stay on your MLflow tracking server.",
        )
    )
