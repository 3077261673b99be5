"""Shadow demo data: churn-predictor's Staging v3 answers shadow traffic beside the champion,
so its pending promotion request has the evidence its release gate asks for (shadow run,
prediction logs; the rollback drill runs on the first look at the gate) and the demo has one
request an approver can approve with a clean gate.

Through the real services: the shadow deployment is configured by the contributor; the rows
are the last day's demo traffic scored by v3's own model, logged as serving logs shadow rows.
Idempotent: a model whose v3 already has shadow rows is left alone.
"""

from datetime import UTC, datetime, timedelta

from .demo_drift import DEMO_MODEL, _rows, traffic_frame

CHALLENGER = 3
REQUEST_PREFIX = "demo-shadow-"


def seed_shadow_demo(*, actor, rows: int = 600, now: datetime | None = None) -> int:
    """Configure v3 in shadow and log its answers; returns the rows logged (0 when done before)."""
    import numpy as np

    from monitoring.models import PredictionLog
    from registry.model_loading import load_version
    from registry.models import ModelVersion
    from registry.stages import STAGING
    from serving.scoring import score
    from serving.services import deployment_configure

    version = ModelVersion.objects.filter(model__name=DEMO_MODEL, version=CHALLENGER, stage=STAGING).first()
    if version is None or PredictionLog.objects.filter(model_name=DEMO_MODEL, variant="shadow").exists():
        return 0
    deployment = deployment_configure(
        actor=actor, model_name=DEMO_MODEL, strategy="shadow", challenger_version=CHALLENGER
    )
    frame, _ = traffic_frame(rows, 0, 7)
    features = _rows(frame)
    predictions = score(load_version(version), features, version.input_schema)
    end = (now or datetime.now(UTC)).replace(second=0, microsecond=0)
    rng = np.random.default_rng(303)
    offsets = np.sort(rng.uniform(0, 6 * 3600, rows))
    PredictionLog.objects.bulk_create(
        [
            PredictionLog(
                model_name=DEMO_MODEL,
                model_version=CHALLENGER,
                variant="shadow",
                deployment_id=deployment.pk,
                request_id=f"{REQUEST_PREFIX}{i:05d}",
                ts=end - timedelta(seconds=float(offsets[i])),
                features=features[i],
                prediction=predictions[i],
                latency_ms=round(float(rng.gamma(4.0, 1.3)), 2),
            )
            for i in range(rows)
        ],
        batch_size=2000,
    )
    return rows
