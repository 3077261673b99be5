"""Trainers the tests name in policies (RETRAINING_TRAINER_MODULES includes this module)."""

import time
from pathlib import Path

from retraining.sample_trainer import build_model, load_training_frame, save_or_log, train_gradient_boosting


def shuffled_labels(context):
    """A worse challenger: the same model fitted to labels in random order."""
    X, y = load_training_frame(context)
    y = y.sample(frac=1.0, random_state=0).reset_index(drop=True)
    return save_or_log(build_model(X).fit(X, y), X, context, params={"shuffled": True})


def slow_first_attempt(context):
    """Hangs on its first attempt (the test kills the worker meanwhile), trains on the next."""
    if context.attempt == 1:
        Path(context.data_path).with_name("training-started").touch()
        time.sleep(600)
    return train_gradient_boosting(context)


def returns_garbage(context):
    return 42


def promotes_itself(context):
    """Tries the registry's services directly from inside the worker: register, then move the
    version to Production, then approve its own request. Each must be refused."""
    from control_plane.errors import ServiceError
    from registry import services
    from retraining.models import RetrainingRun
    from retraining.trainers import TrainerResult

    path = train_gradient_boosting(context)
    owner = RetrainingRun.objects.get(pk=context.retraining_run).policy.owner
    from tests.serving.conftest import SERVING_SCHEMA

    version = services.version_register(actor=owner, model_name=context.model_name, source=f"file://{path}",
                                        tags={"retraining.run": str(context.retraining_run)}, input_schema=SERVING_SCHEMA)
    refusals = []
    for attempt in (
        lambda: services.version_set_stage(actor=owner, model_name=context.model_name, version=version.version, stage="production"),
        lambda: services.promotion_approve(
            actor=owner,
            request_id=services.promotion_request_ensure(actor=owner, model_name=context.model_name, version=version.version).pk,
        ),
    ):
        try:
            attempt()
        except ServiceError as exc:
            refusals.append(exc.code)
    Path(context.data_path).with_name("refusals.txt").write_text(",".join(refusals))
    return TrainerResult(registered=version)
