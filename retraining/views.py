"""Retraining pages: per model the policy (edit form), the runs with their step grid and a
"Run now" button; a run's page (steps, logs, evaluation charts, links); a replay's page.
Thin: reads through selectors, writes through the same services as the API."""

import json

from django.contrib import messages
from django.http import Http404
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from control_plane.errors import Invalid, ServiceError
from control_plane.roles import MONITOR, user_can
from control_plane.views import or_404, refuse, role_required

from . import selectors
from .models import STEP_NAMES, TriggerKind
from .policies import default_evaluation, retraining_policy_put
from .services import retraining_run_cancel, retraining_run_retry, retraining_trigger

GRID_RUNS = 25


def _policy_form(policy) -> dict:
    if policy is None:
        return {"enabled": True, "trainer": "{}", "triggers": "{}", "evaluation": json.dumps(default_evaluation(), indent=2),
                "cooldown_hours": 24, "max_runs_per_day": 2, "window_days": 30, "start_shadow": False, "dataset_uri": "", "owner": ""}
    return {
        "enabled": policy.enabled, "trainer": json.dumps(policy.trainer, indent=2), "triggers": json.dumps(policy.triggers, indent=2),
        "evaluation": json.dumps(policy.evaluation, indent=2), "cooldown_hours": policy.cooldown_hours,
        "max_runs_per_day": policy.max_runs_per_day, "window_days": policy.window_days, "start_shadow": policy.start_shadow,
        "dataset_uri": policy.dataset_uri, "owner": policy.owner.username,
    }


def _page(request, name, *, form=None, status=200):
    model = or_404(selectors.model_get, name)
    policy = selectors.policy_of(model)
    runs = list(selectors.runs_of(model)[:GRID_RUNS])
    grid = [{"run": run, "cells": sorted(run.steps.all(), key=lambda s: s.position)} for run in runs]
    return render(request, "retraining/model.html", {
        "model": model, "policy": policy, "form": form or _policy_form(policy), "grid": grid, "step_names": STEP_NAMES,
        "can_edit": user_can(request.user, MONITOR),
    }, status=status)


@role_required
def retraining_model(request, name):
    return _page(request, name)


def _json_field(post, field: str):
    raw = (post.get(field) or "").strip() or "{}"
    try:
        return json.loads(raw)
    except json.JSONDecodeError as exc:
        raise Invalid(f"'{field}' is not valid JSON: {exc.msg} (line {exc.lineno}).", details={field: ["Not JSON."]}) from None


def _int_field(post, field: str) -> int:
    try:
        return int(post.get(field, ""))
    except ValueError:
        raise Invalid(f"'{field}' must be a whole number.", details={field: ["Not a whole number."]}) from None


@role_required
@require_POST
def retraining_policy_save(request, name):
    model = or_404(selectors.model_get, name)
    post = request.POST
    try:
        fields = {
            "enabled": post.get("enabled") == "on", "start_shadow": post.get("start_shadow") == "on",
            "trainer": _json_field(post, "trainer"), "triggers": _json_field(post, "triggers"),
            "evaluation": _json_field(post, "evaluation"), "cooldown_hours": _int_field(post, "cooldown_hours"),
            "max_runs_per_day": _int_field(post, "max_runs_per_day"), "window_days": _int_field(post, "window_days"),
            "dataset_uri": post.get("dataset_uri", ""),
        }
        if post.get("owner"):
            fields["owner"] = post["owner"]
        retraining_policy_put(model=model, actor=request.user, **fields)
    except ServiceError as exc:
        return _page(request, name, form={**post.dict(), "enabled": post.get("enabled") == "on",
                                          "start_shadow": post.get("start_shadow") == "on"}, status=refuse(request, exc))
    messages.success(request, f"Retraining policy of {model.name} saved.")
    return redirect("retraining-model", name=name)


@role_required
@require_POST
def retraining_run_now(request, name):
    model = or_404(selectors.model_get, name)
    try:
        run = retraining_trigger(model=model, trigger=TriggerKind.MANUAL, actor=request.user,
                                 reason=request.POST.get("reason", ""), evidence={"requested_by": request.user.username})
    except ServiceError as exc:
        return _page(request, name, status=refuse(request, exc))
    messages.success(request, f"Run #{run.pk} started; the grid shows its steps as the worker runs them.")
    return redirect("retraining-run", run_id=run.pk)


@role_required
def retraining_run(request, run_id):
    run = or_404(selectors.run_get, run_id)
    steps = sorted(run.steps.all(), key=lambda s: s.position)
    return render(request, "retraining/run.html", {
        "run": run, "model": run.model, "steps": steps, "evaluation": run.evaluation,
        "chart": run.evaluation or None, "can_edit": user_can(request.user, MONITOR),
    })


@role_required
@require_POST
def retraining_run_action(request, run_id, action):
    service = {"retry": retraining_run_retry, "cancel": retraining_run_cancel}.get(action)
    if service is None:
        raise Http404("Unknown action.")
    try:
        service(actor=request.user, run_id=run_id)
    except ServiceError as exc:
        refuse(request, exc)
    else:
        messages.success(request, f"Run #{run_id}: {action} done.")
    return redirect("retraining-run", run_id=run_id)


@role_required
def replay_page(request, job_id):
    job = or_404(selectors.replay_get, job_id)
    return render(request, "retraining/replay.html", {"job": job, "model": job.model, "chart": job.result if job.status == "succeeded" else None})
