"""Who trains: the three trainer kinds of a retraining policy.

- python: a function from an allow-listed module (RETRAINING_TRAINER_MODULES), called with a
  TrainingContext, returning an MLflow run id or a model URI (models:/..., runs:/..., or a
  local MLflow model folder under RETRAINING_MODEL_ROOTS).
- mlflow_project: `mlflow run <folder> -e <entry> --env-manager local -P ...` with the context's
  fields the MLproject declares as parameters (MLflow would pass undeclared ones on as flags); the project registers its model through MLflow against this control plane
  (MLFLOW_REGISTRY_URI and a token of the policy's owner, valid for this run only) with the
  tag retraining.run=<id>; a project that only logs a run is registered from its run id.
- external: a signed `retraining.requested` webhook (external.py), then a wait for a version
  tagged retraining.run=<id>, failing at the policy's deadline.
"""

import importlib
import os
import re
import subprocess
import sys
import time
from dataclasses import asdict, dataclass
from datetime import timedelta
from pathlib import Path

from django.conf import settings
from django.utils import timezone

from registry.models import ModelVersion

RUN_TAG, TRIGGER_TAG = "retraining.run", "retraining.trigger"
_RUN_ID = re.compile(r"^[0-9a-f]{32}$")
_MLFLOW_RUN_LINE = re.compile(r"Run \(ID '([0-9a-f]{32})'\) succeeded")


class TrainerError(Exception):
    """The trainer failed; the message says how (it becomes the step's error)."""


@dataclass(frozen=True)
class TrainingContext:
    model_name: str
    production_version: int | None
    production_source: str
    window_start: str
    window_end: str
    train_until: str
    data_path: str  # Parquet: the schema's feature columns, "label", "ts"
    label_column: str
    feature_columns: tuple[str, ...]
    dataset_uri: str
    tracking_uri: str
    run_name: str
    retraining_run: int
    attempt: int

    def as_parameters(self) -> dict[str, str]:
        values = asdict(self)
        values["feature_columns"] = ",".join(self.feature_columns)
        return {k: "" if v is None else str(v) for k, v in values.items()}


@dataclass(frozen=True)
class TrainerResult:
    """What a trainer produced: a source to register (model URI or run id), or a version
    already registered (tagged with the run)."""

    source: str = ""
    run_id: str = ""
    registered: ModelVersion | None = None
    log: str = ""


def _under(path: Path, roots) -> bool:
    resolved = path.resolve()
    return any(resolved == Path(r).resolve() or Path(r).resolve() in resolved.parents for r in roots)


def project_path_allowed(uri: str) -> bool:
    path = Path(uri[len("file://"):] if uri.startswith("file://") else uri)
    return path.is_absolute() and (path / "MLproject").is_file() and _under(path, settings.RETRAINING_PROJECT_ROOTS)


def local_model_path(source: str) -> Path | None:
    """A local MLflow model folder the server may read (under RETRAINING_MODEL_ROOTS)."""
    raw = source[len("file://"):] if source.startswith("file://") else source
    if not raw.startswith("/"):
        return None
    path = Path(raw)
    if not _under(path, settings.RETRAINING_MODEL_ROOTS):
        raise TrainerError(f"The trainer returned {source}, which is outside RETRAINING_MODEL_ROOTS.")
    if not (path / "MLmodel").is_file():
        raise TrainerError(f"The trainer returned {source}, which holds no MLmodel file.")
    return path


def _interpret(value) -> TrainerResult:
    if isinstance(value, TrainerResult):
        return value
    if not isinstance(value, str) or not value.strip():
        raise TrainerError(f"The trainer returned {value!r}; expected an MLflow run id or a model URI.")
    value = value.strip()
    if _RUN_ID.match(value):
        return TrainerResult(run_id=value)
    return TrainerResult(source=value)


def run_python(trainer: dict, context: TrainingContext) -> TrainerResult:
    dotted = trainer["callable"]
    module_name, function_name = dotted.rsplit(".", 1)
    if not any(module_name == m or module_name.startswith(m + ".") for m in settings.RETRAINING_TRAINER_MODULES):
        raise TrainerError(f"Module '{module_name}' is not in RETRAINING_TRAINER_MODULES.")
    try:
        function = getattr(importlib.import_module(module_name), function_name)
    except (ImportError, AttributeError) as exc:
        raise TrainerError(f"Cannot import trainer {dotted}: {exc}") from exc
    return _interpret(function(context))


def tagged_version(model_name: str, run_id: int) -> ModelVersion | None:
    return (
        ModelVersion.objects.filter(model__name=model_name, **{f"tags__{RUN_TAG}": str(run_id)})
        .select_related("model")
        .order_by("-version")
        .first()
    )


# The worker's own MLflow experiment or run (an operator's setting, or one left by
# mlflow.set_experiment in this process) must not leak into the project: `mlflow run` refuses
# an experiment id beside the experiment name given below.
_RUN_SCOPED_MLFLOW_VARIABLES = ("MLFLOW_EXPERIMENT_ID", "MLFLOW_RUN_ID")


def run_mlflow_project(trainer: dict, context: TrainingContext, *, token: str) -> TrainerResult:
    if not project_path_allowed(trainer["uri"]):
        raise TrainerError(f"{trainer['uri']} is not an MLproject folder under RETRAINING_PROJECT_ROOTS.")
    declared = _declared_parameters(Path(trainer["uri"].removeprefix("file://")), trainer.get("entry_point", "main"))
    offered = {k: v for k, v in context.as_parameters().items() if k in declared}  # MLflow passes extras on as flags
    parameters = {**offered, **trainer.get("parameters", {})}
    command = [sys.executable, "-m", "mlflow", "run", trainer["uri"], "-e", trainer.get("entry_point", "main"),
               "--env-manager", "local", "--run-name", context.run_name]
    for key, value in parameters.items():
        command += ["-P", f"{key}={value}"]
    inherited = {k: v for k, v in os.environ.items() if k not in _RUN_SCOPED_MLFLOW_VARIABLES}
    env = {
        **inherited,
        "PATH": os.pathsep.join([os.path.dirname(sys.executable), os.environ.get("PATH", "")]),  # the entry point's python
        "MLFLOW_TRACKING_URI": context.tracking_uri,
        "MLFLOW_REGISTRY_URI": settings.PUBLIC_BASE_URL,
        "MLFLOW_TRACKING_TOKEN": token,
        "MLFLOW_EXPERIMENT_NAME": f"retraining-{context.model_name}",
    }
    try:
        done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=settings.RETRAINING_PROJECT_TIMEOUT)
    except subprocess.TimeoutExpired as exc:
        raise TrainerError(f"`mlflow run` did not finish within {settings.RETRAINING_PROJECT_TIMEOUT} s.") from exc
    log = (done.stdout or "") + (done.stderr or "")
    if done.returncode != 0:
        raise TrainerError(f"`mlflow run` exited with {done.returncode}:\n{log[-4000:]}")
    registered = tagged_version(context.model_name, context.retraining_run)
    if registered is not None:
        return TrainerResult(registered=registered, log=log)
    found = _MLFLOW_RUN_LINE.search(log)
    if found is None:
        raise TrainerError("The project neither registered a version tagged retraining.run nor reported its run id.")
    return TrainerResult(run_id=found.group(1), log=log)


def _declared_parameters(folder: Path, entry_point: str) -> set[str]:
    import yaml

    try:
        spec = yaml.safe_load((folder / "MLproject").read_text()) or {}
        return set(((spec.get("entry_points") or {}).get(entry_point) or {}).get("parameters") or {})
    except (OSError, yaml.YAMLError, AttributeError) as exc:
        raise TrainerError(f"Cannot read {folder / 'MLproject'}: {exc}") from exc


def wait_for_version(model_name: str, run_id: int, *, deadline, poll_seconds: float) -> ModelVersion:
    while True:
        version = tagged_version(model_name, run_id)
        if version is not None:
            return version
        if timezone.now() >= deadline:
            raise TrainerError(
                f"No version of {model_name} tagged {RUN_TAG}={run_id} was registered by "
                f"{deadline:%Y-%m-%d %H:%M:%S} UTC (the external trainer's deadline)."
            )
        time.sleep(poll_seconds)


def run_external(trainer: dict, context: TrainingContext, *, first_started) -> TrainerResult:
    from .external import ExternalTrainerError, send_retraining_request

    registered = tagged_version(context.model_name, context.retraining_run)
    if registered is None:
        try:
            send_retraining_request(
                channel_name=trainer["channel"],
                msg_id=f"retraining-run-{context.retraining_run}",  # the same on a retry: receivers drop repeats
                payload={**context.as_parameters(), "tag": {RUN_TAG: str(context.retraining_run)}},
            )
        except ExternalTrainerError as exc:
            raise TrainerError(str(exc)) from exc
    deadline = first_started + timedelta(minutes=trainer["deadline_minutes"])
    version = wait_for_version(context.model_name, context.retraining_run, deadline=deadline,
                               poll_seconds=settings.RETRAINING_POLL_SECONDS)
    return TrainerResult(registered=version, log=f"Version {version.version} registered with {RUN_TAG}={context.retraining_run}.")
