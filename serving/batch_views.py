"""Batch scoring pages: /models/<name>/batch/ (the model's jobs, and a form to score an
uploaded file) and /batch-jobs/<id>/ (one job, with a progress bar the page keeps up to date
from the API, Cancel, and the output to download once it succeeded)."""

from pathlib import Path

from django.conf import settings
from django.contrib import messages
from django.core.paginator import Paginator
from django.http import FileResponse, Http404
from django.shortcuts import redirect, render
from django.views.decorators.http import require_http_methods, require_POST

from control_plane import roles
from control_plane.errors import ServiceError
from control_plane.views import _int_or_none, refuse, role_required
from registry.models import RegisteredModel

from .batch_services import batch_dir, batch_job_cancel, batch_job_create
from .models import BatchJob

JOBS_PER_PAGE = 25


@role_required
def batch_jobs_page(request, name):
    model = _model(name)
    return _jobs_page(request, model)


def _jobs_page(request, model, *, status: int = 200):
    jobs = BatchJob.objects.filter(model=model).select_related("version", "created_by")
    page = Paginator(jobs, JOBS_PER_PAGE).get_page(request.GET.get("page"))
    context = {
        "model": model,
        "page": page,
        "can_start": roles.user_can(request.user, roles.REGISTER),
        "versions": model.versions.exclude(stage="archived").order_by("-version"),
        "max_upload_mb": settings.MAX_REQUEST_BYTES // (1024 * 1024) or 1,
    }
    return render(request, "serving/batch_jobs.html", context, status=status)


@role_required
@require_POST
def batch_start(request, name):
    model = _model(name)
    try:
        job = batch_job_create(
            actor=request.user,
            model_name=model.name,
            version=_int_or_none(request.POST.get("version"), "version"),
            upload=request.FILES.get("file"),
        )
    except ServiceError as exc:
        return _jobs_page(request, model, status=refuse(request, exc))
    messages.success(request, f"Batch job #{job.pk} started: v{job.version.version} scores the file you sent.")
    return redirect("batch-job", job_id=job.pk)


@role_required
def batch_download(request, job_id, which):
    """The finished job's output (or its invalid rows' reasons) as a download; the path was
    checked to lie under BATCH_DIR when the job was made, and is checked again here."""
    job = _job(job_id)
    if which not in ("output", "errors"):
        raise Http404(f"Batch job #{job.pk} has outputs 'output' and 'errors' only.")
    if job.status != BatchJob.Status.SUCCEEDED:
        raise Http404(f"Batch job #{job.pk} is {job.status}: there is no output to download yet.")
    raw = job.output_path if which == "output" else job.errors_path
    path = Path(raw).resolve() if raw else None
    if path is None or not path.is_file() or not path.is_relative_to(batch_dir()):
        raise Http404(f"Batch job #{job.pk} has no {which} file.")
    name = f"{job.model.name}-job{job.pk}-{which}{path.suffix}"
    return FileResponse(path.open("rb"), as_attachment=True, filename=name)


def _model(name):
    model = RegisteredModel.objects.filter(name=name).first()
    if model is None:
        raise Http404(f"There is no model named '{name}'.")
    return model


def _job(job_id):
    job = BatchJob.objects.select_related("model", "version", "created_by").filter(pk=job_id).first()
    if job is None:
        raise Http404(f"There is no batch job #{job_id}.")
    return job


@role_required
@require_http_methods(["GET", "POST"])
def batch_job_page(request, job_id):
    job = _job(job_id)
    status = 200
    if request.method == "POST":
        try:
            batch_job_cancel(actor=request.user, job_id=job.pk)
            return redirect("batch-job", job_id=job.pk)
        except ServiceError as exc:
            status = refuse(request, exc)
            job.refresh_from_db()
    can_cancel = not job.finished and roles.user_can(request.user, roles.REGISTER)
    return render(request, "serving/batch_job.html", {"job": job, "can_cancel": can_cancel}, status=status)
