"""Replay: score a window of logged traffic through a version offline, off the serving path,
chunk by chunk, and compare it with the champion (the Production version) on the same rows.

Each chunk's scores go to a part file (ids, labels, both models' scores) before the job row
records the chunk and the resume point, so a task restarted after a worker died carries on
after the last committed chunk and rewrites at most one part. The comparison at the end reads
the parts (12 bytes a row) and runs the pure kernel in retraining/comparison.py.
"""

import logging
import shutil
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from pathlib import Path

import numpy as np
from django.conf import settings
from django.contrib.auth.models import User
from django.db import transaction
from django.utils import timezone

from control_plane.errors import Invalid, NotFound
from registry import stages
from registry.model_loading import ModelLoadError, load_version
from registry.models import ModelVersion, RegisteredModel

from . import comparison, scoring
from control_plane.heartbeat import Heartbeat
from .log_reader import VARIANTS, Window, count_rows, read_chunk
from .models import ReplayJob
from .policies import require_monitor

logger = logging.getLogger(__name__)
Status = ReplayJob.Status


def replay_dir(job_id: int) -> Path:
    return Path(settings.RETRAINING_DIR) / f"replay-{job_id}"


def _part(job_id: int, index: int) -> Path:
    return replay_dir(job_id) / f"part-{index:06d}.npz"


def replay_job_create(
    *,
    actor: User,
    model: RegisteredModel,
    version: int,
    since: datetime,
    until: datetime,
    variant: str = "",
    metric: str = "",
    labelled_only: bool = False,
    enqueue: bool = True,
) -> ReplayJob:
    require_monitor(actor)
    if since >= until:
        raise Invalid("'since' must be before 'until'.", details={"since": ["Not before 'until'."]})
    challenger = ModelVersion.objects.filter(model=model, version=version).first()
    if challenger is None:
        raise NotFound(f"Model '{model.name}' has no version {version}.", code="version_not_found")
    if not challenger.input_schema:
        raise Invalid(f"{challenger} has no input schema: its logged features cannot be typed.", code="no_schema",
                      details={"version": ["No input schema."]})
    if metric and metric not in comparison.HIGHER_IS_BETTER + comparison.LOWER_IS_BETTER:
        raise Invalid(f"Unknown metric '{metric}'.", details={"metric": ["Unknown metric."]})
    champion = ModelVersion.objects.filter(model=model, stage=stages.PRODUCTION).first()
    with transaction.atomic():
        job = ReplayJob.objects.create(
            model=model,
            version=challenger,
            champion=champion,
            since=since,
            until=until,
            variant=variant,
            metric=metric,
            chunk_rows=settings.RETRAINING_REPLAY_CHUNK_ROWS,
            created_by=actor,
            labelled_only=labelled_only,
        )
        if enqueue:
            from .tasks import run_replay

            transaction.on_commit(lambda: run_replay.delay(job.pk))
    return job


def _window(job: ReplayJob) -> Window:
    variants = (job.variant,) if job.variant else VARIANTS
    return Window(job.model.name, job.since, job.until, variants, job.labelled_only)


def _fail(job_id: int, message: str) -> ReplayJob:
    ReplayJob.objects.filter(pk=job_id).exclude(status__in=ReplayJob.FINISHED).update(
        status=Status.FAILED, error=message[:10000], finished_at=timezone.now()
    )
    return ReplayJob.objects.get(pk=job_id)


def _default_metric(challenger_model) -> str:
    return "roc_auc" if scoring.positive_index(challenger_model) is not None else "rmse"


def replay_job_run(job_id: int, *, max_chunks: int | None = None) -> ReplayJob | None:
    """Run or resume a job. `max_chunks` stops early, as a crash would (tests)."""
    with transaction.atomic():
        job = (
            ReplayJob.objects.select_for_update(of=("self",)).select_related("model", "version", "champion")
            .filter(pk=job_id).first()
        )
        if job is None or job.status in ReplayJob.FINISHED:
            return job
        job.status, job.heartbeat_at = Status.RUNNING, timezone.now()
        if job.rows_total is None:
            job.rows_total = count_rows(_window(job))
        job.save()
    try:
        challenger = load_version(job.version)
        champion = load_version(job.champion) if job.champion_id and job.champion_id != job.version_id else None
    except ModelLoadError as exc:
        return _fail(job_id, str(exc))
    with Heartbeat(ReplayJob, job_id):
        try:
            finished = _score_chunks(job, challenger, champion, max_chunks)
            if finished:
                _finish(job, challenger, champion)
        except Exception as exc:  # noqa: BLE001 - a broken replay is a failed job, not a lost one
            logger.exception("Replay job %s failed", job_id)
            return _fail(job_id, f"{type(exc).__name__}: {exc}")
    return ReplayJob.objects.get(pk=job_id)


def _score(chunk, schema, challenger, champion, positive, timings: dict) -> dict[str, np.ndarray]:
    """One chunk's labels and both scores (no database: it runs beside the next chunk's read)."""
    frame = scoring.typed_frame(chunk.columns, schema)
    started = time.perf_counter()
    s_challenger = scoring.scores_of(challenger.model, frame)
    timings["challenger"] += time.perf_counter() - started
    s_champion = np.full(len(frame), np.nan)
    if champion is not None:
        started = time.perf_counter()
        s_champion = scoring.scores_of(champion.model, frame)
        timings["champion"] += time.perf_counter() - started
    y = scoring.labels_01(chunk.ground_truth, positive) if positive is not None else scoring.values_float(chunk.ground_truth)
    return {"ids": chunk.ids, "y": y.astype(np.float32), "challenger": s_challenger.astype(np.float32),
            "champion": s_champion.astype(np.float32)}


def _score_chunks(job: ReplayJob, challenger, champion, max_chunks) -> bool:
    """Chunk by chunk: a second thread scores chunk k while this one has PostgreSQL extract
    chunk k+1 (the two overlap on two cores); then chunk k's part file and progress."""
    schema = job.version.input_schema
    names = [c["name"] for c in schema]
    numeric = [c["type"] in scoring.NUMERIC for c in schema]
    window = _window(job)
    positive = scoring.positive_label(challenger.model)
    index, done = job.chunks_done, 0
    timings = dict((job.result or {}).get("seconds", {"challenger": 0.0, "champion": 0.0}))

    def read(after):
        return read_chunk(window, names, after=after, limit=job.chunk_rows, numeric=numeric)

    chunk = read((job.last_ts, job.last_id) if job.last_ts else None)
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="replay-score") as scorer:
        while len(chunk.ids):
            if max_chunks is not None and done >= max_chunks:
                return False
            scores = scorer.submit(_score, chunk, schema, challenger, champion, positive, timings)
            following = read(chunk.last)
            parts = scores.result()
            replay_dir(job.pk).mkdir(parents=True, exist_ok=True)
            tmp = _part(job.pk, index).with_suffix(".tmp.npz")
            np.savez(tmp, **parts)
            tmp.replace(_part(job.pk, index))
            with transaction.atomic():
                current = ReplayJob.objects.select_for_update().get(pk=job.pk)
                if current.chunks_done != index or current.status != Status.RUNNING:
                    return False  # another runner took it over
                current.chunks_done, current.rows_done = index + 1, current.rows_done + len(chunk.ids)
                current.last_ts, current.last_id = chunk.last
                current.result = {**(current.result or {}), "seconds": timings}
                current.heartbeat_at = timezone.now()
                current.save()
            chunk, index, done = following, index + 1, done + 1
    return True


def _parts(job: ReplayJob):
    for index in range(job.chunks_done):
        with np.load(_part(job.pk, index)) as part:
            yield {k: part[k] for k in ("ids", "y", "challenger", "champion")}


def replay_scores(job: ReplayJob) -> dict[str, np.ndarray]:
    """Every committed row's id, label and both scores, in the order they were read (tests;
    the comparison streams over the parts instead)."""
    parts = list(_parts(job))
    keys = ("ids", "y", "challenger", "champion")
    if not parts:
        return {k: np.array([]) for k in keys}
    return {k: np.concatenate([p[k] for p in parts]) for k in keys}


def _score_range(job: ReplayJob, with_champion: bool) -> tuple[float, float]:
    low, high = np.inf, -np.inf
    for part in _parts(job):
        for key in ("challenger", "champion") if with_champion else ("challenger",):
            finite = part[key][np.isfinite(part[key])]
            if len(finite):
                low, high = min(low, float(finite.min())), max(high, float(finite.max()))
    return (low, high) if low <= high else (float("nan"), float("nan"))


def _reference_score_profile(champion_version: ModelVersion | None) -> dict | None:
    """The champion's reference profile's score distribution (decile edges and shares), if any."""
    profile = getattr(champion_version, "reference_profile", None) if champion_version is not None else None
    score = (profile.profile or {}).get("score") if profile is not None else None
    return score if score and score.get("edges") else None


def _finish(job: ReplayJob, challenger, champion) -> None:
    """The comparison, streamed over the part files: memory holds one part and a bounded sample."""
    job.refresh_from_db()
    metric = job.metric or _default_metric(challenger.model)
    rows = max(job.rows_done, 1)
    seconds = (job.result or {}).get("seconds", {})
    latency = {name: round(seconds.get(name, 0.0) * 1000 / rows, 6) for name in ("challenger", "champion")}
    policy = getattr(job.model, "retraining_policy", None)
    evaluation = policy.evaluation if policy is not None else {}
    reference = _reference_score_profile(job.champion) if champion is not None else None
    low, high = _score_range(job, champion is not None)
    stream = comparison.ComparisonStream(
        metric, low=low, high=high, with_champion=champion is not None,
        reference_edges=reference["edges"] if reference else None,
    )
    for part in _parts(job):
        stream.add(part["y"], part["champion"] if champion is not None else None, part["challenger"])
    result = stream.result(
        min_improvement=float(evaluation.get("min_improvement", 0.0)),
        replicates=int(evaluation.get("bootstrap", 200)),
        latency_ms=latency if champion is not None else {"challenger": latency["challenger"]},
    )
    result.update(
        rows_replayed=int(stream.rows),
        labelled_rows=int(stream.sample.seen),
        champion_version=job.champion.version if champion is not None else None,
        challenger_version=job.version.version,
        window={"since": job.since.isoformat(), "until": job.until.isoformat()},
    )
    if reference:
        result["reference"] = _reference_comparison(job.champion, reference, stream, metric, result)
    with transaction.atomic():
        current = ReplayJob.objects.select_for_update().get(pk=job.pk)
        if current.status == Status.RUNNING:
            current.status, current.finished_at = Status.SUCCEEDED, timezone.now()
            current.result = comparison.json_safe({**(current.result or {}), **result})
            current.save()


def _reference_comparison(champion_version: ModelVersion, score: dict, stream, metric: str, result: dict) -> dict:
    """Both models against the champion's reference profile: how far each one's replayed
    scores are from the reference score distribution (PSI), and the reference's own metric
    beside the replayed ones."""
    psi = stream.reference_psi(score["shares"])
    reference_metric = (champion_version.reference_profile.profile.get("metrics") or {}).get(metric)
    return {
        "version": champion_version.version,
        "score_psi": psi,
        "psi_change": psi["challenger"] - psi["champion"],
        "metric": reference_metric,
        "champion_value_change": None if reference_metric is None or result["champion_value"] is None
        else result["champion_value"] - reference_metric,
        "challenger_value_change": None if reference_metric is None or result["challenger_value"] is None
        else result["challenger_value"] - reference_metric,
    }


def replay_job_delete_parts(job: ReplayJob) -> None:
    shutil.rmtree(replay_dir(job.pk), ignore_errors=True)


def replay_jobs_recover_stale(*, now=None) -> int:
    """Running jobs whose heartbeat stopped: queued again, to resume after their last chunk."""
    from datetime import timedelta

    from .tasks import run_replay

    cutoff = (now or timezone.now()) - timedelta(seconds=settings.HEARTBEAT_STALE_SECONDS)
    resumed = 0
    for job_id in ReplayJob.objects.filter(status=Status.RUNNING, heartbeat_at__lt=cutoff).values_list("pk", flat=True):
        if ReplayJob.objects.filter(pk=job_id, status=Status.RUNNING, heartbeat_at__lt=cutoff).update(
            status=Status.QUEUED, heartbeat_at=None
        ):
            transaction.on_commit(lambda job_id=job_id: run_replay.delay(job_id))
            resumed += 1
    return resumed
