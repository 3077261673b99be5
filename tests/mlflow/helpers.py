"""Small helpers the MLflow-client tests share."""

import pytest
from mlflow.exceptions import MlflowException

from control_plane.models import Event

NAME = "churn-predictor"


def events_after(mark: int) -> list[tuple]:
    """Registry events since `mark` (tokens made on the way are left out)."""
    return list(
        Event.objects.filter(id__gt=mark)
        .exclude(type__startswith="token.")
        .order_by("id")
        .values_list("type", "model_name", "version", "actor_name")
    )


def last_event_id() -> int:
    return Event.objects.order_by("-id").values_list("id", flat=True).first() or 0


def error_of(call, *args, **kwargs) -> MlflowException:
    with pytest.raises(MlflowException) as caught:
        call(*args, **kwargs)
    return caught.value


def source_of(run) -> str:
    run_id, _ = run
    return f"runs:/{run_id}/model"
