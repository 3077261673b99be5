"""Rollouts in words for the registry's pages and its approval: what an approved request's
canary did (started at 5 %, now at 20 %, completed, rolled back and why), which running
rollout an approval would replace, and a model's live rollout. Reads only."""

from django.urls import reverse

from control_plane.event_display import number_text
from control_plane.models import Event

from .models import CanaryAnalysis, Deployment

Strategy, State = Deployment.Strategy, Deployment.State
STRATEGY_WORDS = {"single": "single", "shadow": "shadow", "canary": "canary", "blue_green": "blue-green"}


def _url(deployment: Deployment) -> str:
    return reverse("deployment-comparison", args=[deployment.model.name])


def _step_text(d: Deployment) -> str:
    if d.strategy != Strategy.CANARY or d.current_step < 0:
        return ""
    return f"step {d.current_step + 1} of {len(d.steps)}"


def _why_ended(d: Deployment) -> str:
    """Why a rollout stopped: the failed analysis, else the person and reason journaled."""
    if d.state == State.ROLLED_BACK:
        failed = CanaryAnalysis.objects.filter(deployment=d, decision="fail").order_by("-id").first()
        if failed is not None:
            value = failed.metrics.get(failed.failed_metric) if isinstance(failed.metrics, dict) else None
            shown = f" = {number_text(value)}" if isinstance(value, (int, float)) else ""
            return (
                f"the analysis at {failed.challenger_weight} % failed on {failed.failed_metric.replace('_', ' ')}{shown}"
            )
    ended = (
        Event.objects.filter(payload__deployment=d.pk, type__in=["deployment.rollback", "deployment.abort"])
        .order_by("-id")
        .first()
    )
    if ended is None:
        return ""
    reason = (ended.payload or {}).get("reason") or ""
    who = f"by {ended.actor_name}" if ended.actor_name and ended.actor_name != "system" else ""
    return " ".join(x for x in (who, f"({reason.rstrip('.')})" if reason else "") if x)


def describe(d: Deployment) -> dict:
    """One deployment as the pages say it."""
    challenger = f"v{d.challenger.version}" if d.challenger_id else ""
    strategy = STRATEGY_WORDS.get(d.strategy, d.strategy)
    start = d.steps[0] if d.steps else d.challenger_weight
    if d.state in Deployment.LIVE_STATES:
        if d.strategy == Strategy.CANARY:
            text = f"Canary of {challenger} started at {start} %; now at {d.challenger_weight} % ({_step_text(d)})"
            text += ", paused." if d.state == State.PAUSED else "."
        elif d.strategy == Strategy.SINGLE:
            text = f"Serving Production v{d.champion.version} alone." if d.champion_id else "Serving nothing."
        else:
            text = f"{strategy.capitalize()} of {challenger}: {d.challenger_weight} % of traffic."
            if d.strategy == Strategy.BLUE_GREEN and d.promotion_request_id is not None:
                text += f" Approved: the cutover makes {challenger} Production."
    elif d.state == State.COMPLETED and d.strategy == Strategy.BLUE_GREEN:
        promoted = d.challenger and d.challenger.stage == "production"
        text = f"Blue-green of {challenger} cut over" + (
            f"; {challenger} became Production." if promoted else "; its traffic went back to the champion."
        )
    elif d.state == State.COMPLETED:
        promoted = d.promotion_request_id is not None and d.challenger and d.challenger.stage == "production"
        text = f"Canary of {challenger} passed every step ({', '.join(map(str, d.steps))} %)" + (
            f"; {challenger} became Production." if promoted else "; its traffic went back to the champion."
        )
    elif d.state == State.ROLLED_BACK:
        why = _why_ended(d)
        text = f"{strategy.capitalize()} of {challenger} rolled back to 0 %" + (f": {why}." if why else ".")
    elif d.state == State.ABORTED:
        why = _why_ended(d)
        text = f"{strategy.capitalize()} of {challenger} aborted" + (f" {why}." if why else ".")
    else:
        text = f"{strategy.capitalize()} of {challenger} was replaced by a newer deployment."
    return {
        "deployment": d.pk,
        "strategy": d.strategy,
        "state": d.state,
        "live": d.state in Deployment.LIVE_STATES,
        "from_request": d.promotion_request_id is not None,
        "weight": d.challenger_weight,
        "first_weight": start,
        "step": _step_text(d),
        "challenger_version": d.challenger.version if d.challenger_id else None,
        "text": text,
        "url": _url(d),
    }


def request_outcome(*, request) -> dict | None:
    """What approving `request` started, as it stands now; None when it started no rollout."""
    d = (
        Deployment.objects.filter(promotion_request_id=request.pk)
        .select_related("model", "champion", "challenger")
        .order_by("-id")
        .first()
    )
    return describe(d) if d is not None else None


def _live(model) -> Deployment | None:
    return (
        Deployment.objects.filter(model=model, state__in=Deployment.LIVE_STATES)
        .select_related("model", "champion", "challenger")
        .first()
    )


def running_rollout(*, model, version) -> dict | None:
    """The live rollout an approval of `version` would replace: any deployment sending
    traffic (or shadow copies) to a challenger, except a shadow of this same version, which
    is the path an approval is meant to follow, and a blue-green of it, which the approval
    joins (serving.rollouts.start_rollout: the cutover then makes it Production)."""
    d = _live(model)
    if d is None or d.strategy == Strategy.SINGLE:
        return None
    if d.strategy in (Strategy.SHADOW, Strategy.BLUE_GREEN) and d.challenger_id == version.pk:
        return None
    return describe(d)


def model_rollout(*, model) -> dict | None:
    """The model's live deployment, described; None when nothing is deployed."""
    d = _live(model)
    return describe(d) if d is not None else None
