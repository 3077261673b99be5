"""Batch jobs: creating one (paths checked, version resolved, task enqueued after
commit), cancelling one, and running one (the Celery task's body), chunk by chunk with
progress committed per chunk so that a restarted worker resumes where it stopped."""

import logging
import uuid
from datetime import timedelta
from pathlib import Path

from django.conf import settings
from django.contrib.auth.models import User
from django.core.files.uploadedfile import UploadedFile
from django.db import transaction
from django.utils import timezone
from django.utils.text import get_valid_filename

from control_plane import roles, token_scope
from control_plane.errors import Conflict, Forbidden, Invalid, NotFound
from control_plane.heartbeat import Heartbeat
from registry import stages
from registry.model_loading import ModelLoadError, load_version
from registry.models import ModelVersion, RegisteredModel

from . import batch
from .models import BatchJob

logger = logging.getLogger(__name__)
Status = BatchJob.Status
SUFFIXES = (".csv", *batch.PARQUET_SUFFIXES)


def batch_dir() -> Path:
    return Path(settings.BATCH_DIR).resolve()


def job_dir(job_id: int) -> Path:
    return batch_dir() / "jobs" / str(job_id)


def _inside_batch_dir(path: str, what: str) -> Path:
    candidate = Path(path)
    if not candidate.is_absolute():
        candidate = batch_dir() / candidate
    resolved = candidate.resolve()
    if not resolved.is_relative_to(batch_dir()):
        raise Invalid(f"The {what} must lie under the batch folder {batch_dir()}.", details={what: ["Outside BATCH_DIR."]})
    if resolved.suffix.lower() not in SUFFIXES:
        raise Invalid(f"The {what} must be a .csv or .parquet file.", details={what: ["Unknown file type."]})
    return resolved


def _save_upload(upload: UploadedFile) -> Path:
    name = get_valid_filename(Path(upload.name or "upload.csv").name) or "upload.csv"
    if Path(name).suffix.lower() not in SUFFIXES:
        raise Invalid("Upload a .csv or .parquet file.", details={"file": ["Unknown file type."]})
    target = batch_dir() / "uploads" / f"{uuid.uuid4().hex}-{name}"
    target.parent.mkdir(parents=True, exist_ok=True)
    with open(target, "wb") as f:
        for piece in upload.chunks():
            f.write(piece)
    return target


def _version(model: RegisteredModel, number: int | None) -> ModelVersion:
    if number is not None:
        version = ModelVersion.objects.filter(model=model, version=number).first()
        if version is None:
            raise NotFound(f"Model '{model.name}' has no version {number}.", code="version_not_found")
    else:
        version = ModelVersion.objects.filter(model=model, stage=stages.PRODUCTION).first()
        if version is None:
            raise Invalid(f"Model '{model.name}' has no Production version; name one.", code="nothing_deployed")
    if not version.input_schema:
        raise Invalid(f"v{version.version} has no input schema to validate rows against.", code="schema_missing")
    return version


def batch_job_create(
    *,
    actor: User,
    model_name: str,
    version: int | None = None,
    input_path: str | None = None,
    upload: UploadedFile | None = None,
    output: str | None = None,
) -> BatchJob:
    if not roles.user_can(actor, roles.REGISTER):
        raise Forbidden(roles.not_allowed(roles.REGISTER, actor), code="permission_denied")
    if (input_path is None) == (upload is None):
        raise Invalid("Give either an input path or an uploaded file.", details={"input": ["Input path or file."]})
    token_scope.require_model(model_name)
    model = RegisteredModel.objects.filter(name=model_name).first()
    if model is None:
        raise NotFound(f"Model '{model_name}' does not exist.", code="model_not_found")
    chosen = _version(model, version)
    if input_path is not None:
        source = _inside_batch_dir(input_path, "input")
        if not source.is_file():
            raise Invalid(f"{source} does not exist.", details={"input": ["No such file."]})
    else:
        source = _save_upload(upload)
    target = _inside_batch_dir(output, "output") if output else None
    if target is not None and (target == source or target.exists()):
        raise Conflict(f"{target} already exists; name a new output file.", code="output_exists")
    with transaction.atomic():
        job = BatchJob.objects.create(
            model=model,
            version=chosen,
            input_path=str(source),
            input_format=batch.file_format(source),
            output_path=str(target or ""),
            chunk_rows=max(1, settings.BATCH_CHUNK_ROWS),
            created_by=actor,
        )
        if target is None:
            suffix = ".parquet" if job.input_format == "parquet" else ".csv"
            job.output_path = str(job_dir(job.pk) / f"output{suffix}")
        job.errors_path = str(Path(job.output_path).with_name(Path(job.output_path).stem + ".errors.csv"))
        job.save(update_fields=["output_path", "errors_path"])
        transaction.on_commit(lambda: _enqueue(job.pk))
    return job


def _enqueue(job_id: int) -> None:
    from .tasks import run_batch_job

    run_batch_job.delay(job_id)


def batch_job_cancel(*, actor: User, job_id: int) -> BatchJob:
    if not roles.user_can(actor, roles.REGISTER):
        raise Forbidden(roles.not_allowed(roles.REGISTER, actor), code="permission_denied")
    with transaction.atomic():
        job = BatchJob.objects.select_for_update().filter(pk=job_id).first()
        if job is None:
            raise NotFound(f"Batch job {job_id} does not exist.")
        token_scope.require_model(job.model.name)
        if job.status in BatchJob.FINISHED:
            raise Conflict(f"Batch job {job_id} is already {job.status}.", code="job_finished")
        job.status, job.finished_at = Status.CANCELLED, timezone.now()
        job.save(update_fields=["status", "finished_at", "updated_at"])
    return job


def _fail(job_id: int, message: str) -> None:
    BatchJob.objects.filter(pk=job_id).exclude(status__in=BatchJob.FINISHED).update(
        status=Status.FAILED, error=message[:10000], finished_at=timezone.now(), updated_at=timezone.now()
    )


def _spec(job: BatchJob, loaded) -> batch.BatchSpec:
    return batch.BatchSpec(
        job_key=str(job.pk),
        input_path=Path(job.input_path),
        input_format=job.input_format,
        output_path=Path(job.output_path),
        errors_path=Path(job.errors_path),
        work_dir=job_dir(job.pk) / "parts",
        chunk_rows=job.chunk_rows,
        loaded=loaded,
        schema=job.version.input_schema,
        model_name=job.model.name,
        model_version=job.version.version,
        extra={"batch_job": job.pk},
        logged_at=job.created_at,
    )


def batch_job_run(job_id: int, *, max_chunks: int | None = None) -> BatchJob | None:
    """Run (or resume) a job from its last committed chunk. `max_chunks` stops early, as
    a crash would (tests)."""
    with transaction.atomic():
        job = BatchJob.objects.select_for_update().select_related("model", "version").filter(pk=job_id).first()
        if job is None or job.status in BatchJob.FINISHED:
            return job
        job.status, job.heartbeat_at = Status.RUNNING, timezone.now()
        job.started_at = job.started_at or timezone.now()
        if job.rows_total is None:
            try:
                job.rows_total = batch.count_rows(job.input_path, job.input_format)
            except batch.BatchInputError as exc:
                job.status, job.error, job.finished_at = Status.FAILED, str(exc), timezone.now()
        job.save()
    if job.status == Status.FAILED:
        return job
    try:
        loaded = load_version(job.version)
    except ModelLoadError as exc:
        _fail(job_id, str(exc))
        return BatchJob.objects.get(pk=job_id)
    spec = _spec(job, loaded)

    def commit_chunk(result: batch.ChunkResult) -> bool:
        with transaction.atomic():
            current = BatchJob.objects.select_for_update().get(pk=job_id)
            if current.chunks_done != result.index:  # another runner committed it: leave the job to it
                return False
            if not batch.part_path(spec, result.index).exists():
                raise batch.BatchInputError(f"Part file of chunk {result.index} vanished before its commit.")
            current.chunks_done = result.index + 1
            current.rows_done += result.rows
            current.rows_invalid += result.invalid
            current.save(update_fields=["chunks_done", "rows_done", "rows_invalid", "updated_at"])
            return current.status == Status.RUNNING

    try:
        with Heartbeat(BatchJob, job_id):
            chunks, finished = batch.run(spec, start_chunk=job.chunks_done, on_chunk=commit_chunk, max_chunks=max_chunks)
    except batch.BatchInputError as exc:
        _fail(job_id, str(exc))
        return BatchJob.objects.get(pk=job_id)
    except Exception as exc:
        logger.exception("Batch job %s failed", job_id)
        _fail(job_id, f"{type(exc).__name__}: {exc}")
        return BatchJob.objects.get(pk=job_id)
    if finished:
        with transaction.atomic():
            current = BatchJob.objects.select_for_update().get(pk=job_id)
            if current.status == Status.RUNNING and current.chunks_done == chunks:
                current.status, current.finished_at = Status.SUCCEEDED, timezone.now()
                current.rows_total = current.rows_done
                current.save(update_fields=["status", "finished_at", "rows_total", "updated_at"])
    return BatchJob.objects.get(pk=job_id)


MAX_RESTARTS = 2


def batch_jobs_recover_stale(*, now=None) -> dict:
    """Running jobs whose worker stopped beating: resumed from their last committed chunk
    (up to MAX_RESTARTS times), then failed. Within minutes, not the broker's hour."""
    cutoff = (now or timezone.now()) - timedelta(seconds=settings.HEARTBEAT_STALE_SECONDS)
    found = {"resumed": 0, "failed": 0}
    for job_id in BatchJob.objects.filter(status=Status.RUNNING, heartbeat_at__lt=cutoff).values_list("pk", flat=True):
        with transaction.atomic():
            job = BatchJob.objects.select_for_update().filter(pk=job_id, status=Status.RUNNING, heartbeat_at__lt=cutoff).first()
            if job is None:
                continue
            if job.restarts >= MAX_RESTARTS:
                job.status, job.finished_at = Status.FAILED, timezone.now()
                job.error = f"Worker lost {job.restarts + 1} times (no heartbeat since {job.heartbeat_at:%H:%M:%S} UTC)."
                job.save(update_fields=["status", "finished_at", "error", "updated_at"])
                found["failed"] += 1
                continue
            job.status, job.restarts, job.heartbeat_at = Status.QUEUED, job.restarts + 1, None
            job.save(update_fields=["status", "restarts", "heartbeat_at", "updated_at"])
            transaction.on_commit(lambda job_id=job_id: _enqueue(job_id))
            found["resumed"] += 1
    return found
