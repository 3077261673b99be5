"""Selectors behind the drift dashboard and the report page.

They only reshape what the drift reports already hold (every number comes from a
DriftReport row or the reference profile; nothing is recomputed here) into what the
templates list and what `static/js/drift_dashboard.js` draws.
"""

from registry import selectors as registry_selectors

from .drift import severity as severity_rules
from .models import DriftReport, MonitorPolicy, ReferenceProfile
from .policies import default_thresholds, monitor_policy_get

REPORTS_LISTED = 50  # rows in the dashboard's report table
REPORTS_CHARTED = 90  # succeeded reports on the time-series charts (about a quarter of daily runs)
STATISTICS = (  # (key, column heading) of every per-feature statistic, in the report page's order
    ("psi", "PSI"),
    ("ks_stat", "KS stat"),
    ("ks_pvalue", "KS p-value"),
    ("js", "JS distance"),
    ("wasserstein_std", "Wasserstein / std"),
    ("chi2_stat", "χ² stat"),
    ("chi2_pvalue", "χ² p-value"),
    ("null_share", "Null share"),
)
PERFORMANCE_METRICS = ("accuracy", "roc_auc", "f1", "rmse", "mae")


# --- Small shapers --------------------------------------------------------------------


def _number(value) -> str:
    return f"{value:.3g}" if isinstance(value, (int, float)) and not isinstance(value, bool) else str(value)


def statistic_text(value) -> str | None:
    """A statistic as the report table shows it: 4 decimals, or 3 significant digits in
    scientific notation when that would round a non-zero value (tiny p-values) to 0.0000."""
    if not isinstance(value, (int, float)) or isinstance(value, bool):
        return None
    if value != 0 and abs(value) < 5e-5:
        return f"{value:.2e}"
    return f"{value:.4f}"


def _bin_labels(edges: list, bins: int) -> list[str]:
    """Interval labels of a histogram's bins. The kernel's numeric bins are the inner
    edges with open outer bins (bins == len(edges) + 1): the first is "≤ e0", the last
    "> e_last". A closed histogram (bins == len(edges) - 1) gets "[a, b]" style labels."""
    e = [_number(x) for x in edges]
    if bins == len(edges) + 1:
        if not edges:
            return ["all"]
        inner = [f"({e[i - 1]}, {e[i]}]" for i in range(1, len(e))]
        return [f"≤ {e[0]}", *inner, f"> {e[-1]}"]
    if bins == len(edges) - 1:
        return [f"({e[i]}, {e[i + 1]}]" if i else f"[{e[i]}, {e[i + 1]}]" for i in range(bins)]
    return [f"bin {i + 1}" for i in range(bins)]


def histogram_chart(histogram: dict | None) -> dict | None:
    """One report histogram as bar-chart data: labels, reference and current shares."""
    if not isinstance(histogram, dict):
        return None
    reference, current = list(histogram.get("reference") or []), list(histogram.get("current") or [])
    if "categories" in histogram:
        labels, kind = [str(c) for c in histogram["categories"]], "categorical"
    else:
        labels, kind = _bin_labels(list(histogram.get("edges") or []), len(reference)), "numeric"
    if not labels or len(labels) != len(reference) or len(reference) != len(current):
        return None
    return {"kind": kind, "labels": labels, "reference": reference, "current": current}


def _feature_bar(row: dict, key_features: list[str]) -> dict:
    return {
        "feature": str(row.get("feature")),
        "kind": row.get("kind"),
        "psi": row.get("psi"),
        "severity": row.get("severity"),
        "key": row.get("feature") in key_features,
        "histogram": histogram_chart(row.get("histogram")),
    }


def report_chart(report: DriftReport, key_features: list[str]) -> dict:
    """The bar and histogram data of one report: PSI per feature (largest first) and each
    feature's reference-against-current histogram, plus the score distribution."""
    features = [_feature_bar(row, key_features) for row in (report.features or []) if isinstance(row, dict)]
    features.sort(key=lambda f: -(f["psi"] if isinstance(f["psi"], (int, float)) else -1.0))
    prediction = report.prediction if isinstance(report.prediction, dict) else None
    return {
        "id": report.pk,
        "window": _window_label(report),
        "features": features,
        "prediction": {
            "psi": prediction.get("psi"),
            "severity": prediction.get("severity"),
            "histogram": histogram_chart(prediction.get("histogram")),
        }
        if prediction
        else None,
    }


def _window_label(report: DriftReport) -> str:
    fmt = "%Y-%m-%d %H:%M"
    if report.window_start and report.window_end:
        return f"{report.window_start:{fmt}} – {report.window_end:{fmt}} UTC"
    return ""


def _metric(section, name):
    value = section.get(name) if isinstance(section, dict) else None
    return value if isinstance(value, (int, float)) and not isinstance(value, bool) else None


def _performance_metric(reports: list[DriftReport]) -> str | None:
    """Accuracy when the reports know it (classifiers), else the first metric they carry."""
    seen = set()
    for r in reports:
        perf = r.performance if isinstance(r.performance, dict) else {}
        for section in ("reference", "realised", "estimated"):
            if isinstance(perf.get(section), dict):
                seen.update(k for k, v in perf[section].items() if v is not None)
    return next((m for m in PERFORMANCE_METRICS if m in seen), None)


def _time_of(report: DriftReport) -> str:
    return (report.window_end or report.created_at).isoformat()


def _floor(metric: str, reference, thresholds: dict) -> float | None:
    """Where the policy calls the metric degraded (the rule of drift_jobs.performance_of):
    reference - <metric>_drop for scores, reference * (1 + <metric>_rise) for errors."""
    drop, rise = thresholds.get(f"{metric}_drop"), thresholds.get(f"{metric}_rise")
    if not isinstance(reference, (int, float)):
        return None
    if isinstance(drop, (int, float)):
        return reference - drop
    if isinstance(rise, (int, float)):
        return reference * (1 + rise)
    return None


def history_charts(reports: list[DriftReport], *, key_features: list[str], thresholds: dict) -> dict:
    """PSI per feature and performance over the succeeded reports, oldest first."""
    times = [_time_of(r) for r in reports]
    names: list[str] = []
    for r in reports:
        for row in r.features or []:
            if isinstance(row, dict) and row.get("feature") not in names:
                names.append(row.get("feature"))
    ordered = [n for n in key_features if n in names] + [n for n in names if n not in key_features]
    by_report = [
        {row.get("feature"): row.get("psi") for row in (r.features or []) if isinstance(row, dict)} for r in reports
    ]
    series = [
        {"feature": str(name), "key": name in key_features, "psi": [psi.get(name) for psi in by_report]}
        for name in ordered
    ]

    metric = _performance_metric(reports)
    performance = None
    if metric:
        perf = [r.performance if isinstance(r.performance, dict) else {} for r in reports]
        reference = next(
            (
                _metric(p.get("reference"), metric)
                for p in reversed(perf)
                if _metric(p.get("reference"), metric) is not None
            ),
            None,
        )
        performance = {
            "metric": metric,
            "realised": [_metric(p.get("realised"), metric) for p in perf],
            "estimated": [_metric(p.get("estimated"), metric) for p in perf],
            "labelled_rows": [p.get("labelled_rows") for p in perf],
            "reference": reference,
            "floor": _floor(metric, reference, thresholds),
        }
    return {"times": times, "report_ids": [r.pk for r in reports], "psi": series, "performance": performance}


# --- The pages ------------------------------------------------------------------------


def _policy_summary(model) -> dict:
    """The model's monitor policy as the page shows it. An existing policy is read through
    monitor_policy_get (which adopts schedule edits made in the admin); a model nobody set
    up gets the defaults shown, and a page view does not create a policy or a schedule."""
    if MonitorPolicy.objects.filter(model=model).exists():
        policy = monitor_policy_get(model)
        summary = {
            "saved": True,
            "enabled": policy.enabled,
            "schedule": policy.schedule,
            "sample_size": policy.sample_size,
            "window_hours": policy.window_hours,
            "thresholds": {**default_thresholds(), **(policy.thresholds or {})},
            "key_features": [str(f) for f in policy.key_features or []],
            "periodic_task_id": policy.periodic_task_id,
        }
    else:
        summary = {
            "saved": False,
            "enabled": None,
            "schedule": None,
            "sample_size": None,
            "window_hours": None,
            "thresholds": default_thresholds(),
            "key_features": [],
            "periodic_task_id": None,
        }
    summary["threshold_pairs"] = sorted(summary["thresholds"].items())
    summary["other_thresholds"] = sorted(
        (k, v) for k, v in summary["thresholds"].items() if k not in ("psi_moderate", "psi_major")
    )
    return summary


def _reference_of(version):
    return ReferenceProfile.objects.filter(version=version).first() if version is not None else None


def drift_dashboard(model) -> dict:
    """Everything the dashboard page shows for one model."""
    policy = _policy_summary(model)
    thresholds, key_features = policy["thresholds"], policy["key_features"]
    reports = list(
        DriftReport.objects.filter(model=model)
        .select_related("version", "requested_by")
        .order_by("-created_at", "-id")[:REPORTS_LISTED]
    )
    succeeded = list(
        DriftReport.objects.filter(model=model, status=DriftReport.Status.SUCCEEDED)
        .select_related("version")
        .order_by("-created_at", "-id")[:REPORTS_CHARTED]
    )[::-1]
    latest = succeeded[-1] if succeeded else None
    # The version the next run compares: Production's (a newly promoted one may lack a reference).
    version = registry_selectors.production_version(model) or (latest.version if latest else None)
    chart = {
        "model": model.name,
        "thresholds": {k: thresholds.get(k) for k in ("psi_moderate", "psi_major")},
        "key_features": key_features,
        "report": report_chart(latest, key_features) if latest else None,
        "history": history_charts(succeeded, key_features=key_features, thresholds=thresholds),
    }
    return {
        "model": model,
        "version": version,
        "reference": _reference_of(version),
        "policy": policy,
        "reports": [_report_row(r) for r in reports],
        "latest": latest,
        "chart": chart,
    }


def _report_row(report: DriftReport) -> dict:
    return {
        "report": report,
        "drifted": [str(f) for f in (report.drifted_features or [])],
    }


def drift_report_page(model, report_id: int) -> dict | None:
    """One report with every statistic per feature, or None when the model has no such report."""
    report = DriftReport.objects.filter(model=model, pk=report_id).select_related("version", "requested_by").first()
    if report is None:
        return None
    policy = _policy_summary(model)
    rows = []
    for row in report.features or []:
        if isinstance(row, dict):
            rows.append(
                {
                    "feature": str(row.get("feature")),
                    "kind": row.get("kind"),
                    "severity": row.get("severity"),
                    "values": [statistic_text(row.get(k)) for k, _ in STATISTICS],
                }
            )
    prediction = report.prediction if isinstance(report.prediction, dict) else None
    prediction_row = (
        {
            "feature": "prediction (score)",
            "kind": prediction.get("kind"),
            "severity": prediction.get("severity"),
            "values": [statistic_text(prediction.get(k)) for k, _ in STATISTICS],
        }
        if prediction
        else None
    )
    perf = report.performance if isinstance(report.performance, dict) else {}
    metrics = [
        {
            "name": m,
            "reference": _metric(perf.get("reference"), m),
            "realised": _metric(perf.get("realised"), m),
            "estimated": _metric(perf.get("estimated"), m),
        }
        for m in PERFORMANCE_METRICS
        if any(_metric(perf.get(s), m) is not None for s in ("reference", "realised", "estimated"))
    ]
    return {
        "report": report,
        "statistics": [label for _, label in STATISTICS],
        "rows": rows,
        "prediction_row": prediction_row,
        "performance": {
            "metrics": metrics,
            "labelled_rows": perf.get("labelled_rows"),
            "below_floor": perf.get("below_floor") or [],
        },
        "drifted": [str(f) for f in (report.drifted_features or [])],
        "policy": policy,
        "severity_rule": severity_rule_text(),
        "severity_rule_parts": severity_rule_parts(severity_rule_text()),
        "chart": {
            "model": model.name,
            "thresholds": {k: policy["thresholds"].get(k) for k in ("psi_moderate", "psi_major")},
            "key_features": policy["key_features"],
            "report": report_chart(report, policy["key_features"])
            if report.status == DriftReport.Status.SUCCEEDED
            else None,
            "history": None,
        },
    }


def severity_rule_text() -> str:
    """The severity rule in plain words, as the kernel documents it (one place)."""
    for name in ("SEVERITY_RULE", "RULE_TEXT", "RULE"):
        text = getattr(severity_rules, name, None)
        if isinstance(text, str) and text.strip():
            return text.strip()
    return (severity_rules.__doc__ or "").strip()


def severity_rule_parts(text: str) -> dict:
    """The rule's text as the page shows it: the paragraphs before the numbered steps, the
    steps (each with its "- " sub-items) as lists, and the explanations after them; wrapped
    lines joined, so nothing reads like a wrapped docstring."""
    import re

    paragraphs = [p for p in re.split(r"\n\s*\n", text.strip()) if p.strip()]
    intro, steps, notes = [], [], []
    for paragraph in paragraphs:
        lines = [line.strip() for line in paragraph.splitlines() if line.strip()]
        if not re.match(r"\d+\.\s", lines[0]):
            (notes if steps else intro).append(" ".join(lines))
            continue
        for line in lines:
            if re.match(r"\d+\.\s", line):
                steps.append({"text": re.sub(r"^\d+\.\s+", "", line), "items": []})
            elif line.startswith("- "):
                steps[-1]["items"].append(line[2:])
            elif steps[-1]["items"]:
                steps[-1]["items"][-1] += " " + line
            else:
                steps[-1]["text"] += " " + line
    return {"intro": intro, "steps": steps, "notes": notes}
