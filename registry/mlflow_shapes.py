"""MLflow's side of the compatible registry API: its stage names, its errors, its
request parameters, its JSON shapes, and the query helpers its search calls share.
The endpoints are in registry/mlflow_api.py."""

import json
import logging

from django.conf import settings
from django.db.models import F, Prefetch, Q, QuerySet
from django.db.models.fields.json import KeyTextTransform
from django.http import JsonResponse

from control_plane import token_scope
from control_plane.errors import Conflict, Forbidden, Invalid, NotFound, ServiceError

from . import mlflow_search, selectors, stages
from .models import ModelAlias, ModelVersion, RegisteredModel

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


def invalid(message: str) -> MlflowError:
    return MlflowError(400, "INVALID_PARAMETER_VALUE", message)


# Conflicts that are the approval gate speaking, not a state the caller can fix alone.
GOVERNANCE_CONFLICTS = {"promotion_required", "rollback_required"}


def from_service_error(exc: ServiceError, params: "Params | None" = None) -> MlflowError:
    """Our service errors as MLflow error codes, with MLflow's wording where clients match
    on it (`params` are the request's, naming the model and version). MLflow maps
    INVALID_STATE to HTTP 500, which its client retries; ours is a definite refusal, so
    it is sent with 400."""
    data = params.data if params is not None else {}
    name, version = data.get("name"), data.get("version")
    if isinstance(exc, NotFound):
        if exc.code == "model_not_found" and name:
            return MlflowError(404, "RESOURCE_DOES_NOT_EXIST", f"Registered Model with name={name} not found")
        if exc.code == "version_not_found" and name and version:
            return MlflowError(
                404, "RESOURCE_DOES_NOT_EXIST", f"Model Version (name={name}, version={version}) not found"
            )
        return MlflowError(404, "RESOURCE_DOES_NOT_EXIST", exc.message)
    if isinstance(exc, Forbidden):
        return MlflowError(403, "PERMISSION_DENIED", exc.message)
    if isinstance(exc, Invalid):
        return MlflowError(400, "INVALID_PARAMETER_VALUE", exc.message)
    if isinstance(exc, Conflict):
        if exc.code == "model_exists":
            taken = data.get("new_name") or name
            return MlflowError(400, "RESOURCE_ALREADY_EXISTS", f"Registered Model (name={taken}) already exists.")
        if exc.code in GOVERNANCE_CONFLICTS:
            return MlflowError(403, "PERMISSION_DENIED", exc.message)
        return MlflowError(400, "INVALID_STATE", exc.message)
    return MlflowError(400, "BAD_REQUEST", exc.message)


def error_response(error: MlflowError) -> JsonResponse:
    return JsonResponse({"error_code": error.error_code, "message": error.message}, status=error.status)


# --- Request parameters -----------------------------------------------------------------


class Params:
    """A request's parameters: the query string, then the JSON body over it (MLflow's
    client sends GET parameters in the query string and everything else as JSON)."""

    def __init__(self, data: dict):
        self.data = data

    def _missing(self, key: str) -> MlflowError:
        return invalid(
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
            raise invalid(f"Invalid value {json.dumps(value)} for parameter '{key}' supplied: expected a string.")
        return value

    def version(self, key: str = "version") -> int:
        value = self.text(key, required=True)
        try:
            number = int(value)
        except ValueError:
            raise invalid(f"Parameter '{key}' must be an integer, got '{value}'.") from None
        if number < 1:
            raise invalid(f"Parameter '{key}' must be a positive integer, got '{value}'.")
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
            raise invalid(f"Invalid value {json.dumps(value)} for parameter '{key}': expected an integer.") from None
        if number < 1:
            raise invalid(f"Invalid value for parameter '{key}': it must be a positive integer, got {number}.")
        if number > limit:
            raise invalid(
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
        raise invalid(f"Invalid value {json.dumps(value)} for parameter '{key}': expected true or false.")

    def strings(self, key: str) -> list[str]:
        value = self.data.get(key)
        if value is None:
            return []
        if isinstance(value, str):
            value = [value]
        if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
            raise invalid(f"Invalid value {json.dumps(value)} for parameter '{key}': expected a list of strings.")
        return value

    def tags(self, key: str = "tags") -> dict[str, str]:
        value = self.data.get(key)
        if value is None:
            return {}
        if not isinstance(value, list) or not all(isinstance(item, dict) and "key" in item for item in value):
            raise invalid(f"Invalid value for parameter '{key}': expected a list of {{key, value}} objects.")
        tags = {}
        for item in value:
            tag_key, tag_value = item.get("key"), item.get("value", "")
            if not isinstance(tag_key, str) or not isinstance(tag_value, (str, type(None))):
                raise invalid(f"Invalid tag {json.dumps(item)}: key and value must be strings.")
            tags[tag_key] = tag_value or ""
        return tags


# --- Serialisation (MLflow's protobuf JSON) ---------------------------------------------


def ms(dt) -> int:
    return int(dt.timestamp() * 1000)


def tags_json(tags: dict) -> list[dict]:
    return [{"key": key, "value": value} for key, value in sorted(tags.items())]


def version_json(mv: ModelVersion) -> dict:
    out = {
        "name": mv.model.name,
        "version": str(mv.version),
        "creation_timestamp": ms(mv.created_at),
        "last_updated_timestamp": ms(mv.updated_at),
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
        out["tags"] = tags_json(mv.tags)
    out["run_link"] = ""
    aliases = selectors.version_aliases(mv)
    if aliases:
        out["aliases"] = aliases
    if mv.mlflow_model_id:
        out["model_id"] = mv.mlflow_model_id
    return out


def latest_per_stage(versions: list[ModelVersion], wanted: set[str] | None = None) -> list[ModelVersion]:
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
        "creation_timestamp": ms(model.created_at),
        "last_updated_timestamp": ms(model.updated_at),
    }
    if model.created_by is not None:
        out["user_id"] = model.created_by.username
    if model.description:
        out["description"] = model.description
    latest = latest_per_stage(versions)
    if latest:
        out["latest_versions"] = [version_json(mv) for mv in latest]
    if model.tags:
        out["tags"] = tags_json(model.tags)
    aliases = {a.alias: a.version.version for a in model.aliases.all()}
    production = next((mv for mv in versions if mv.stage == stages.PRODUCTION), None)
    if production is not None:
        aliases[settings.PRODUCTION_ALIAS] = production.version
    if aliases:
        out["aliases"] = [{"alias": alias, "version": str(v)} for alias, v in sorted(aliases.items())]
    return out


def version_rows() -> QuerySet[ModelVersion]:
    return token_scope.only_allowed(ModelVersion.objects, "model__name").select_related("model", "created_by").prefetch_related("aliases")


def model_rows() -> QuerySet[RegisteredModel]:
    return token_scope.only_allowed(RegisteredModel.objects).select_related("created_by").prefetch_related(
        Prefetch(
            "versions",
            queryset=ModelVersion.objects.select_related("created_by").prefetch_related("aliases"),
            to_attr="all_versions",
        ),
        Prefetch("aliases", queryset=ModelAlias.objects.select_related("version")),
    )


def model_row(name: str) -> RegisteredModel:
    model = model_rows().filter(name=name).first()
    if model is None:
        raise MlflowError(404, "RESOURCE_DOES_NOT_EXIST", f"Registered Model with name={name} not found")
    return model


def version_row(name: str, version: int) -> ModelVersion:
    mv = version_rows().filter(model__name=name, version=version).first()
    if mv is None:
        raise MlflowError(404, "RESOURCE_DOES_NOT_EXIST", f"Model Version (name={name}, version={version}) not found")
    return mv



MODEL_FIELDS = {"name": "name"}
MODEL_ORDER_FIELDS = {"name": "name", "creation_timestamp": "created_at", "last_updated_timestamp": "updated_at"}
VERSION_FIELDS = {"name": "model__name", "run_id": "run_id", "source_path": "source", "version_number": "version"}
VERSION_ORDER_FIELDS = {
    "name": "model__name",
    "version_number": "version",
    "creation_timestamp": "created_at",
    "last_updated_timestamp": "updated_at",
}
LOOKUPS = {
    "=": "exact",
    "LIKE": "regex",
    "ILIKE": "iregex",
    "IN": "in",
    "<": "lt",
    "<=": "lte",
    ">": "gt",
    ">=": "gte",
}


def filtered(qs: QuerySet, clauses: list[mlflow_search.Clause], fields: dict[str, str]) -> QuerySet:
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
        elif clause.comparator == "NOT IN":
            qs = qs.exclude(**{f"{field}__in": value})
        else:
            qs = qs.filter(**{f"{field}__{LOOKUPS[clause.comparator]}": value})
    return qs


def ordered(qs: QuerySet, order: list[tuple[str, bool]], fields: dict[str, str], tie_breakers) -> QuerySet:
    keys = [key for key, _ in order]
    order = [*order, *[(key, asc) for key, asc in tie_breakers if key not in keys]]
    return qs.order_by(*[F(fields[key]).asc() if asc else F(fields[key]).desc() for key, asc in order])


def page(qs: QuerySet, p: Params, *, default: int, limit: int) -> tuple[list, str | None]:
    max_results = p.integer("max_results", default=default, limit=limit)
    offset = mlflow_search.page_token_decode(p.text("page_token"))
    rows = list(qs[offset : offset + max_results + 1])
    token = mlflow_search.page_token_encode(offset + max_results) if len(rows) > max_results else None
    return rows[:max_results], token
