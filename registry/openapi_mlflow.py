"""OpenAPI for the MLflow-compatible registry (registry/mlflow_api.py), written by hand
from mlflow/protos/model_registry.proto: one MlflowEndpoint class answers every path,
so drf-spectacular cannot tell the calls apart. A postprocessing hook adds them.

GET and DELETE take their parameters in the query string (MLflow's client sends DELETE
parameters as JSON, which the server reads too); POST and PATCH take a JSON object.
Errors are MLflow's {"error_code", "message"}; only the body-size limit, which answers
before any view, uses the API's Error component.
"""

from control_plane.openapi import error_responses

PREFIX = "/api/2.0/mlflow/"
TEXT = {"type": "string"}
# Parameters: a number where text is expected is read as its decimal text (registry/mlflow_shapes.Params).
TEXT_IN = {"anyOf": [{"type": "string"}, {"type": "number"}]}
VERSION = {"anyOf": [{"type": "string"}, {"type": "integer"}], "description": "The version number."}
TAGS = {
    "type": "array",
    "items": {"type": "object", "required": ["key"], "properties": {"key": TEXT, "value": TEXT}},
}
MODEL_VERSION = {
    "type": "object",
    "required": ["name", "version", "creation_timestamp", "last_updated_timestamp", "current_stage", "status"],
    "properties": {
        "name": TEXT,
        "version": TEXT,
        "creation_timestamp": {"type": "integer", "description": "Milliseconds since the epoch."},
        "last_updated_timestamp": {"type": "integer"},
        "user_id": TEXT,
        "current_stage": {"type": "string", "enum": ["None", "Staging", "Production", "Archived"]},
        "description": TEXT,
        "source": TEXT,
        "run_id": TEXT,
        "status": TEXT,
        "tags": TAGS,
        "run_link": TEXT,
        "aliases": {"type": "array", "items": TEXT},
        "model_id": TEXT,
    },
}
REGISTERED_MODEL = {
    "type": "object",
    "required": ["name", "creation_timestamp", "last_updated_timestamp"],
    "properties": {
        "name": TEXT,
        "creation_timestamp": {"type": "integer", "description": "Milliseconds since the epoch."},
        "last_updated_timestamp": {"type": "integer"},
        "user_id": TEXT,
        "description": TEXT,
        "latest_versions": {"type": "array", "items": {"$ref": "#/components/schemas/MlflowModelVersion"}},
        "tags": TAGS,
        "aliases": {
            "type": "array",
            "items": {"type": "object", "properties": {"alias": TEXT, "version": TEXT}},
        },
    },
}
MV_REF = {"$ref": "#/components/schemas/MlflowModelVersion"}
RM_REF = {"$ref": "#/components/schemas/MlflowRegisteredModel"}
EMPTY = {"type": "object", "properties": {}}
SEARCH = {"filter": TEXT_IN, "max_results": {"type": "integer"}, "order_by": {"type": "array", "items": TEXT},
          "page_token": TEXT_IN}


def _obj(**properties) -> dict:
    return {"type": "object", "properties": properties}


# (method, path, summary, parameters {name: schema}, required names, answer schema)
CALLS = [
    ("post", "registered-models/create", "Create a registered model",
     {"name": TEXT_IN, "description": TEXT_IN, "tags": TAGS}, ["name"], _obj(registered_model=RM_REF)),
    ("post", "registered-models/rename", "Rename a registered model",
     {"name": TEXT_IN, "new_name": TEXT_IN}, ["name", "new_name"], _obj(registered_model=RM_REF)),
    ("patch", "registered-models/update", "Change a registered model's description",
     {"name": TEXT_IN, "description": TEXT_IN}, ["name"], _obj(registered_model=RM_REF)),
    ("delete", "registered-models/delete", "Delete a registered model", {"name": TEXT_IN}, ["name"], EMPTY),
    ("get", "registered-models/get", "Get a registered model", {"name": TEXT_IN}, ["name"],
     _obj(registered_model=RM_REF)),
    ("get", "registered-models/search", "Search registered models", SEARCH, [],
     _obj(registered_models={"type": "array", "items": RM_REF}, next_page_token=TEXT)),
    ("post", "registered-models/get-latest-versions", "The latest version in each stage",
     {"name": TEXT_IN, "stages": {"type": "array", "items": TEXT}}, ["name"],
     _obj(model_versions={"type": "array", "items": MV_REF})),
    ("get", "registered-models/get-latest-versions", "The latest version in each stage",
     {"name": TEXT_IN, "stages": {"type": "array", "items": TEXT}}, ["name"],
     _obj(model_versions={"type": "array", "items": MV_REF})),
    ("post", "registered-models/set-tag", "Set a tag on a registered model",
     {"name": TEXT_IN, "key": TEXT_IN, "value": TEXT_IN}, ["name", "key"], EMPTY),
    ("delete", "registered-models/delete-tag", "Delete a registered model's tag",
     {"name": TEXT_IN, "key": TEXT_IN}, ["name", "key"], EMPTY),
    ("post", "registered-models/alias", "Set an alias (the production alias files a promotion request)",
     {"name": TEXT_IN, "alias": TEXT_IN, "version": VERSION}, ["name", "alias", "version"], EMPTY),
    ("delete", "registered-models/alias", "Delete an alias", {"name": TEXT_IN, "alias": TEXT_IN}, ["name", "alias"], EMPTY),
    ("get", "registered-models/alias", "Get the version an alias names", {"name": TEXT_IN, "alias": TEXT_IN},
     ["name", "alias"], _obj(model_version=MV_REF)),
    ("post", "model-versions/create", "Register a version from a source",
     {"name": TEXT_IN, "source": TEXT_IN, "run_id": TEXT_IN, "model_id": TEXT_IN, "description": TEXT_IN, "tags": TAGS,
      "run_link": TEXT_IN}, ["name", "source"], _obj(model_version=MV_REF)),
    ("patch", "model-versions/update", "Change a version's description",
     {"name": TEXT_IN, "version": VERSION, "description": TEXT_IN}, ["name", "version"], _obj(model_version=MV_REF)),
    ("delete", "model-versions/delete", "Delete a version", {"name": TEXT_IN, "version": VERSION},
     ["name", "version"], EMPTY),
    ("get", "model-versions/get", "Get a version", {"name": TEXT_IN, "version": VERSION}, ["name", "version"],
     _obj(model_version=MV_REF)),
    ("get", "model-versions/search", "Search versions", SEARCH, [],
     _obj(model_versions={"type": "array", "items": MV_REF}, next_page_token=TEXT)),
    ("get", "model-versions/get-download-uri", "Where a version's artifacts are",
     {"name": TEXT_IN, "version": VERSION}, ["name", "version"], _obj(artifact_uri=TEXT)),
    ("post", "model-versions/transition-stage",
     "Move a version to a stage (Production files a promotion request and answers PERMISSION_DENIED)",
     {"name": TEXT_IN, "version": VERSION, "stage": TEXT_IN, "archive_existing_versions": {"type": "boolean"}},
     ["name", "version", "stage"], _obj(model_version=MV_REF)),
    ("post", "model-versions/set-tag", "Set a tag on a version",
     {"name": TEXT_IN, "version": VERSION, "key": TEXT_IN, "value": TEXT_IN}, ["name", "version", "key"], EMPTY),
    ("delete", "model-versions/delete-tag", "Delete a version's tag",
     {"name": TEXT_IN, "version": VERSION, "key": TEXT_IN}, ["name", "version", "key"], EMPTY),
]

MLFLOW_ERROR = {
    "type": "object",
    "required": ["error_code", "message"],
    "properties": {
        "error_code": {"type": "string", "description": "MLflow's code, e.g. RESOURCE_DOES_NOT_EXIST."},
        "message": TEXT,
    },
}
ERROR_TEXT = {
    400: "INVALID_PARAMETER_VALUE, RESOURCE_ALREADY_EXISTS or INVALID_STATE",
    401: "UNAUTHENTICATED: send an API token (MLFLOW_TRACKING_TOKEN)",
    403: "PERMISSION_DENIED: the role or token does not allow this, or a promotion request was filed",
    404: "RESOURCE_DOES_NOT_EXIST",
    415: "The body is not JSON",
}


def _mlflow_errors(method: str) -> dict:
    out = {
        str(status): {
            "description": text,
            "content": {"application/json": {"schema": {"$ref": "#/components/schemas/MlflowError"}}},
        }
        for status, text in ERROR_TEXT.items()
    }
    if method in ("post", "patch"):
        out |= error_responses(413)
    return out


def _operation(method: str, path: str, summary: str, params: dict, required: list, answer: dict) -> dict:
    operation = {
        "operationId": "mlflow_" + path.replace("/", "_").replace("-", "_") + f"_{method}",
        "summary": summary,
        "tags": ["MLflow-compatible registry"],
        "security": [{"BearerAuth": []}],
        "responses": {"200": {"description": "MLflow's answer", "content": {"application/json": {"schema": answer}}},
                      **_mlflow_errors(method)},
    }
    if method in ("get", "delete"):
        operation["parameters"] = [
            {"name": name, "in": "query", "required": name in required, "schema": schema}
            | ({"style": "form", "explode": True} if schema.get("type") == "array" else {})
            for name, schema in params.items()
        ]
    else:
        body = {"type": "object", "properties": params}
        if required:
            body["required"] = required
        operation["requestBody"] = {"required": True, "content": {"application/json": {"schema": body}}}
    return operation


def add_mlflow_paths(result, generator, request, public):
    paths = result.setdefault("paths", {})
    for method, path, *rest in CALLS:
        paths.setdefault(PREFIX + path, {})[method] = _operation(method, path, *rest)
    schemas = result.setdefault("components", {}).setdefault("schemas", {})
    schemas["MlflowModelVersion"] = MODEL_VERSION
    schemas["MlflowRegisteredModel"] = REGISTERED_MODEL
    schemas["MlflowError"] = MLFLOW_ERROR
    return result
