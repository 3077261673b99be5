"""/models/<name>/compare/?versions=3,2: versions side by side. Without a choice, the
Production version and the newest Staging one (or the two newest versions)."""

from django.conf import settings
from django.shortcuts import render

from control_plane.views import or_404, role_required

from . import selectors, stages
from .compare import VersionFacts, chart, metric_rows, param_rows, schema_rows

MAX_VERSIONS = 8


def _chosen(model, raw: str) -> tuple[list, list[int]]:
    all_versions = {v.version: v for v in selectors.version_list(model)}
    wanted = []
    for part in (raw or "").replace(" ", "").split(","):
        if part.isdigit() and int(part) in all_versions and int(part) not in wanted:
            wanted.append(int(part))
    if not wanted:
        production = selectors.production_version(model)
        staging = selectors.staging_versions(model)
        wanted = [v.version for v in ([production] if production else []) + list(staging)[:1]]
        if len(wanted) < 2:
            wanted = sorted(all_versions, reverse=True)[:2]
    return [all_versions[n] for n in wanted[:MAX_VERSIONS]], sorted(all_versions, reverse=True)


def _run_link(run_id: str) -> str:
    base = settings.MLFLOW_TRACKING_URI
    if not run_id or not base.startswith(("http://", "https://")):
        return ""
    return f"{base.rstrip('/')}/#/runs/{run_id}"


@role_required
def version_compare(request, name):
    model = or_404(selectors.model_get, name)
    versions, every = _chosen(model, request.GET.get("versions", ""))
    facts = [
        VersionFacts(
            version=v.version,
            stage=v.stage,
            metrics=v.metrics if isinstance(v.metrics, dict) else {},
            params=v.params if isinstance(v.params, dict) else {},
            input_schema=v.input_schema if isinstance(v.input_schema, list) else [],
            run_id=v.run_id,
            source=v.source,
        )
        for v in versions
    ]
    metrics = metric_rows(facts)
    stage_labels = dict(stages.STAGE_CHOICES)
    return render(
        request,
        "registry/compare.html",
        {
            "model": model,
            "versions": [
                {"mv": v, "stage_label": stage_labels.get(v.stage, v.stage), "run_link": _run_link(v.run_id)}
                for v in versions
            ],
            "chosen": [v.version for v in versions],
            "every": every,
            "metrics": metrics,
            "params": param_rows(facts),
            "schema": schema_rows(facts),
            "chart": chart(facts, metrics),
        },
    )
