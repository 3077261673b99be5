"""Historical retrieval as a job (a big entity frame, or ?async=true): the frame is saved
under FEATURE_HISTORICAL_JOBS_DIR before the 202; a worker runs the same join as the sync
path (features.historical) and writes the answer there chunk by chunk, committing progress
per chunk. A re-delivered task (worker lost) starts the job again from its saved frame; a
job whose worker stopped beating is failed by the sweep (retraining's recover_stale_jobs)."""

import logging
import os
import shutil
from datetime import timedelta
from pathlib import Path

from django.conf import settings
from django.contrib.auth.models import User
from django.db import transaction
from django.utils import timezone

from control_plane import roles
from control_plane.errors import Conflict, NotFound, ServiceError
from control_plane.heartbeat import Heartbeat

from ..historical import historical_chunks, output_stream, read_frame
from ..models import HistoricalJob
from ..resolve import resolve

logger = logging.getLogger(__name__)
Job = HistoricalJob
Status = HistoricalJob.Status


def job_dir(job_id: int) -> Path:
    return Path(settings.FEATURE_HISTORICAL_JOBS_DIR).resolve() / str(job_id)


def historical_job_create(*, actor: User, refs: dict, fmt: str, rows: int, data: bytes | None = None,
                          source: Path | None = None) -> HistoricalJob:
    """A queued job whose frame (uploaded `data`, or a copy of the server file `source`) is
    saved in the job's own folder; the task is sent once the row is committed."""
    with transaction.atomic():
        job = Job.objects.create(features=refs["features"], feature_service=refs["feature_service"] or "",
                                 output_format=fmt, rows_total=rows, created_by=actor)
        folder = job_dir(job.pk)
        folder.mkdir(parents=True, exist_ok=True)
        head = data[:4] if data is not None else source.open("rb").read(4)
        frame_file = folder / ("input.parquet" if head == b"PAR1" else "input.csv")
        if data is not None:
            frame_file.write_bytes(data)
        else:
            shutil.copyfile(source, frame_file)
        job.input_path, job.output_path = str(frame_file), str(folder / f"output.{fmt}")
        job.save(update_fields=["input_path", "output_path", "updated_at"])
        transaction.on_commit(lambda: _enqueue(job.pk))
    return job


def _enqueue(job_id: int) -> None:
    from ..tasks import run_historical_job

    run_historical_job.delay(job_id)


def historical_job_get(*, actor: User, job_id: int) -> HistoricalJob:
    """The job, for its creator or an admin; anyone else is told it does not exist."""
    job = Job.objects.select_related("created_by").filter(pk=job_id).first()
    if job is None or (job.created_by_id != actor.pk and roles.ADMIN not in roles.user_roles(actor)):
        raise NotFound(f"Historical job {job_id} does not exist.", code="job_not_found")
    return job


def historical_job_output(*, actor: User, job_id: int) -> Path:
    job = historical_job_get(actor=actor, job_id=job_id)
    if job.status != Status.SUCCEEDED:
        raise Conflict(f"Historical job {job_id} is {job.status}; its file is ready once it succeeded.",
                       code="job_not_ready", details={"status": [job.status]})
    path = Path(job.output_path)
    if not path.is_file():
        raise NotFound(f"The output of historical job {job_id} is gone.", code="output_gone")
    return path


class _Stopped(Exception):
    """The job left "running" under the worker (failed by the sweep): stop writing."""


def _counted(job_id: int, chunks):
    """The chunks, committing rows_done once a chunk has gone to the file (when the next is asked for)."""
    done = 0
    for chunk in chunks:
        yield chunk
        done += len(chunk)
        if not Job.objects.filter(pk=job_id, status=Status.RUNNING).update(rows_done=done, updated_at=timezone.now()):
            raise _Stopped


def _write_output(job: HistoricalJob) -> int:
    resolved = resolve(features=job.features, feature_service=job.feature_service or None)
    frame = read_frame(path=Path(job.input_path), name=Path(job.input_path).name)
    output = Path(job.output_path)
    partial = output.with_name(output.name + ".partial")
    with open(partial, "wb") as out:
        for piece in output_stream(_counted(job.pk, historical_chunks(resolved, frame)), job.output_format, resolved):
            out.write(piece)
    os.replace(partial, output)  # the download never sees a half-written file
    return len(frame)


def _fail(job_id: int, message: str) -> None:
    Job.objects.filter(pk=job_id, status=Status.RUNNING).update(
        status=Status.FAILED, error=message[:10000], finished_at=timezone.now(), updated_at=timezone.now()
    )


def historical_job_run(job_id: int) -> HistoricalJob | None:
    """Run a queued job, or again from its saved frame a running one whose task was delivered again."""
    with transaction.atomic():
        job = Job.objects.select_for_update().filter(pk=job_id).first()
        if job is None or job.status in Job.FINISHED:
            return job
        job.status, job.heartbeat_at, job.rows_done = Status.RUNNING, timezone.now(), 0
        job.started_at = job.started_at or timezone.now()
        job.save(update_fields=["status", "heartbeat_at", "rows_done", "started_at", "updated_at"])
    try:
        with Heartbeat(Job, job_id):
            rows = _write_output(job)
    except _Stopped:
        return Job.objects.get(pk=job_id)
    except ServiceError as exc:  # a bad frame or a failing join: the same message the sync path answers
        _fail(job_id, exc.message)
        return Job.objects.get(pk=job_id)
    except Exception as exc:  # noqa: BLE001 - a job that breaks is a failed job, not a lost one
        logger.exception("Historical job %s failed", job_id)
        _fail(job_id, f"{type(exc).__name__}: {exc}")
        return Job.objects.get(pk=job_id)
    now = timezone.now()
    Job.objects.filter(pk=job_id, status=Status.RUNNING).update(
        status=Status.SUCCEEDED, rows_total=rows, finished_at=now, updated_at=now
    )
    return Job.objects.get(pk=job_id)


def historical_jobs_fail_stale(*, now=None) -> int:
    """Running jobs whose worker stopped beating (killed mid-run) are failed within minutes."""
    now = now or timezone.now()
    cutoff = now - timedelta(seconds=settings.HEARTBEAT_STALE_SECONDS)
    return Job.objects.filter(status=Status.RUNNING, heartbeat_at__lt=cutoff).update(
        status=Status.FAILED, finished_at=now, updated_at=now,
        error="Worker lost: the worker running this job stopped beating before finishing it; ask again.",
    )
