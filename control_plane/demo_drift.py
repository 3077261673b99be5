"""Drift demo data: so every chart of the drift dashboard has data on the first `make run`.

For the Production version of churn-predictor it
1. profiles generated reference data through the real service (CSV bytes, scored by the
   version's own model, with a label column);
2. logs `days` days of traffic (a few hundred rows a day) in the prediction log, scored by
   the real model, with ground truth for part of the rows, and drift that grows day by day in
   two features: `last_login_days` stretches (customers log in less often) and the share of the
   "team" plan grows; the relation between features and churn gets noisier, so accuracy drops;
3. runs one drift report per day window, synchronously, through drift_report_start and
   drift_report_execute.
Deterministic (fixed seeds; only the timestamps follow the clock) and idempotent: a model
that already has drift reports is left alone.
"""

from datetime import UTC, datetime, timedelta

DEMO_MODEL = "churn-predictor"
KEY_FEATURES = ["last_login_days", "support_tickets"]
REFERENCE_SEED = 101
TRAFFIC_SEED = 202
REQUEST_PREFIX = "demo-drift-"


def _labels(frame, rng, noise: float):
    """Churn as demo_models.churn_frame draws it, with the noise as a parameter."""
    risk = 0.4 * frame["support_tickets"] - 0.05 * frame["tenure_months"] + 0.02 * frame["last_login_days"].fillna(30)
    return (risk + rng.normal(0, noise, len(frame)) > 0).astype(int)


def reference_csv(rows: int = 2000) -> bytes:
    """The reference data: the training distribution, with its label column."""
    from .demo_models import churn_frame

    frame, churned = churn_frame(rows, REFERENCE_SEED)
    frame["label"] = churned
    return frame.to_csv(index=False).encode()


def traffic_frame(rows: int, day: int, days: int):
    """One day of traffic; drift grows linearly from none on day 0 to full on the last day."""
    import numpy as np

    from .demo_models import churn_frame

    strength = day / max(days - 1, 1)
    frame, _ = churn_frame(rows, TRAFFIC_SEED + day)
    rng = np.random.default_rng(TRAFFIC_SEED * 1000 + day)
    frame["last_login_days"] = frame["last_login_days"] * (1 + 1.5 * strength)
    frame.loc[rng.random(rows) < 0.2 * strength, "plan"] = "team"
    return frame, _labels(frame, rng, noise=0.5 + 0.6 * strength)


def _rows(frame) -> list[dict]:
    """JSON-ready feature dicts (NaN as null), as serving logs them."""
    import math

    records = frame.to_dict(orient="records")
    return [
        {
            k: (None if isinstance(v, float) and math.isnan(v) else v.item() if hasattr(v, "item") else v)
            for k, v in r.items()
        }
        for r in records
    ]


def seed_drift_demo(
    *,
    actor,
    days: int = 7,
    rows_per_day: int = 800,
    reference_rows: int = 2000,
    labelled_share: float = 0.6,
    now: datetime | None = None,
) -> list:
    """Reference, traffic and one report per day for churn-predictor's Production version;
    returns the reports made ([] when the model has reports already or nothing in Production)."""
    import numpy as np

    from monitoring.drift_jobs import drift_report_execute, drift_report_start
    from monitoring.models import DriftReport, PredictionLog, ReferenceProfile
    from monitoring.policies import monitor_policy_update
    from monitoring.reference import reference_profile_create
    from registry import selectors
    from registry.model_loading import load_version
    from registry.models import RegisteredModel
    from serving.scoring import score

    model = RegisteredModel.objects.filter(name=DEMO_MODEL).first()
    version = selectors.production_version(model) if model else None
    if version is None or DriftReport.objects.filter(model=model).exists():
        return []
    if not ReferenceProfile.objects.filter(version=version).exists():
        reference_profile_create(
            version=version, actor=actor, data=reference_csv(reference_rows), filename="churn-reference.csv"
        )
    monitor_policy_update(model=model, actor=actor, key_features=KEY_FEATURES)

    end = (now or datetime.now(UTC)).replace(minute=0, second=0, microsecond=0)
    starts = [end - timedelta(days=days - day) for day in range(days)]
    loaded = load_version(version)
    rng = np.random.default_rng(TRAFFIC_SEED)
    PredictionLog.objects.filter(model_name=DEMO_MODEL, request_id__startswith=REQUEST_PREFIX).delete()
    days_data = [traffic_frame(rows_per_day, day, days) for day in range(days)]
    rows = [row for frame, _ in days_data for row in _rows(frame)]
    predictions = score(loaded, rows, version.input_schema)  # one call: the model is scored once
    logs = []
    for day, (start, (_, labels)) in enumerate(zip(starts, days_data)):
        offsets = np.sort(rng.uniform(0, 86_400, rows_per_day))
        labelled = rng.random(rows_per_day) < labelled_share
        for i in range(rows_per_day):
            ts = start + timedelta(seconds=float(offsets[i]))
            logs.append(
                PredictionLog(
                    model_name=DEMO_MODEL,
                    model_version=version.version,
                    variant="champion",
                    request_id=f"{REQUEST_PREFIX}{day}-{i:05d}",
                    ts=ts,
                    features=rows[day * rows_per_day + i],
                    prediction=predictions[day * rows_per_day + i],
                    latency_ms=round(float(rng.gamma(4.0, 1.2)), 2),
                    ground_truth=int(labels.iat[i]) if labelled[i] else None,
                    ground_truth_at=ts + timedelta(hours=6) if labelled[i] else None,
                )
            )
    PredictionLog.objects.bulk_create(logs, batch_size=2000)

    reports = []
    for start in starts:
        report = drift_report_start(
            model=model,
            since=start,
            until=start + timedelta(days=1),
            trigger="schedule",
            version=version,
            enqueue=False,
        )
        reports.append(drift_report_execute(report_id=report.pk))
    return reports
