"""Batch scoring pages: /models/<name>/batch/ (the model's jobs) and /batch-jobs/<id>/
(one job, with a progress bar the page keeps up to date from the API, and Cancel)."""

from django.core.paginator import Paginator
from django.http import Http404
from django.shortcuts import redirect, render
from django.views.decorators.http import require_http_methods

from control_plane import roles
from control_plane.errors import ServiceError
from control_plane.views import refuse, role_required
from registry.models import RegisteredModel

from .batch_services import batch_job_cancel
from .models import BatchJob

JOBS_PER_PAGE = 25


@role_required
def batch_jobs_page(request, name):
    model = RegisteredModel.objects.filter(name=name).first()
    if model is None:
        raise Http404(f"There is no model named '{name}'.")
    jobs = BatchJob.objects.filter(model=model).select_related("version", "created_by")
    page = Paginator(jobs, JOBS_PER_PAGE).get_page(request.GET.get("page"))
    return render(request, "serving/batch_jobs.html", {"model": model, "page": page})


@role_required
@require_http_methods(["GET", "POST"])
def batch_job_page(request, job_id):
    job = BatchJob.objects.select_related("model", "version", "created_by").filter(pk=job_id).first()
    if job is None:
        raise Http404(f"There is no batch job #{job_id}.")
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
