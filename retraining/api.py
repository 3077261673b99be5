"""Retraining's REST API (API.md, Retraining): the policy, runs, retry and cancel, replay.
Thin: parse, call a service or a selector, serialize."""

from django.urls import reverse
from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.response import Response
from rest_framework.views import APIView

from control_plane import roles
from control_plane.api_base import StrictSerializer, errors, paginate
from control_plane.permissions import requires

from . import selectors
from .models import ReplayJob, RetrainingPolicy, RetrainingRun, RetrainingStep, TriggerKind
from .policies import retraining_policy_get, retraining_policy_put
from .replay import replay_job_create
from .services import retraining_run_cancel, retraining_run_retry, retraining_trigger


class PolicyOut(serializers.ModelSerializer):
    model = serializers.CharField(source="model.name")
    owner = serializers.CharField(source="owner.username")
    trainer = serializers.JSONField()
    triggers = serializers.JSONField()
    evaluation = serializers.JSONField()
    periodic_task = serializers.CharField(source="periodic_task.name", allow_null=True, default=None)

    class Meta:
        model = RetrainingPolicy
        ref_name = "RetrainingPolicy"
        fields = ["model", "enabled", "trainer", "triggers", "cooldown_hours", "max_runs_per_day", "evaluation",
                  "start_shadow", "window_days", "dataset_uri", "owner", "periodic_task", "created_at", "updated_at"]


class PolicyIn(StrictSerializer):
    """The fields to change (a new policy needs `trainer`); those left out keep their values."""

    enabled = serializers.BooleanField(required=False)
    trainer = serializers.JSONField(required=False, help_text="{kind: python|mlflow_project|external, ...}")
    triggers = serializers.JSONField(required=False, help_text="{schedule?: crontab, drift?, performance?, volume?}")
    cooldown_hours = serializers.IntegerField(required=False)
    max_runs_per_day = serializers.IntegerField(required=False)
    evaluation = serializers.JSONField(required=False, help_text="{metric, min_improvement, holdout, no_need_psi, bootstrap}")
    start_shadow = serializers.BooleanField(required=False)
    window_days = serializers.IntegerField(required=False)
    dataset_uri = serializers.CharField(required=False, allow_blank=True, max_length=1000)
    owner = serializers.CharField(required=False, help_text="Username; files the promotion requests.")

    class Meta:
        ref_name = "RetrainingPolicyUpdate"


class StepOut(serializers.ModelSerializer):
    class Meta:
        model = RetrainingStep
        ref_name = "RetrainingStep"
        fields = ["name", "status", "attempt", "started_at", "finished_at", "heartbeat_at", "log", "output"]


class RunOut(serializers.ModelSerializer):
    model = serializers.CharField(source="model.name")
    steps = StepOut(many=True)
    version = serializers.IntegerField(source="version.version", allow_null=True, default=None)
    champion = serializers.IntegerField(source="champion.version", allow_null=True, default=None)
    promotion_request = serializers.IntegerField(source="promotion_request_id", allow_null=True)
    requested_by = serializers.CharField(source="requested_by.username", allow_null=True, default=None)
    evidence = serializers.JSONField()
    evaluation = serializers.JSONField(allow_null=True)

    class Meta:
        model = RetrainingRun
        ref_name = "RetrainingRun"
        fields = ["id", "model", "status", "trigger", "evidence", "reason", "verdict", "steps", "champion", "version",
                  "promotion_request", "evaluation", "window_start", "window_end", "train_until", "error",
                  "requested_by", "created_at", "finished_at"]


class RunIn(StrictSerializer):
    reason = serializers.CharField(required=False, allow_blank=True, max_length=10000)

    class Meta:
        ref_name = "RetrainingRunStart"


class RetrainingPolicyApi(APIView):
    permission_classes = [requires(roles.MONITOR)]

    @extend_schema(operation_id="retraining_policy_retrieve", responses={200: PolicyOut, **errors(401, 403, 404)})
    def get(self, request, name):
        return Response(PolicyOut(retraining_policy_get(selectors.model_get(name))).data)

    @extend_schema(
        operation_id="retraining_policy_update",
        request=PolicyIn,
        responses={200: PolicyOut, **errors(400, 401, 403, 404, 422)},
        description="Create or change the policy; beat's schedule follows. Contributors, approvers and admins.",
    )
    def put(self, request, name):
        data = PolicyIn(data=request.data)
        data.is_valid(raise_exception=True)
        policy = retraining_policy_put(model=selectors.model_get(name), actor=request.user, **data.validated_data)
        return Response(PolicyOut(selectors.policy_of(policy.model)).data)


class RetrainingRunStartApi(APIView):
    permission_classes = [requires(roles.MONITOR)]

    @extend_schema(
        operation_id="retraining_run_create",
        request=RunIn,
        responses={202: RunOut, **errors(400, 401, 403, 404, 409, 422)},
        description="Start a run now (manual trigger). 409 when one is active or the day's maximum is reached; "
        "422 without a policy.",
    )
    def post(self, request, name):
        data = RunIn(data=request.data)
        data.is_valid(raise_exception=True)
        run = retraining_trigger(model=selectors.model_get(name), trigger=TriggerKind.MANUAL, actor=request.user,
                                 reason=data.validated_data.get("reason", ""), evidence={"requested_by": request.user.username})
        run = selectors.run_get(run.pk)
        location = reverse("api-retraining-run", args=[run.pk])
        return Response(RunOut(run).data, status=status.HTTP_202_ACCEPTED, headers={"Location": location})


class RetrainingRunListApi(APIView):
    @extend_schema(operation_id="retraining_runs_list", responses={200: RunOut(many=True), **errors(401, 403, 404)})
    def get(self, request, name):
        return paginate(self, request, selectors.runs_of(selectors.model_get(name)), RunOut)


class RetrainingRunDetailApi(APIView):
    @extend_schema(operation_id="retraining_runs_retrieve", responses={200: RunOut, **errors(401, 403, 404)})
    def get(self, request, run_id):
        return Response(RunOut(selectors.run_get(run_id)).data)


class RetrainingRunRetryApi(APIView):
    permission_classes = [requires(roles.MONITOR)]

    @extend_schema(operation_id="retraining_run_retry", request=None, responses={200: RunOut, **errors(401, 403, 404, 409)})
    def post(self, request, run_id):
        run = retraining_run_retry(actor=request.user, run_id=run_id)
        return Response(RunOut(selectors.run_get(run.pk)).data)


class RetrainingRunCancelApi(APIView):
    permission_classes = [requires(roles.MONITOR)]

    @extend_schema(operation_id="retraining_run_cancel", request=None, responses={200: RunOut, **errors(401, 403, 404, 409)})
    def post(self, request, run_id):
        run = retraining_run_cancel(actor=request.user, run_id=run_id)
        return Response(RunOut(selectors.run_get(run.pk)).data)


class ReplayOut(serializers.ModelSerializer):
    model = serializers.CharField(source="model.name")
    version = serializers.IntegerField(source="version.version")
    champion = serializers.IntegerField(source="champion.version", allow_null=True, default=None)
    progress = serializers.FloatField(allow_null=True)
    result = serializers.JSONField(allow_null=True, help_text="The champion-vs-challenger comparison when succeeded.")

    class Meta:
        model = ReplayJob
        ref_name = "ReplayJob"
        fields = ["id", "model", "version", "champion", "since", "until", "variant", "metric", "status", "rows_total",
                  "rows_done", "chunks_done", "progress", "result", "error", "created_at", "finished_at"]


class ReplayIn(StrictSerializer):
    since = serializers.DateTimeField()
    until = serializers.DateTimeField()
    variant = serializers.ChoiceField(required=False, choices=["champion", "challenger", "batch", "stream"])
    metric = serializers.ChoiceField(required=False, choices=["roc_auc", "accuracy", "f1", "rmse", "mae"])

    class Meta:
        ref_name = "ReplayStart"


class ReplayStartApi(APIView):
    permission_classes = [requires(roles.MONITOR)]

    @extend_schema(
        operation_id="replay_create",
        request=ReplayIn,
        responses={202: ReplayOut, **errors(400, 401, 403, 404, 422)},
        description="Score the window's logged features through this version offline, in chunks; poll the job "
        "at the Location header for progress and the comparison with the champion.",
    )
    def post(self, request, name, version):
        data = ReplayIn(data=request.data)
        data.is_valid(raise_exception=True)
        job = replay_job_create(actor=request.user, model=selectors.model_get(name), version=version, **data.validated_data)
        job = selectors.replay_get(job.pk)
        return Response(ReplayOut(job).data, status=status.HTTP_202_ACCEPTED,
                        headers={"Location": reverse("api-replay", args=[job.pk])})


class ReplayDetailApi(APIView):
    @extend_schema(operation_id="replay_retrieve", responses={200: ReplayOut, **errors(401, 403, 404)})
    def get(self, request, job_id):
        return Response(ReplayOut(selectors.replay_get(job_id)).data)
