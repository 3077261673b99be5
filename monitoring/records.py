"""The prediction-log record, as serving hands it over (the rule book's schema plus
variant and deployment). Plain data: no Django import, cheap to build on the hot path."""

from dataclasses import asdict, dataclass, field
from datetime import datetime


@dataclass(frozen=True)
class PredictionRecord:
    request_id: str
    model_name: str
    model_version: int
    variant: str  # champion, challenger, shadow, batch, stream
    timestamp: datetime  # timezone-aware UTC
    features: dict
    prediction: object  # label, value, or {"label": ..., "probability": ...}
    latency_ms: float
    deployment_id: int | None = None
    extra: dict = field(default_factory=dict)

    def as_dict(self) -> dict:
        data = asdict(self)
        data["timestamp"] = self.timestamp.isoformat()
        return data
