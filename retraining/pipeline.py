"""The pipeline's steps: check -> train -> evaluate -> stage -> notify. Each runs as its own
Celery task (tasks.run_step), begins and ends through services (so a duplicate delivery or a
cancelled run does nothing), beats while it works, and is safe to run again: train reuses a
version already registered for the run, evaluate resumes its replay, stage reuses the
pending request. Nothing here moves a version to Production; the stage step files a
promotion request that someone other than the policy's owner must approve."""

import logging
import traceback
from pathlib import Path

import numpy as np
from django.conf import settings

from control_plane.errors import ServiceError
from monitoring.models import DriftReport
from registry import services as registry
from registry import stages
from registry.mlflow_source import schema_from_mlflow
from registry.models import ModelVersion, PromotionRequest, PromotionStatus

from . import services, trainers
from control_plane.heartbeat import Heartbeat
from .log_reader import Window, split_time
from .models import RetrainingRun, RetrainingStep, TriggerKind
from .replay import replay_job_create, replay_job_run
from .training_data import LABEL, export_labelled

logger = logging.getLogger(__name__)
Verdict = RetrainingRun.Verdict


class StepFailed(Exception):
    """A step that cannot succeed; the message is the step's error."""


class NoNeed(Exception):
    """The check found nothing to retrain for."""


def run_dir(run: RetrainingRun) -> Path:
    return Path(settings.RETRAINING_DIR) / f"run-{run.pk}"


# --- check ---------------------------------------------------------------------------------


def _max_psi(report: DriftReport) -> float:
    values = [f.get("psi") for f in report.features or []]
    values.append((report.prediction or {}).get("psi"))
    return max([v for v in values if isinstance(v, (int, float))], default=0.0)


def step_check(run: RetrainingRun, step: RetrainingStep) -> tuple[dict, str, dict]:
    policy = run.policy
    lines, output = [], {}
    if run.trigger == TriggerKind.SCHEDULE:
        report = DriftReport.objects.filter(model=run.model, status=DriftReport.Status.SUCCEEDED).order_by("-finished_at").first()
        threshold = policy.evaluation.get("no_need_psi", 0.1)
        if report is None:
            lines.append("No succeeded drift report: cannot tell whether anything drifted; retraining.")
        else:
            max_psi = _max_psi(report)
            below = (report.performance or {}).get("below_floor") or []
            output.update(drift_report=report.pk, max_psi=max_psi, below_floor=below)
            lines.append(f"Latest drift report #{report.pk}: max PSI {max_psi:.3f}; metrics below floor: {below or 'none'}.")
            if max_psi < threshold and not below:
                raise NoNeed(f"skipped: no need (PSI {max_psi:.3f} < {threshold} everywhere, no metric below its floor)")
    window = Window(run.model.name, run.window_start, run.window_end)
    split = split_time(window, policy.evaluation.get("holdout", 0.2))
    if split is None:
        raise StepFailed(
            f"Fewer than 2 labelled predictions of {run.model.name} between {run.window_start:%Y-%m-%d} and "
            f"{run.window_end:%Y-%m-%d}: nothing to train or evaluate on (send ground truth with POST /api/v1/predictions/feedback/)."
        )
    output["train_until"] = split.isoformat()
    lines.append(f"Training rows before {split:%Y-%m-%d %H:%M:%S} UTC; the later {policy.evaluation.get('holdout', 0.2):.0%} is the holdout.")
    return output, "\n".join(lines), {"train_until": split}


# --- train ---------------------------------------------------------------------------------


def _schema_of(run: RetrainingRun) -> list[dict]:
    source = run.champion or ModelVersion.objects.filter(model=run.model).exclude(input_schema=[]).order_by("-version").first()
    if source is None or not source.input_schema:
        raise StepFailed(f"No version of {run.model.name} has an input schema: the training columns are unknown.")
    return source.input_schema


def _context(run: RetrainingRun, step: RetrainingStep, data_path: Path, schema: list[dict]) -> trainers.TrainingContext:
    return trainers.TrainingContext(
        model_name=run.model.name,
        production_version=run.champion.version if run.champion else None,
        production_source=run.champion.source if run.champion else "",
        window_start=run.window_start.isoformat(),
        window_end=run.window_end.isoformat(),
        train_until=run.train_until.isoformat(),
        data_path=str(data_path),
        label_column=LABEL,
        feature_columns=tuple(c["name"] for c in schema),
        dataset_uri=run.policy.dataset_uri,
        tracking_uri=settings.MLFLOW_TRACKING_URI,
        run_name=f"retrain-{run.model.name}-run{run.pk}",
        retraining_run=run.pk,
        attempt=step.attempt,
    )


def _tags(run: RetrainingRun) -> dict:
    return {trainers.RUN_TAG: str(run.pk), trainers.TRIGGER_TAG: run.trigger}


def _register(run: RetrainingRun, result: trainers.TrainerResult) -> ModelVersion:
    owner, name = run.policy.owner, run.model.name
    if result.registered is not None:
        version = result.registered
        for key, value in _tags(run).items():
            if version.tags.get(key) != value:
                registry.version_tag_set(actor=owner, model_name=name, version=version.version, key=key, value=value)
        return ModelVersion.objects.get(pk=version.pk)
    description = f"Retrained by run #{run.pk} ({run.trigger})."
    local = trainers.local_model_path(result.source) if result.source else None
    if local is not None:
        from mlflow.models import Model

        mlmodel = Model.load(str(local / "MLmodel"))
        signature = mlmodel.signature
        return registry.version_register(
            actor=owner, model_name=name, source=f"file://{local}", description=description, tags=_tags(run),
            input_schema=schema_from_mlflow(signature.inputs) if signature and signature.inputs else None,
            output_schema=schema_from_mlflow(signature.outputs, tensor_name="output") if signature and signature.outputs else None,
        )
    return registry.version_register_from_source(
        actor=owner, model_name=name, source=result.source, run_id=result.run_id, description=description, tags=_tags(run)
    )


def step_train(run: RetrainingRun, step: RetrainingStep) -> tuple[dict, str, dict]:
    existing = trainers.tagged_version(run.model.name, run.pk)
    if existing is not None:  # an earlier attempt got as far as registering: finish its tagging, train no more
        version = _register(run, trainers.TrainerResult(registered=existing))
        return {"version": version.version, "reused": True}, f"Version {version.version} was registered by an earlier attempt.", {"version": version}
    schema = _schema_of(run)
    data_path = run_dir(run) / "train.parquet"
    rows = export_labelled(model_name=run.model.name, schema=schema, since=run.window_start, until=run.train_until, path=data_path)
    if rows == 0:
        raise StepFailed("No labelled rows before the holdout: nothing to train on.")
    context = _context(run, step, data_path, schema)
    kind = run.policy.trainer["kind"]
    log = [f"Exported {rows:,} labelled rows to {data_path}.", f"Trainer: {kind}."]
    try:
        if kind == "python":
            result = trainers.run_python(run.policy.trainer, context)
        elif kind == "mlflow_project":
            result = _run_project(run, context)
        else:
            result = trainers.run_external(run.policy.trainer, context, first_started=step.started_at)
    except trainers.TrainerError as exc:
        raise StepFailed(str(exc)) from exc
    if result.log:
        log.append(result.log[-8000:])
    try:
        version = _register(run, result)
    except ServiceError as exc:
        raise StepFailed(f"Registering the trained model failed: {exc.message}") from exc
    if version.stage == stages.PRODUCTION:  # defence in depth: the registry cannot do this, check anyway
        raise StepFailed(f"{version} is in Production straight from training: refused, investigate.")
    log.append(f"Registered {run.model.name} v{version.version} from {version.source}.")
    output = {"version": version.version, "source": version.source, "run_id": version.run_id, "rows": rows,
              "data_path": str(data_path)}
    return output, "\n".join(log), {"version": version}


def _run_project(run: RetrainingRun, context) -> trainers.TrainerResult:
    from control_plane.tokens import token_create, token_revoke

    owner = run.policy.owner
    # The owner's token for this run only (this model, a day at most, revoked when the project ends).
    issued = token_create(actor=owner, owner=owner, name=f"retraining run {run.pk}", expires_days=1, models=[run.model.name])
    try:
        return trainers.run_mlflow_project(run.policy.trainer, context, token=issued.secret)
    finally:
        token_revoke(actor=owner, token_id=issued.token.pk)


# --- evaluate --------------------------------------------------------------------------------


def step_evaluate(run: RetrainingRun, step: RetrainingStep) -> tuple[dict, str, dict]:
    job = run.replay
    if job is None:
        job = replay_job_create(
            actor=run.policy.owner, model=run.model, version=run.version.version, since=run.train_until,
            until=run.window_end, metric=run.policy.evaluation["metric"], labelled_only=True, enqueue=False,
        )
        RetrainingRun.objects.filter(pk=run.pk).update(replay=job)
    job = replay_job_run(job.pk)
    if job.status != job.Status.SUCCEEDED:
        raise StepFailed(f"Replay #{job.pk} on the holdout {job.status}: {job.error}")
    result = job.result or {}
    if not result.get("labelled_rows"):
        raise StepFailed("The holdout has no labelled rows to evaluate on.")
    evaluation = {**result, "replay": job.pk, "champion_version": run.champion.version if run.champion else None}
    if run.champion is None:
        evaluation["beats_champion"] = True
        evaluation["note"] = "No Production version: nothing to beat; the challenger is staged for review."
    interval = result.get("interval") or {}
    log = (
        f"{result['metric']} on {result['labelled_rows']:,} holdout rows: challenger {result.get('challenger_value')}, "
        f"champion {result.get('champion_value')}; improvement {result.get('improvement')} "
        f"[{interval.get('low')}, {interval.get('high')}] vs minimum {result.get('min_improvement')}: "
        f"{'beats' if evaluation['beats_champion'] else 'does not beat'} the champion."
    )
    return {"beats_champion": evaluation["beats_champion"], "replay": job.pk}, log, {"evaluation": evaluation}


# --- stage -------------------------------------------------------------------------------------


def _pending_request(version: ModelVersion) -> PromotionRequest | None:
    return PromotionRequest.objects.filter(version=version, status=PromotionStatus.PENDING).first()


def step_stage(run: RetrainingRun, step: RetrainingStep) -> tuple[dict, str, dict]:
    evaluation = run.evaluation or {}
    version = ModelVersion.objects.select_related("model").get(pk=run.version_id)
    if not evaluation.get("beats_champion"):
        return {"staged": False}, f"v{version.version} does not beat the champion: registered, not staged.", {}
    owner, name, log = run.policy.owner, run.model.name, []
    try:
        if version.stage != stages.STAGING:
            registry.version_set_stage(actor=owner, model_name=name, version=version.version, stage=stages.STAGING,
                                       reason=f"Retraining run #{run.pk}: beats the champion.")
            log.append(f"v{version.version} moved to Staging.")
        request = _pending_request(version)
        if request is None:
            interval = evaluation.get("interval") or {}
            reason = (
                f"Retraining run #{run.pk} ({run.trigger}): {evaluation.get('metric')} improvement "
                f"{evaluation.get('improvement')} (95% CI {interval.get('low')} to {interval.get('high')}) on "
                f"{evaluation.get('labelled_rows')} holdout rows."
            )
            request = registry.promotion_request(actor=owner, model_name=name, version=version.version, reason=reason)
        log.append(f"Promotion request #{request.pk} filed by {owner.username}; it needs an approver other than them.")
    except ServiceError as exc:
        raise StepFailed(f"Staging failed: {exc.message}") from exc
    output = {"staged": True, "promotion_request": request.pk, "shadow": None}
    if run.policy.start_shadow:
        output["shadow"] = _start_shadow(run, version, log)
    return output, "\n".join(log), {"promotion_request": request}


def _start_shadow(run: RetrainingRun, version: ModelVersion, log: list[str]) -> int | None:
    from serving.models import Deployment
    from serving.services import deployment_configure

    live = Deployment.objects.filter(model=run.model, state__in=Deployment.LIVE_STATES).first()
    if live is not None and live.strategy in (Deployment.Strategy.CANARY, Deployment.Strategy.BLUE_GREEN):
        log.append(f"No shadow: a {live.strategy} deployment (#{live.pk}) is live and is left alone.")
        return None
    try:
        deployment = deployment_configure(actor=run.policy.owner, model_name=run.model.name, strategy="shadow",
                                          challenger_version=version.version)
    except ServiceError as exc:
        log.append(f"No shadow: {exc.message}")
        return None
    log.append(f"Shadow deployment #{deployment.pk} started (v{version.version} beside the champion).")
    return deployment.pk


# --- the runner -------------------------------------------------------------------------------


STEPS = {"check": step_check, "train": step_train, "evaluate": step_evaluate, "stage": step_stage}


def step_execute(*, run_id: int, name: str) -> None:
    step = services.step_begin(run_id=run_id, name=name)
    if step == "done":
        nxt = services._next_name(name)
        if nxt is not None:
            from .tasks import run_step

            run_step.delay(run_id, nxt)
        return
    if step is None:
        return
    run = RetrainingRun.objects.select_related("model", "policy__owner", "champion", "version", "replay").get(pk=run_id)
    if name == "notify":
        verdict = Verdict.STAGED if run.promotion_request_id else Verdict.NOT_BETTER
        services.step_succeed(step_id=step.pk, output={"verdict": verdict}, log=f"Verdict: {verdict}.")
        services.run_finish(run_id=run_id, verdict=verdict)
        return
    with Heartbeat(RetrainingStep, step.pk):
        try:
            output, log, run_fields = STEPS[name](run, step)
        except NoNeed as exc:
            services.step_skip_rest(step_id=step.pk, output={"verdict": Verdict.NO_NEED}, log=str(exc), verdict=Verdict.NO_NEED)
            return
        except StepFailed as exc:
            services.step_fail(step_id=step.pk, error=str(exc))
            return
        except Exception as exc:  # noqa: BLE001 - any other error fails the step visibly, with its traceback
            logger.exception("Retraining run %s step %s failed", run_id, name)
            services.step_fail(step_id=step.pk, error=f"{type(exc).__name__}: {exc}", log=traceback.format_exc()[-4000:])
            return
    services.step_succeed(step_id=step.pk, output=_plain(output), log=log, run_fields=run_fields)


def _plain(value):
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, (np.floating, np.integer)):
        return value.item()
    return value
