"""The deployment page, /models/<name>/deployment/: champion against challenger, the canary's
analyses, and the controls the API offers, with the API's permissions (the services check
them): start a shadow, canary or blue-green for a Staging version, pause, resume, abort,
promote now, cut over, roll back. A model with no deployment gets an empty state that says
what serves and how to start. Every form answers with a redirect (post/redirect/get)."""

from django.contrib import messages
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from control_plane import roles
from control_plane.errors import Invalid, NotFound, ServiceError
from control_plane.views import _int_or_none, or_404, refuse, role_required
from registry import selectors as registry_selectors

from . import services
from .comparison import comparison
from .models import Deployment
from .rollout_status import describe
from .views import ComparisonTimelineOut

Strategy, State = Deployment.Strategy, Deployment.State
STRATEGY_LABELS = {
    Strategy.SHADOW: "Shadow: the challenger scores a copy of every request; users never see its answers",
    Strategy.CANARY: "Canary: the challenger answers a growing share of traffic, analysed at every step",
    Strategy.BLUE_GREEN: "Blue-green: both loaded; cut over all traffic at once, roll back at once",
    Strategy.SINGLE: "Single: the Production version serves alone (ends any rollout)",
}
ACTION_LABELS = {
    "pause": "Pause",
    "resume": "Resume",
    "promote": "Promote now",
    "cutover": "Cut over",
    "rollback": "Roll back",
    "abort": "Abort",
}


def _can_configure(user, strategy: str) -> bool:
    return any(roles.user_can(user, c) for c in services.CONFIGURE_CAPABILITIES[strategy])


def _actions(deployment: Deployment | None) -> list[str]:
    """The actions that apply to this deployment now (the service refuses the rest too)."""
    if deployment is None or deployment.state not in Deployment.LIVE_STATES:
        return []
    if deployment.strategy == Strategy.CANARY:
        live = ["pause"] if deployment.state == State.ACTIVE else ["resume"]
        promote = ["promote"] if deployment.promotion_request_id else []
        return live + promote + ["rollback", "abort"]
    if deployment.strategy == Strategy.BLUE_GREEN:
        # Cutover is the challenger's promotion: offered once an approved request joined it.
        cutover = ["cutover"] if deployment.promotion_request_id and deployment.challenger_weight < 100 else []
        return cutover + ["rollback", "abort"]
    if deployment.strategy == Strategy.SHADOW:
        return ["abort"]
    return []


def _steps(raw: str) -> list[int] | None:
    raw = (raw or "").strip()
    if not raw:
        return None
    try:
        return [int(part) for part in raw.replace("%", "").replace(" ", "").split(",") if part]
    except ValueError:
        raise Invalid(
            "Steps are whole percentages separated by commas, e.g. 5, 20, 50, 100.",
            details={"steps": ["Not a list of numbers."]},
        ) from None


def _page(request, name, *, status=200, posted=None):
    model = or_404(registry_selectors.model_get, name)
    user = request.user
    try:
        data = comparison(name)
    except NotFound:
        data = None
    deployment = data["deployment"] if data else None
    live = deployment if deployment is not None and deployment.state in Deployment.LIVE_STATES else None
    context = {
        "model": model,
        "production": registry_selectors.production_version(model),
        "staging": registry_selectors.staging_versions(model),
        "live": describe(live) if live else None,
        "strategies": [(s, label) for s, label in STRATEGY_LABELS.items() if _can_configure(user, s)],
        "actions": [(a, ACTION_LABELS[a]) for a in _actions(live)] if live and _can_configure(user, live.strategy) else [],
        "posted": posted or {},
    }
    if data is None:
        return render(request, "serving/deployment_empty.html", context, status=status)
    analyses = _group_waits(
        [
            {**a, "metric_pairs": sorted(a["metrics"].items()) if isinstance(a["metrics"], dict) else []}
            for a in data["timeline"]["analyses"]
        ]
    )
    chart = {
        "champion": data["champion"],
        "challenger": data["challenger"],
        "histograms": data["histograms"],
        "timeline": ComparisonTimelineOut(data["timeline"]).data,
    }
    context.update(
        {
            "c": data,
            "d": deployment,
            "variants": [data["champion"], data["challenger"]],
            "analyses": analyses,
            "events": data["timeline"]["events"][-50:][::-1],
            "chart": chart,
        }
    )
    return render(request, "serving/deployment.html", context, status=status)


@role_required
def deployment_page(request, name):
    return _page(request, name)


@role_required
@require_POST
def deployment_start(request, name):
    strategy = request.POST.get("strategy", "")
    try:
        deployment = services.deployment_configure(
            actor=request.user,
            model_name=name,
            strategy=strategy,
            challenger_version=_int_or_none(request.POST.get("challenger_version"), "challenger_version"),
            steps=_steps(request.POST.get("steps", "")) if strategy == Strategy.CANARY else None,
            step_seconds=_int_or_none(request.POST.get("step_seconds"), "step_seconds", low=10, high=86_400),
        )
    except ServiceError as exc:
        return _page(request, name, status=refuse(request, exc), posted=request.POST)
    messages.success(request, f"Deployment #{deployment.pk} started: {describe(deployment)['text']}")
    return redirect("deployment-comparison", name=name)


@role_required
@require_POST
def deployment_act(request, name, action):
    try:
        deployment = services.deployment_action(
            actor=request.user, model_name=name, action=action, reason=request.POST.get("reason", "")
        )
    except ServiceError as exc:
        return _page(request, name, status=refuse(request, exc), posted=request.POST)
    messages.success(request, f"{ACTION_LABELS.get(action, action)}: {describe(deployment)['text']}")
    return redirect("deployment-comparison", name=name)


def _group_waits(analyses: list[dict]) -> list[dict]:
    """Consecutive "wait" ticks fold into one entry ({"waits": [...]}) the page shows collapsed;
    decisions (pass, fail) stay rows of their own."""
    grouped: list[dict] = []
    for a in analyses:
        if a["decision"] == "wait":
            if grouped and "waits" in grouped[-1]:
                grouped[-1]["waits"].append(a)
            else:
                grouped.append({"waits": [a]})
        else:
            grouped.append(a)
    return grouped
