"""Feature store API, definitions half (API.md, Feature store): entities, views,
services and apply. Thin: parse, call a service or selector, serialize."""

import yaml
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema, inline_serializer
from rest_framework import serializers, status
from rest_framework.parsers import BaseParser, JSONParser
from rest_framework.response import Response
from rest_framework.views import APIView

from control_plane.api_base import errors
from control_plane.errors import Invalid
from control_plane.permissions import requires
from control_plane.query_params import bool_param
from control_plane.roles import REGISTER

from . import selectors
from .services import definitions_apply
from .models import Entity, FeatureView

Writes = requires(REGISTER)
APPLIED = inline_serializer(
    "FeatureApplyResult",
    fields={"plan": serializers.ListField(child=serializers.DictField(), help_text="kind, name, action "
                                          "(create, update, unchanged, new_version, delete), changes, version"), "applied": serializers.BooleanField(),
            "changed": serializers.IntegerField()},
)
DEFINITION = inline_serializer("FeatureDefinition", fields={"name": serializers.CharField()})
DEFINITION_LIST = inline_serializer(
    "FeatureDefinitionList", fields={"results": serializers.ListField(child=serializers.DictField()),
                                     "count": serializers.IntegerField()},
)


class YamlParser(BaseParser):
    media_type = "application/yaml"

    def parse(self, stream, media_type=None, parser_context=None):
        try:
            return yaml.safe_load(stream.read().decode())
        except (yaml.YAMLError, UnicodeDecodeError) as exc:
            raise Invalid(f"The YAML cannot be read: {str(exc).splitlines()[0]}", code="malformed_request") from None


class TextYamlParser(YamlParser):
    media_type = "text/yaml"


def _answer(plan, dry_run: bool) -> dict:
    changed = sum(1 for p in plan if p.action != "unchanged")
    return {"plan": [p.as_dict() for p in plan], "applied": not dry_run, "changed": changed}


DRY_RUN = OpenApiParameter("dry_run", bool, description="Plan only; change nothing.")
KEEP_MISSING = OpenApiParameter("keep_missing", bool, description="Keep stored definitions the document lacks "
                                "(by default they are planned as delete and deleted, as `feast apply` does).")


class ApplyApi(APIView):
    permission_classes = [Writes]
    parser_classes = [JSONParser, YamlParser, TextYamlParser]

    @extend_schema(
        operation_id="features_apply",
        parameters=[DRY_RUN, KEEP_MISSING],
        # The YAML body is the same document as the JSON one, written as YAML.
        request={"application/json": OpenApiTypes.OBJECT, "application/yaml": OpenApiTypes.OBJECT},
        responses={200: APPLIED, **errors(400, 401, 403, 422)},
        description="Apply a definitions document ({entities, feature_views, feature_services}): the plan, "
        "then the changes, in one transaction. Applying the same document twice changes nothing. The document "
        "is the whole registry: what it lacks is deleted (action delete in the plan) unless keep_missing=true.",
    )
    def post(self, request):
        dry_run = bool(bool_param(request.query_params, "dry_run"))
        prune = not bool_param(request.query_params, "keep_missing")
        plan = definitions_apply(actor=request.user, document=request.data, dry_run=dry_run, prune=prune)
        return Response(_answer(plan, dry_run))


def _definition_list(kind: str):
    key = {"entity": "entities", "feature_view": "feature_views", "feature_service": "feature_services"}[kind]

    class ListApi(APIView):
        permission_classes = [Writes]

        @extend_schema(operation_id=f"features_{key}_list", responses={200: DEFINITION_LIST, **errors(401, 403)})
        def get(self, request):
            if kind == "entity":
                results = [selectors.entity_out(e) for e in Entity.objects.select_related("owner").order_by("name")]
            elif kind == "feature_view":
                results = [selectors.view_out(v) for v in FeatureView.objects.select_related("entity", "owner").order_by("name")]
            else:
                results = [selectors.service_out(s) for s in selectors.services_latest()]
            return Response({"results": results, "count": len(results)})

        @extend_schema(
            operation_id=f"features_{key}_apply",
            parameters=[DRY_RUN],
            request=OpenApiTypes.OBJECT,
            responses={200: APPLIED, 201: APPLIED, **errors(400, 401, 403, 422)},
            description=f"Create or update one {kind.replace('_', ' ')} (the same fields as in a definitions document).",
        )
        def post(self, request):
            dry_run = bool(bool_param(request.query_params, "dry_run"))
            plan = definitions_apply(actor=request.user, document={key: [request.data]}, dry_run=dry_run)
            created = any(p.action in ("create", "new_version") for p in plan) and not dry_run
            return Response(_answer(plan, dry_run), status=status.HTTP_201_CREATED if created else status.HTTP_200_OK)

    ListApi.__name__ = f"{key.title().replace('_', '')}ListApi"
    return ListApi


EntityListApi = _definition_list("entity")
ViewListApi = _definition_list("feature_view")
ServiceListApi = _definition_list("feature_service")


class EntityDetailApi(APIView):
    @extend_schema(operation_id="features_entity_retrieve", responses={200: DEFINITION, **errors(401, 403, 404)})
    def get(self, request, name):
        return Response(selectors.entity_out(selectors.entity_get(name)))


class ViewDetailApi(APIView):
    @extend_schema(operation_id="features_view_retrieve", responses={200: DEFINITION, **errors(401, 403, 404)})
    def get(self, request, name):
        view = selectors.view_get(name)
        runs = [selectors.run_out(r) for r in view.runs.select_related("view").order_by("-created_at")[:20]]
        return Response({**selectors.view_out(view, with_freshness=True), "runs": runs})


class ServiceDetailApi(APIView):
    @extend_schema(operation_id="features_service_retrieve", responses={200: DEFINITION, **errors(401, 403, 404)})
    def get(self, request, name):
        versions = selectors.service_versions(name)
        users = [{"model": mv.model.name, "version": mv.version, "stage": mv.stage, "service": mv.tags.get("features.service")}
                 for mv in selectors.service_users(name)]
        return Response({**selectors.service_out(versions[0]),
                         "versions": [selectors.service_out(s) for s in versions], "model_versions": users})
