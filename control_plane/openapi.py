"""How every operation is documented, in one place (drf-spectacular's DEFAULT_SCHEMA_CLASS).

- Tags group operations by what they manage, so the Swagger UI reads as a manual; a new
  endpoint gets a tag from its path without touching this file (TAG_RULES, else the
  first path segment).
- Summaries: the operation's own `summary=` if it has one, else SUMMARIES, else its id
  in words.
- Every operation declares the shared Error component for the statuses the middleware
  and the exception handler can answer anywhere (ALWAYS), and for those bound to a
  body or to a change of state (WITH_BODY, ON_WRITE); statuses an endpoint declares
  itself keep its own description.
- Input serializers that refuse unknown fields (api_base.StrictSerializer) say so:
  additionalProperties is false; so does a serializer whose Meta says `closed = True`.
- A GET answering a list is paginated (api_base.paginate is how lists are answered):
  documented as {count, next, previous, results} with page and page_size.
"""

import re

from drf_spectacular.openapi import AutoSchema
from drf_spectacular.plumbing import force_instance

from .api_base import ERROR_TEXT, StrictSerializer, errors
from .pagination import PageNumberPagination

ALWAYS = (400, 401, 403, 404, 422)
WITH_BODY = (413,)
ON_WRITE = (409,)

# (path pattern, tag): the first match wins. Descriptions in settings.SPECTACULAR_SETTINGS["TAGS"].
TAG_RULES = [
    (r"^/api/v1/serve/", "Serving"),
    (r"^/api/v1/models/[^/]+/(deployment|rollback-drill)/", "Deployments"),
    (r"^/api/v1/models/[^/]+/(monitor|drift)/|/reference/$", "Monitoring"),
    (r"^/api/v1/models/[^/]+/retraining/|^/api/v1/retraining/|/replay/$", "Retraining"),
    (r"^/api/v1/models/[^/]+/versions/", "Versions"),
    (r"^/api/v1/models/", "Models"),
    (r"^/api/v1/promotions/", "Promotions"),
    (r"^/api/v1/(predictions|batch-jobs)/", "Predictions"),
    (r"^/api/v1/(channels|events/[^/]+/deliveries)/", "Notifications"),
    (r"^/api/v1/events/", "Journal"),
    (r"^/api/v1/tokens/", "Tokens"),
    (r"^/api/v1/import/", "Import"),
    (r"^/api/v1/features/", "Feature store"),
    (r"^/api/2\.0/mlflow/", "MLflow-compatible registry"),
]

SUMMARIES = {
    "models_list": "List registered models",
    "models_create": "Register a model",
    "models_retrieve": "Get a model with its Production and Staging versions",
    "models_update": "Change a model's description, tags or approval policy",
    "models_destroy": "Delete a model that never reached Production",
    "models_history": "Stage history, or the Production version at a given time",
    "models_rollback": "Roll back to a version that was approved for Production before",
    "versions_list": "List a model's versions",
    "versions_register": "Register a new version from a source URI",
    "versions_retrieve": "Get a version",
    "versions_update": "Change a version's description or tags",
    "versions_set_stage": "Move a version to Staging, Archived or None",
    "promotions_list": "List promotion requests",
    "promotions_create": "Request promotion of a Staging version to Production",
    "promotions_retrieve": "Get a promotion request with its gate and decisions",
    "promotions_approve": "Approve a request (someone other than the requester)",
    "promotions_reject": "Reject a request",
    "promotions_cancel": "Cancel a pending request",
    "deployment_retrieve": "Get a model's deployment (strategy, weights, step)",
    "deployment_configure": "Configure a shadow, canary or blue/green deployment",
    "deployment_action": "Pause, resume, promote, abort, cut over or roll back a deployment",
    "deployment_comparison": "Champion vs challenger statistics",
    "rollback_drill": "Prove the rollback path works without moving traffic",
    "predictions_list": "List logged predictions",
    "predictions_feedback": "Attach ground truth to logged predictions",
    "batch_jobs_list": "List batch scoring jobs",
    "batch_jobs_create": "Start a batch scoring job",
    "batch_jobs_retrieve": "Get a batch job with its progress",
    "batch_jobs_cancel": "Cancel a batch job",
    "monitor_policy_retrieve": "Get a model's drift monitoring policy",
    "monitor_policy_update": "Set a model's drift monitoring policy",
    "drift_run_create": "Run a drift report now",
    "drift_reports_list": "List drift reports",
    "drift_reports_retrieve": "Get a drift report",
    "reference_profile_retrieve": "Get a version's reference profile",
    "reference_profile_create": "Profile reference data for a version",
    "channels_list": "List notification channels",
    "channels_create": "Create a notification channel",
    "channels_retrieve": "Get a channel",
    "channels_update": "Change a channel",
    "channels_destroy": "Delete a channel",
    "channels_test": "Send a test notification",
    "channels_deliveries_list": "List a channel's deliveries",
    "events_deliveries_list": "List the deliveries of one journal event",
    "events_list": "Read the journal (every state change, who, when)",
    "tokens_list": "List API tokens",
    "tokens_create": "Create an API token (the secret is shown once)",
    "tokens_retrieve": "Get a token",
    "tokens_revoke": "Revoke a token",
    "import_mlflow_registry": "Import models and versions from an MLflow registry",
}


def error_responses(*statuses: int) -> dict:
    """Responses of the shared Error component, for documents written by hand."""
    return {
        str(status): {
            "description": ERROR_TEXT[status],
            "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}},
        }
        for status in statuses
    }


# Path parameters every app shares: the model name's URL converter (control_plane.urls),
# and examples that the Swagger UI pre-fills (and schemathesis tries first).
MODEL_NAME = r"^[A-Za-z0-9._\-]{1,128}$"
PATH_PARAMETERS = {
    "name": ({"pattern": MODEL_NAME}, "churn-predictor"),
    "version": ({}, 1),
}


def tag_for(path: str) -> str:
    for pattern, tag in TAG_RULES:
        if re.search(pattern, path):
            return tag
    segments = [s for s in path.split("/") if s and not s.startswith("{")]
    return segments[2].replace("-", " ").capitalize() if len(segments) > 2 else "Other"


class ApiAutoSchema(AutoSchema):
    # @extend_schema(tags=..., summary=...) overrides these two in a subclass, so an
    # operation's own words win without a check here.
    def get_tags(self) -> list[str]:
        return [tag_for(self.path)]

    def get_summary(self) -> str | None:
        operation_id = self.get_operation_id()
        return SUMMARIES.get(operation_id) or operation_id.replace("_", " ").capitalize()

    def _resolve_path_parameters(self, variables):
        parameters = super()._resolve_path_parameters(variables)
        for parameter in parameters:
            if parameter["name"] in PATH_PARAMETERS:
                schema, example = PATH_PARAMETERS[parameter["name"]]
                parameter["schema"] = {**parameter["schema"], **schema}
                parameter["example"] = example
        return parameters

    def _map_serializer(self, serializer, direction, bypass_extensions=False):
        schema = super()._map_serializer(serializer, direction, bypass_extensions)
        instance = force_instance(serializer)
        if direction == "request" and isinstance(instance, StrictSerializer):
            schema["additionalProperties"] = False  # unknown fields are refused with 422
        elif getattr(getattr(instance, "Meta", None), "closed", False):
            schema["additionalProperties"] = False
        return schema

    def _get_paginator(self):
        if self.method != "GET":
            return None
        return (getattr(self.view, "pagination_class", None) or PageNumberPagination)()

    def _get_response_bodies(self, direction="response"):
        responses = super()._get_response_bodies(direction)
        statuses = list(ALWAYS)
        if self.method in ("POST", "PUT", "PATCH"):
            statuses += WITH_BODY
        if self.method != "GET":
            statuses += ON_WRITE
        for status, response in errors(*statuses).items():
            if str(status) not in responses:
                responses[str(status)] = self._get_response_for_code(response, str(status), direction=direction)
        return responses
