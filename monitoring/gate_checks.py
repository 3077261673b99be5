"""Monitoring's evidence for the release gate: "drift detection scheduled" passes when the
model has an enabled monitor policy whose beat schedule is enabled, and a drift run of it has
succeeded. A model that is neither monitored (no policy, no reference profile) nor served here
(no deployment, no logged prediction) has no traffic to watch: not_available, as serving's
checks answer for such a model, so that registering and promoting a model this control plane
never serves is not blocked."""

from urllib.parse import quote

from registry.gate import FAIL, NOT_AVAILABLE, PASS, CheckResult, provide_check

from .models import DriftReport, MonitorPolicy, PredictionLog, ReferenceProfile


def _crontab_text(policy: MonitorPolicy) -> str:
    crontab = policy.periodic_task.crontab if policy.periodic_task else None
    if crontab is None:
        return policy.schedule
    return " ".join(
        str(x) for x in (crontab.minute, crontab.hour, crontab.day_of_month, crontab.month_of_year, crontab.day_of_week)
    )


def _watched_here(model) -> bool:
    from serving.models import Deployment

    return (
        ReferenceProfile.objects.filter(version__model=model).exists()
        or Deployment.objects.filter(model=model).exists()
        or PredictionLog.objects.filter(model_name=model.name).exists()
    )


def check_drift_detection_scheduled(version) -> CheckResult:
    model = version.model
    policy = MonitorPolicy.objects.select_related("periodic_task__crontab").filter(model=model).first()
    if policy is None:
        if not _watched_here(model):
            return CheckResult(NOT_AVAILABLE, f"{model.name} is neither served nor monitored by this control plane.")
        return CheckResult(
            FAIL,
            f"No monitor policy for {model.name}: upload a reference profile for its versions "
            f"(POST /api/v1/models/{quote(model.name, safe='')}/versions/<v>/reference/) or set one with PUT /monitor/.",
        )
    if not policy.enabled:
        return CheckResult(FAIL, f"The monitor policy of {model.name} is disabled: no scheduled drift runs.")
    if policy.periodic_task is None or not policy.periodic_task.enabled:
        return CheckResult(FAIL, f"The beat schedule of {model.name}'s monitor policy is missing or disabled.")
    schedule = _crontab_text(policy)
    last = DriftReport.objects.filter(model=model, status=DriftReport.Status.SUCCEEDED).order_by("-finished_at").first()
    if last is None:
        failed = DriftReport.objects.filter(model=model, status=DriftReport.Status.FAILED).first()
        why = f" The latest run (#{failed.pk}) failed: {failed.error}" if failed else ""
        return CheckResult(FAIL, f"Drift runs scheduled '{schedule}' (UTC), but none has succeeded yet.{why}")
    on = f" on v{last.version.version}" if last.version else ""
    return CheckResult(
        PASS,
        f"Drift runs scheduled '{schedule}' (UTC), {policy.sample_size:,} rows of the last {policy.window_hours} h; "
        f"last successful run #{last.pk}{on} at {last.finished_at:%Y-%m-%d %H:%M} UTC: severity {last.severity}.",
    )


def register() -> None:
    provide_check("drift_detection_scheduled", check_drift_detection_scheduled)
