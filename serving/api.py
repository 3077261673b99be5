"""The data plane: POST /api/v1/serve/{model}/predict and .../invocations.

Plain Django views rather than DRF: this is the hot path, and every millisecond of
framework is paid per request. Errors use the API's error format."""

import hashlib
import json
import time

from django.http import JsonResponse
from django.utils import timezone
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from control_plane.errors import ServiceError, error_body
from features.binding import TAG as FEATURE_SERVICE_TAG
from control_plane.request_context import new_request_id
from monitoring.prediction_log import CONFLICT, RETRY, RequestKey, log_predictions
from monitoring.records import PredictionRecord
from registry.model_loading import ModelLoadError, load_version
from registry.models import RegisteredModel

from . import mlflow_protocol, shadow
from .auth import AuthError, authorize
from .json_body import parse_json
from .router import Route, routing_table
from .routing import goes_to_challenger
from .scoring import prepare, score
from .validation import validate_rows

MAX_ROWS = 10_000


class ServingError(Exception):
    def __init__(self, status: int, code: str, message: str, details: dict | None = None):
        super().__init__(message)
        self.status, self.code, self.message, self.details = status, code, message, details or {}

    def response(self, request_id: str) -> JsonResponse:
        response = JsonResponse(error_body(self.code, self.message, self.details), status=self.status)
        response["X-Request-ID"] = request_id
        return response


def _authenticate(request, model_name: str) -> None:
    try:
        authorize(request.headers.get("Authorization", ""), model_name)
    except AuthError as exc:
        raise ServingError(exc.status, exc.code, exc.message) from None


def _route(model_name: str) -> Route:
    route = routing_table.route(model_name)
    if route is not None:
        return route
    if not RegisteredModel.objects.filter(name=model_name).exists():
        raise ServingError(404, "model_not_found", f"Model '{model_name}' does not exist.")
    raise ServingError(404, "nothing_deployed", f"Model '{model_name}' has no Production version or deployment.")


def _choose(route: Route, routing_key: str):
    if route.challenger is not None and route.challenger_weight and goes_to_challenger(routing_key, route.challenger_weight):
        return "challenger", route.challenger
    return "champion", route.champion


def _with_features(version, rows: list[dict]) -> tuple[list[dict], list[dict]]:
    """(model rows, logged rows): the online features merged in for a version that names a
    feature service (features.serving_rows); the rows as sent otherwise."""
    import redis

    from features.serving_rows import MissingFeatures, merge_online

    try:
        merged = merge_online(version, rows)
    except MissingFeatures as exc:
        fields = sorted({p["field"] for p in exc.problems})
        raise ServingError(
            422, "features_missing",
            f"{len(exc.problems)} feature value(s) missing or stale in the online store ({', '.join(fields)}); "
            f"the feature service refuses them.",
            {"problems": exc.problems, "fields": fields},
        ) from None
    except ServiceError as exc:
        raise ServingError(exc.status, exc.code, exc.message, exc.details) from None
    except redis.RedisError as exc:
        raise ServingError(503, "feature_store_unavailable", f"The online feature store cannot be read: {exc}") from None
    return merged.model_rows, merged.logged_rows


def _score_version(version, rows: list[dict]) -> tuple[list, float, list[dict]]:
    """Validate, load (from the cache when warm) and score. Returns the predictions, the
    milliseconds spent loading the model (a cold start adds it once) and the rows to log."""
    logged = rows
    if FEATURE_SERVICE_TAG in version.tags:
        rows, logged = _with_features(version, rows)
    problems = validate_rows(rows, version.input_schema) if version.input_schema else []
    if problems:
        fields = sorted({p["field"] for p in problems if p["field"]})
        raise ServingError(
            422,
            "schema_violation",
            f"{len(problems)} problem(s) against the serving schema of v{version.version}: "
            + "; ".join(f"row {p['row']} {p['field'] or ''} {p['problem']}".replace("  ", " ") for p in problems[:5]),
            {"problems": problems, "fields": fields},
        )
    load_started = time.perf_counter()
    try:
        loaded = load_version(version)
        prepare(loaded)
    except ModelLoadError as exc:
        raise ServingError(503, "model_unavailable", str(exc)) from None
    load_ms = (time.perf_counter() - load_started) * 1000
    try:
        return score(loaded, rows, version.input_schema), load_ms, logged
    except Exception as exc:
        raise ServingError(500, "model_error", f"v{version.version} failed to score: {type(exc).__name__}: {exc}")


def _row_ids(request_id: str, count: int) -> list[str]:
    return [request_id] if count == 1 else [f"{request_id}-{i}" for i in range(count)]


def _records(route, version, variant, request_id, rows, predictions, latency_ms, extra=None):
    now = timezone.now()
    return [
        PredictionRecord(
            request_id=row_id,
            model_name=route.model_name,
            model_version=version.version,
            variant=variant,
            timestamp=now,
            features=row,
            prediction=prediction,
            latency_ms=latency_ms,
            deployment_id=route.deployment_id,
            extra=extra or {},
        )
        for row_id, row, prediction in zip(_row_ids(request_id, len(rows)), rows, predictions)
    ]


def _shadow_score(route: Route, request_id: str, rows: list[dict]) -> None:
    started, load_ms, logged = time.perf_counter(), 0.0, rows
    try:
        predictions, load_ms, logged = _score_version(route.challenger, rows)
        extra = _cold_start(load_ms)
    except ServingError as exc:
        predictions, extra = [None] * len(rows), {"error": exc.message}
    latency = (time.perf_counter() - started) * 1000 - (load_ms if extra else 0.0)
    log_predictions(_records(route, route.challenger, "shadow", request_id, logged, predictions, latency, extra))


COLD_START_MS = 5.0


def _cold_start(load_ms: float) -> dict:
    """Loading a model is a one-time cost: it is logged apart from the prediction's
    latency, so a canary's p99 compares the models, not who loaded first."""
    return {"cold_start_ms": round(load_ms, 1)} if load_ms > COLD_START_MS else {}


def serve(request, model_name: str, rows: list, request_id: str, routing_key: str | None,
          body_hash: str | None = None):
    """Route, validate, score, log. Returns (version, variant, predictions, latency_ms).
    `body_hash` marks a client-supplied request id: reused with another body, a 409."""
    started = time.perf_counter()
    if not isinstance(rows, list) or not rows:
        raise ServingError(422, "validation_error", "Send at least one row.", {"instances": ["Must be a non-empty list."]})
    if len(rows) > MAX_ROWS:
        raise ServingError(413, "payload_too_large", f"At most {MAX_ROWS} rows per request.")
    route = _route(model_name)
    variant, version = _choose(route, routing_key or request_id)
    try:
        predictions, load_ms, logged = _score_version(version, rows)
    except ServingError as exc:
        if exc.status >= 500:  # the variant failed on valid input: that is evidence for canary analysis
            latency = (time.perf_counter() - started) * 1000
            log_predictions(
                _records(route, version, variant, request_id, rows, [None] * len(rows), latency, {"error": exc.message})
            )
        raise
    latency_ms = (time.perf_counter() - started) * 1000
    extra = _cold_start(load_ms)
    logged_latency = latency_ms - load_ms if extra else latency_ms
    request_key = RequestKey(route.model_name, request_id, body_hash) if body_hash else None
    outcome = log_predictions(
        _records(route, version, variant, request_id, logged, predictions, logged_latency, extra), request_key=request_key
    )
    if outcome == CONFLICT:
        raise ServingError(
            409, "request_id_reused",
            f"request_id '{request_id}' was already used with a different body for model '{route.model_name}'; "
            "use a new request_id for a new request.",
            {"request_id": ["Already used with a different body."]},
        )
    if route.shadow and outcome != RETRY:  # a retry's shadow copy was scored the first time
        shadow.submit(_shadow_score, route, request_id, rows)
    return version, variant, predictions, latency_ms


def _parse_json(request) -> dict:
    try:
        body = parse_json(request.body or b"null")
    except (ValueError, UnicodeDecodeError) as exc:
        raise ServingError(400, "malformed_request", f"Malformed JSON body: {exc}") from None
    if not isinstance(body, dict):
        raise ServingError(400, "malformed_request", "The body must be a JSON object.")
    return body


def _body_hash(body: dict) -> str:
    """The same request re-sent (keys in another order, other spacing) hashes the same."""
    return hashlib.sha256(json.dumps(body, sort_keys=True, separators=(",", ":")).encode()).hexdigest()


@csrf_exempt
@require_POST
def predict(request, name):
    request_id = request.request_id
    try:
        _authenticate(request, name)
        body = _parse_json(request)
        body_hash = None
        if body.get("request_id"):
            request_id = new_request_id(str(body["request_id"]))
            body_hash = _body_hash(body)
        version, variant, predictions, latency_ms = serve(
            request, name, body.get("instances"), request_id, body.get("routing_key"), body_hash
        )
    except ServingError as exc:
        return exc.response(request_id)
    response = JsonResponse(
        {
            "predictions": predictions,
            "model": name,
            "model_version": version.version,
            "variant": variant,
            "request_id": request_id,
            "request_ids": _row_ids(request_id, len(predictions)),
            "latency_ms": round(latency_ms, 3),
        }
    )
    response["X-Request-ID"] = request_id
    return response


@csrf_exempt
@require_POST
def invocations(request, name):
    """MLflow's scoring protocol, so clients of `mlflow models serve` switch by URL."""
    request_id = request.request_id
    try:
        _authenticate(request, name)
        route = _route(name)
        rows = mlflow_protocol.parse(request, route.champion.input_schema)
        version, variant, predictions, _ = serve(request, name, rows, request_id, request.headers.get("X-Routing-Key"))
    except mlflow_protocol.ProtocolError as exc:
        return ServingError(400, "malformed_request", str(exc)).response(request_id)
    except ServingError as exc:
        return exc.response(request_id)
    response = JsonResponse({"predictions": mlflow_protocol.answer(predictions)})
    response["X-Model-Version"] = str(version.version)
    response["X-Variant"] = variant
    response["X-Request-ID"] = request_id
    return response
