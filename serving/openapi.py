"""OpenAPI for the data plane's two routes, written by hand: they are plain Django views
(serving/api.py, the hot path), which drf-spectacular cannot see. A postprocessing hook
(SPECTACULAR_SETTINGS["POSTPROCESSING_HOOKS"]) adds them to the generated document."""

from control_plane.openapi import MODEL_NAME, error_responses

from .api import MAX_ROWS

NAME = {
    "name": "name",
    "in": "path",
    "required": True,
    "description": "The registered model's name.",
    "schema": {"type": "string", "pattern": MODEL_NAME},
    "example": "churn-predictor",
}
ROW = {"type": "object", "additionalProperties": True, "description": "One row: {feature: value}."}
# More than MAX_ROWS rows is a size limit (413), not a schema violation.
ROWS = {"type": "array", "items": ROW, "minItems": 1, "description": f"At most {MAX_ROWS} rows (413 beyond)."}
ROW_HEADERS = {
    "X-Request-ID": {"schema": {"type": "string"}, "description": "The request id (the caller's, when sane)."},
}
STATUSES = {
    **error_responses(400, 401, 403, 404, 413, 422),
    "500": {
        "description": "The model raised an error on valid input (code model_error; logged as canary evidence)",
        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}},
    },
    "503": {
        "description": "The model could not be loaded (code model_unavailable)",
        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}},
    },
}

def _json_body(schema: dict, **other_media: dict) -> dict:
    return {"required": True, "content": {"application/json": {"schema": schema}, **other_media}}


PREDICT = {
    "operationId": "serve_predict",
    "summary": "Score rows with the model's live version (champion or challenger)",
    "description": (
        "Validates every row against the serving schema of the version chosen (422 names each "
        "row and feature), scores it, and logs each prediction with its features, version, "
        "variant and latency. A canary's challenger is chosen by a stable hash of `routing_key` "
        "(else the request id), so a caller stays on one variant while the weight grows."
    ),
    "tags": ["Serving"],
    "security": [{"BearerAuth": []}],
    "parameters": [NAME],
    "requestBody": _json_body(
        {
            "type": "object",
            "required": ["instances"],
            "properties": {
                "instances": ROWS,
                "request_id": {"type": "string", "description": "Kept when sane; rows get <id>-<i>."},
                "routing_key": {"type": "string", "description": "Sticky canary routing (e.g. a user id)."},
            },
        }
    ),
    "responses": {
        "200": {
            "description": "The predictions, in row order",
            "headers": ROW_HEADERS,
            "content": {
                "application/json": {
                    "schema": {
                        "type": "object",
                        "required": ["predictions", "model", "model_version", "variant", "request_id", "latency_ms"],
                        "properties": {
                            "predictions": {"type": "array", "items": {}},
                            "model": {"type": "string"},
                            "model_version": {"type": "integer"},
                            "variant": {"type": "string", "enum": ["champion", "challenger"]},
                            "request_id": {"type": "string"},
                            "request_ids": {"type": "array", "items": {"type": "string"}},
                            "latency_ms": {"type": "number"},
                        },
                    }
                }
            },
        },
        **STATUSES,
    },
}

INVOCATIONS = {
    "operationId": "serve_invocations",
    "summary": "Score rows in MLflow's scoring protocol (as `mlflow models serve`)",
    "description": (
        "Accepts what MLflow's /invocations accepts: JSON with exactly one of `dataframe_split`, "
        "`dataframe_records`, `instances` or `inputs`, or CSV with a header row. Routing, "
        "validation and logging as in predict; the routing key comes from `X-Routing-Key`."
    ),
    "tags": ["Serving"],
    "security": [{"BearerAuth": []}],
    "parameters": [
        NAME,
        {"name": "X-Routing-Key", "in": "header", "required": False, "schema": {"type": "string"}},
    ],
    "requestBody": _json_body(
        {
            "type": "object",
            "minProperties": 1,
            "maxProperties": 1,
            "properties": {
                "dataframe_split": {
                    "type": "object",
                    "required": ["data"],
                    "properties": {
                        "columns": {"type": "array", "items": {"type": "string"}},
                        "data": {"type": "array", "items": {"type": "array", "items": {}}},
                    },
                },
                "dataframe_records": ROWS,
                "instances": ROWS,
                "inputs": {"oneOf": [ROWS, {"type": "object", "additionalProperties": True}]},
            },
            "additionalProperties": False,
        },
        **{"text/csv": {"schema": {"type": "string"}}},
    ),
    "responses": {
        "200": {
            "description": "MLflow's answer shape",
            "headers": {
                **ROW_HEADERS,
                "X-Model-Version": {"schema": {"type": "string"}, "description": "The version that answered."},
                "X-Variant": {"schema": {"type": "string"}, "description": "champion or challenger."},
            },
            "content": {
                "application/json": {
                    "schema": {
                        "type": "object",
                        "required": ["predictions"],
                        "properties": {"predictions": {"type": "array", "items": {}}},
                    }
                }
            },
        },
        **STATUSES,
    },
}


def add_serving_paths(result, generator, request, public):
    result.setdefault("paths", {})
    result["paths"]["/api/v1/serve/{name}/predict"] = {"post": PREDICT}
    result["paths"]["/api/v1/serve/{name}/invocations"] = {"post": INVOCATIONS}
    return result
