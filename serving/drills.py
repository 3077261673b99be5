"""The rollback drill: load the version a rollback would restore (the current
Production one) and score a row built from its schema, without serving it."""

import time

from registry.model_loading import ModelLoadError, load_version
from registry.models import ModelVersion, RegisteredModel
from registry.schema import placeholder_row
from registry.stages import PRODUCTION

from .models import RollbackDrill
from .scoring import score

def rollback_drill(model: RegisteredModel) -> RollbackDrill | None:
    """Run the drill now; None when the model has no Production version to return to."""
    target = ModelVersion.objects.filter(model=model, stage=PRODUCTION).select_related("model").first()
    if target is None:
        return None
    started = time.perf_counter()
    try:
        prediction = score(load_version(target), [placeholder_row(target.input_schema)])
        ok, detail = True, f"v{target.version} loaded and scored a row built from its schema: {prediction[0]!r}."
    except ModelLoadError as exc:
        ok, detail = False, str(exc)
    except Exception as exc:  # scoring itself failed: that is what the drill is for
        ok, detail = False, f"v{target.version} loaded but failed to score: {type(exc).__name__}: {exc}"
    return RollbackDrill.objects.create(
        model=model, target=target, ok=ok, detail=detail, duration_ms=(time.perf_counter() - started) * 1000
    )
