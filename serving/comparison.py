"""Champion versus challenger: what each variant of a model's deployment answered, side
by side. Counts, error rates, latency percentiles, paired agreement (shadow only: a
shadow row shares its request id with the champion's), score histograms and the canary
timeline. Reads at most MAX_ROWS of the latest rows per variant."""

from datetime import datetime

import numpy as np

from control_plane.errors import NotFound
from control_plane.models import Event
from monitoring.models import PredictionLog
from registry import selectors as registry_selectors

from .models import Deployment
from .selectors import score_of

MAX_ROWS = 50_000
MAX_EVENTS = 1_000
BINS = 20


def deployment_for(model_name: str) -> Deployment:
    """The model's live deployment, else its latest one. NotFound when it has none."""
    model = registry_selectors.model_get(model_name)
    qs = Deployment.objects.filter(model=model).select_related("model", "champion", "challenger")
    deployment = qs.filter(state__in=Deployment.LIVE_STATES).first() or qs.first()
    if deployment is None:
        raise NotFound(f"Model '{model.name}' has no deployment.", code="no_deployment")
    return deployment


def _rows(deployment: Deployment, variant: str, since: datetime) -> list[tuple]:
    qs = (
        PredictionLog.objects.filter(
            model_name=deployment.model.name, deployment_id=deployment.pk, variant=variant, ts__gte=since
        )
        .order_by("-ts", "-id")
        .values_list("request_id", "latency_ms", "prediction", "extra")
    )
    return list(qs[:MAX_ROWS])


def _label_of(prediction):
    if isinstance(prediction, dict) and "label" in prediction:
        return True, prediction["label"]
    return False, None


def _round(value, digits=6):
    return None if value is None else round(float(value), digits)


def _variant(name: str, version, rows: list[tuple]) -> dict:
    latencies = np.asarray([r[1] for r in rows], dtype=float)
    errors, scores, answers = 0, [], {}
    for request_id, _latency, prediction, extra in rows:
        if extra and extra.get("error"):
            errors += 1
            continue
        score = score_of(prediction)
        if score is not None:
            scores.append(score)
        answers[request_id] = (prediction, score)
    n = len(rows)
    pct = (lambda q: _round(np.percentile(latencies, q), 3)) if n else (lambda q: None)
    score_arr = np.asarray(scores, dtype=float)
    return {
        "stats": {
            "variant": name,
            "version": version,
            "requests": n,
            "errors": errors,
            "error_rate": _round(errors / n) if n else None,
            "latency_p50_ms": pct(50),
            "latency_p95_ms": pct(95),
            "latency_p99_ms": pct(99),
            "scored": len(scores),
            "mean_score": _round(score_arr.mean()) if len(score_arr) else None,
        },
        "scores": score_arr,
        "answers": answers,
    }


def _histograms(champion: np.ndarray, challenger: np.ndarray) -> dict:
    both = np.concatenate([champion, challenger])
    if not len(both):
        return {"kind": "empty", "edges": [], "champion": [], "challenger": []}
    if both.min() >= 0.0 and both.max() <= 1.0:
        kind, edges = "probability", np.linspace(0.0, 1.0, BINS + 1)
    else:
        kind, edges = "value", np.histogram_bin_edges(both, bins=BINS)
    return {
        "kind": kind,
        "edges": [_round(e) for e in edges],
        "champion": np.histogram(champion, bins=edges)[0].astype(int).tolist(),
        "challenger": np.histogram(challenger, bins=edges)[0].astype(int).tolist(),
    }


def _paired(strategy: str, champion: dict, challenger: dict) -> dict:
    if strategy != Deployment.Strategy.SHADOW:
        return {
            "available": False,
            "reason": "Only a shadow deployment scores the same requests with both versions.",
            "pairs": 0,
            "kind": None,
            "agreement_rate": None,
            "mean_abs_score_diff": None,
        }
    common = champion.keys() & challenger.keys()
    same, labelled, diffs = 0, 0, []
    for request_id in common:
        (a, a_score), (b, b_score) = champion[request_id], challenger[request_id]
        a_has, a_label = _label_of(a)
        b_has, b_label = _label_of(b)
        if a_has and b_has:
            labelled += 1
            same += a_label == b_label
        if a_score is not None and b_score is not None:
            diffs.append(abs(a_score - b_score))
    kind = "classifier" if labelled else ("regressor" if diffs else None)
    return {
        "available": True,
        "reason": "",
        "pairs": len(common),
        "kind": kind,
        "agreement_rate": _round(same / labelled) if labelled else None,
        "mean_abs_score_diff": _round(np.mean(diffs)) if diffs else None,
    }


def _timeline(deployment: Deployment) -> dict:
    analyses = [
        {
            "step": a.step,
            "weight": a.challenger_weight,
            "decision": a.decision,
            "failed_metric": a.failed_metric,
            "metrics": a.metrics,
            "created_at": a.created_at,
        }
        for a in deployment.analyses.all()[:MAX_EVENTS]
    ]
    events = list(
        Event.objects.filter(
            model_name=deployment.model.name, type__startswith="deployment.", payload__deployment=deployment.pk
        ).order_by("-id")[:MAX_EVENTS]
    )
    events.reverse()
    weights = [{"at": deployment.created_at, "weight": 0, "event": "created"}]
    for e in events:
        payload = e.payload if isinstance(e.payload, dict) else {}
        weight = payload.get("weight", payload.get("challenger_weight"))
        if e.type == "deployment.rolled_back":
            weight = 0
        if isinstance(weight, int) and not isinstance(weight, bool):
            weights.append({"at": e.created_at, "weight": weight, "event": e.type})
    end = deployment.ended_at or deployment.updated_at
    if end and end >= weights[-1]["at"]:
        weights.append({"at": end, "weight": deployment.challenger_weight, "event": "current"})
    return {
        "weights": weights,
        "analyses": analyses,
        "events": [{"id": e.pk, "type": e.type, "created_at": e.created_at, "payload": e.payload} for e in events],
    }


def comparison(model_name: str, since: datetime | None = None) -> dict:
    deployment = deployment_for(model_name)
    since = since or deployment.created_at
    other = "shadow" if deployment.strategy == Deployment.Strategy.SHADOW else "challenger"
    champ = _variant("champion", deployment.champion.version if deployment.champion_id else None,
                     _rows(deployment, "champion", since))
    chall = _variant(other, deployment.challenger.version if deployment.challenger_id else None,
                     _rows(deployment, other, since))
    return {
        "model": deployment.model.name,
        "deployment": deployment,
        "since": since,
        "max_rows": MAX_ROWS,
        "champion": champ["stats"],
        "challenger": chall["stats"],
        "paired": _paired(deployment.strategy, champ["answers"], chall["answers"]),
        "histograms": _histograms(champ["scores"], chall["scores"]),
        "timeline": _timeline(deployment),
    }
