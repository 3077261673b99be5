"""Reference profiles: a version's reference data (CSV or Parquet: an upload, a server path
under REFERENCE_DATA_ROOTS, or an artifact of the version's MLflow run) read once, profiled
with monitoring.drift.profile.profile_build and stored. Drift jobs never read the data again.

Feature kinds come from the version's input schema: double, float, integer and long are
numeric; string and boolean are categorical (binary and datetime columns are not profiled).
The file may carry a label column ("label" unless named) and a score column ("score" unless
named: the positive-class probability of a binary classifier, or a regressor's value). Without
a score column the version's own model scores the reference, so the score distribution, the
reference metrics and the calibration are the model's.
"""

import io
import math
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
from django.conf import settings
from django.contrib.auth.models import User
from django.db import transaction

from control_plane import local_files, roles
from control_plane.errors import Forbidden, Invalid
from control_plane.journal import event_append
from registry.mlflow_source import is_mlflow_source
from registry.model_loading import ModelLoadError, load_version
from registry.models import ModelVersion
from serving.validation import INTEGRAL

from .drift.profile import profile_build
from .models import ReferenceProfile
from .policies import monitor_policy_get

NUMERIC_TYPES = {"double", "float", "integer", "long"}
CATEGORICAL_TYPES = {"string", "boolean"}
PARQUET_SUFFIXES = (".parquet", ".pq")
CLASSIFIER, REGRESSOR = ReferenceProfile.Task.CLASSIFIER, ReferenceProfile.Task.REGRESSOR
_TRUE, _FALSE = {"true", "1", "1.0", "yes"}, {"false", "0", "0.0", "no"}


def feature_kinds(schema: list[dict]) -> dict[str, str]:
    kinds = {}
    for column in schema or []:
        if column["type"] in NUMERIC_TYPES:
            kinds[column["name"]] = "numeric"
        elif column["type"] in CATEGORICAL_TYPES:
            kinds[column["name"]] = "categorical"
    return kinds


def _is_null(value) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value)) or value is pd.NA or value is pd.NaT


def category_of(value, schema_type: str):
    """One categorical value as profiled and compared: a string, or None for null. Booleans
    are "true"/"false" whether they came from JSON, a CSV or Parquet."""
    if _is_null(value):
        return None
    if schema_type == "boolean":
        text = str(value).strip().lower()
        return "true" if text in _TRUE else "false" if text in _FALSE else text
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def label_key(value) -> str | None:
    """Labels compared as text, with 1, 1.0, "1" and True meaning the same class."""
    if _is_null(value):
        return None
    if isinstance(value, (bool, np.bool_)):
        return str(int(value))
    if isinstance(value, (float, np.floating)) and float(value).is_integer():
        return str(int(value))
    return str(value.item() if hasattr(value, "item") else value)


def json_safe(value):
    """NaN and infinities (which PostgreSQL's jsonb refuses) as null; numpy scalars as Python's."""
    if isinstance(value, dict):
        return {str(k): json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [json_safe(v) for v in value]
    if hasattr(value, "item") and not isinstance(value, (str, bytes)):
        value = value.item()
    if isinstance(value, float) and not np.isfinite(value):
        return None
    return value


def schema_ordered(profile: dict, schema: list[dict]) -> dict:
    """The profile with its features in the schema's order (jsonb does not keep key order)."""
    features = profile.get("features") or {}
    order = [c["name"] for c in schema or [] if c["name"] in features]
    order += [name for name in features if name not in order]
    return {**profile, "features": {name: features[name] for name in order}}


# --- Reading ---------------------------------------------------------------------------------


def reference_roots() -> list[Path]:
    return local_files.real_roots(settings.REFERENCE_DATA_ROOTS)


def _allowed_path(path: str) -> Path:
    resolved = local_files.under_roots(path, settings.REFERENCE_DATA_ROOTS)
    roots = reference_roots()
    if resolved is None:
        raise Invalid(
            f"'{path}' is not under a reference data folder ({', '.join(map(str, roots)) or 'none configured'}).",
            code="path_not_allowed",
            details={"path": ["Outside REFERENCE_DATA_ROOTS."]},
        )
    if not resolved.is_file():
        raise Invalid(
            f"'{path}' does not exist or is not a file.", code="path_not_found", details={"path": ["No such file."]}
        )
    return resolved


def _mlflow_artifact(version: ModelVersion, artifact: str, target: Path) -> Path:
    """Download one artifact of the version's MLflow run into `target`."""
    if not settings.MLFLOW_TRACKING_URI or not version.run_id or not is_mlflow_source(version.source):
        raise Invalid(
            f"v{version.version} has no MLflow run to read '{artifact}' from (source {version.source!r}, "
            f"tracking server {'set' if settings.MLFLOW_TRACKING_URI else 'not configured'}).",
            code="no_mlflow_source",
            details={"mlflow_artifact": ["The version has no MLflow source."]},
        )
    if Path(artifact).is_absolute() or ".." in Path(artifact).parts:
        raise Invalid(
            "'mlflow_artifact' must be a path inside the run's artifacts.", details={"mlflow_artifact": ["Bad path."]}
        )
    from mlflow.artifacts import download_artifacts
    from mlflow.exceptions import MlflowException

    try:
        local = download_artifacts(
            run_id=version.run_id,
            artifact_path=artifact,
            dst_path=str(target),
            tracking_uri=settings.MLFLOW_TRACKING_URI,
        )
    except (MlflowException, OSError) as exc:
        why = str(exc).split("\n")[0]
        raise Invalid(
            f"Artifact '{artifact}' of run {version.run_id} cannot be read: {why}",
            code="artifact_not_found",
            details={"mlflow_artifact": [why]},
        ) from None
    if not Path(local).is_file():
        raise Invalid(
            f"Artifact '{artifact}' is a folder; name a CSV or Parquet file.",
            details={"mlflow_artifact": ["Not a file."]},
        )
    return Path(local)


def _unreadable(name: str, why: str) -> Invalid:
    return Invalid(f"{name} cannot be read as CSV or Parquet: {why}", code="unreadable_file", details={"file": [why]})


def read_table(*, data: bytes | None = None, path: Path | None = None, name: str = "the file") -> pd.DataFrame:
    """A CSV or Parquet file as a DataFrame (Parquet by suffix or by its magic bytes)."""
    head = data[:4] if data is not None else path.open("rb").read(4)
    parquet = head == b"PAR1" or Path(name).suffix.lower() in PARQUET_SUFFIXES
    source = io.BytesIO(data) if data is not None else path
    try:
        if parquet:
            return pq.read_table(source).to_pandas()
        return pd.read_csv(source, low_memory=False)
    except pd.errors.EmptyDataError:
        raise Invalid(f"{name} is empty.", code="empty_file", details={"file": ["No rows."]}) from None
    except (pd.errors.ParserError, UnicodeDecodeError, ValueError, OSError, pa.ArrowException) as exc:
        raise _unreadable(name, str(exc).split("\n")[0]) from None


# --- Columns ---------------------------------------------------------------------------------


def _numeric(frame: pd.DataFrame, name: str) -> np.ndarray:
    raw = frame[name]
    if raw.dtype == bool:
        return raw.to_numpy(dtype=float)
    values = pd.to_numeric(raw, errors="coerce")
    bad = values.isna() & raw.notna()
    if bad.any():
        row = int(np.flatnonzero(bad.to_numpy())[0])
        raise Invalid(
            f"Column '{name}' must be numeric; row {row} holds {raw.iat[row]!r}.",
            code="bad_values",
            details={name: [f"Not a number at row {row}."]},
        )
    return values.to_numpy(dtype=float)


def columns_of(frame: pd.DataFrame, schema: list[dict]) -> dict[str, np.ndarray]:
    kinds = feature_kinds(schema)
    types = {c["name"]: c["type"] for c in schema}
    out = {}
    for name, kind in kinds.items():
        if kind == "numeric":
            out[name] = _numeric(frame, name)
        else:
            out[name] = np.array([category_of(v, types[name]) for v in frame[name].tolist()], dtype=object)
    return out


@dataclass
class Scores:
    values: np.ndarray | None
    task: str  # "" when there are no scores
    positive_label: object = None


def _model_scores(version: ModelVersion, frame: pd.DataFrame) -> Scores:
    try:
        loaded = load_version(version)
    except ModelLoadError as exc:
        raise Invalid(
            f"The reference has no score column and the version's model cannot score it: {exc}",
            code="cannot_score",
            details={"score_column": ["Give a score column, or make the model loadable."]},
        ) from None
    inputs = frame[[c["name"] for c in version.input_schema]].copy()
    try:
        for column in version.input_schema:
            if column["type"] in INTEGRAL:
                inputs[column["name"]] = inputs[column["name"]].astype("int64")
        if loaded.has_proba and hasattr(loaded.model, "classes_"):
            proba = np.asarray(loaded.predict_proba(inputs), dtype=float)
            classes = list(loaded.model.classes_)
            if len(classes) == 2:
                return Scores(proba[:, 1], CLASSIFIER, label_key(classes[1]))
            return Scores(proba.max(axis=1), CLASSIFIER, None)  # multiclass: the confidence
        return Scores(np.asarray(loaded.predict(inputs), dtype=float).ravel(), REGRESSOR)
    except Exception as exc:  # noqa: BLE001 - whatever the model raises, the caller gets a 422
        raise Invalid(
            f"The version's model could not score the reference: {type(exc).__name__}: {exc}",
            code="cannot_score",
            details={"file": [str(exc)[:500]]},
        ) from None


def _column_scores(frame: pd.DataFrame, column: str, labels: np.ndarray | None) -> Scores:
    values = _numeric(frame, column)
    finite = values[np.isfinite(values)]
    distinct = {v for v in labels if v is not None} if labels is not None else set()
    probability_like = finite.size > 0 and finite.min() >= 0 and finite.max() <= 1
    if probability_like and len(distinct) <= 2:
        return Scores(values, CLASSIFIER, _larger(distinct) if distinct else "1")
    return Scores(values, REGRESSOR)


def _larger(keys: set[str]) -> str:
    """The positive class of a binary label: the larger in sort order, as scikit-learn's classes_[1]."""
    try:
        return max(keys, key=float)
    except ValueError:
        return max(keys)


def _pick(frame: pd.DataFrame, given: str | None, default: str, field: str, features: set[str]) -> str:
    if given:
        if given not in frame.columns:
            raise Invalid(
                f"The file has no column '{given}'.", code="missing_columns", details={field: ["No such column."]}
            )
        return given
    return default if default in frame.columns and default not in features else ""


def profile_of(
    version: ModelVersion, frame: pd.DataFrame, *, label_column: str | None = None, score_column: str | None = None
) -> tuple[dict, Scores, str, str]:
    """(profile, scores, label column, score column) of a reference table."""
    schema = version.input_schema or []
    if not feature_kinds(schema):
        raise Invalid(
            f"v{version.version} has no numeric or categorical features in its input schema to profile.",
            code="schema_missing",
        )
    missing = [c["name"] for c in schema if c["name"] not in frame.columns]
    if missing:
        raise Invalid(
            f"The reference lacks the schema feature(s) {missing}.",
            code="missing_features",
            details={"file": [f"Missing column(s): {', '.join(missing)}."]},
        )
    if len(frame) == 0:
        raise Invalid("The reference has no rows.", code="empty_file", details={"file": ["No rows."]})
    columns = columns_of(frame, schema)  # first: a bad value is named before the model trips on it
    features = set(columns)
    label_name = _pick(frame, label_column, "label", "label_column", features)
    score_name = _pick(frame, score_column, "score", "score_column", features)
    labels = np.array([label_key(v) for v in frame[label_name].tolist()], dtype=object) if label_name else None
    scores = _column_scores(frame, score_name, labels) if score_name else _model_scores(version, frame)
    label_values = None  # multiclass: no reference metrics (the score is a confidence, not a class probability)
    if labels is not None and scores.task == CLASSIFIER and scores.positive_label is not None:
        label_values = np.array([np.nan if v is None else float(v == scores.positive_label) for v in labels])
    elif labels is not None and scores.task == REGRESSOR:
        label_values = pd.to_numeric(pd.Series(labels, dtype=object), errors="coerce").to_numpy(dtype=float)
    profile = profile_build(
        columns,
        feature_kinds(schema),
        scores=scores.values,
        labels=label_values,
        task=scores.task or None,
    )
    return profile, scores, label_name, score_name


# --- The service -----------------------------------------------------------------------------


def reference_profile_create(
    *,
    version: ModelVersion,
    actor: User,
    data: bytes | None = None,
    filename: str | None = None,
    path: str | None = None,
    mlflow_artifact: str | None = None,
    label_column: str | None = None,
    score_column: str | None = None,
) -> ReferenceProfile:
    """Profile a reference table and store it as the version's profile (replacing an older
    one). Exactly one of data (an upload), path or mlflow_artifact."""
    if not roles.user_can(actor, roles.REGISTER):
        raise Forbidden(roles.not_allowed(roles.REGISTER, actor), code="permission_denied")
    if sum(x is not None for x in (data, path, mlflow_artifact)) != 1:
        raise Invalid(
            "Give exactly one of an uploaded file, 'path' or 'mlflow_artifact'.", details={"file": ["One source."]}
        )
    with tempfile.TemporaryDirectory() as tmp:
        if data is not None:
            if not data:
                raise Invalid("The uploaded file is empty.", code="empty_file", details={"file": ["No bytes."]})
            frame, source = read_table(data=data, name=filename or "the upload"), f"upload:{filename or 'body'}"
        elif path is not None:
            frame, source = read_table(path=_allowed_path(path), name=path), f"path:{path}"
        else:
            local = _mlflow_artifact(version, mlflow_artifact, Path(tmp))
            frame, source = read_table(path=local, name=mlflow_artifact), f"mlflow:{mlflow_artifact}"
    profile, scores, label_name, score_name = profile_of(
        version, frame, label_column=label_column, score_column=score_column
    )
    with transaction.atomic():
        locked = ModelVersion.objects.select_for_update().select_related("model").get(pk=version.pk)
        ReferenceProfile.objects.filter(version=locked).delete()
        reference = ReferenceProfile.objects.create(
            version=locked,
            profile=json_safe(profile),
            n_rows=len(frame),
            source=source[:1100],
            task=scores.task,
            positive_label=scores.positive_label,
            label_column=label_name,
            score_column=score_name,
            created_by=actor,
        )
        monitor_policy_get(locked.model)  # monitoring starts with a reference: the policy exists from now on
        event_append(
            type="reference.uploaded",
            actor=actor,
            model_name=locked.model.name,
            version=locked.version,
            payload={
                "reference_profile": reference.pk,
                "n_rows": len(frame),
                "source": reference.source,
                "features": sorted(feature_kinds(locked.input_schema)),
            },
        )
    return reference
