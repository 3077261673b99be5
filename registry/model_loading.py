"""Load a version's model, once per process, with a bounded LRU cache.

Artifacts are downloaded from MLflow (through the tracking server named in settings)
into a local folder, then loaded: with scikit-learn's own flavour when the model has
one (a single row scores several times faster than through pyfunc), else as pyfunc.
The loaded model's signature is checked against the schema stored for the version.
Serving uses this module; nothing else loads models.
"""

import hashlib
import tempfile
import threading
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from django.conf import settings

from .mlflow_source import schema_from_mlflow
from .schema import placeholder_row
from .source_rules import redact, source_problem


class ModelLoadError(Exception):
    """A version whose model cannot be loaded; the message says which and why."""


@dataclass(frozen=True)
class LoadedModel:
    model_name: str
    version: int
    flavor: str  # "sklearn" or "python_function"
    model: Any
    input_columns: tuple[str, ...]
    has_proba: bool
    # The method the model's pyfunc flavour declares (`pyfunc_predict_fn` when saved):
    # /invocations answers what `mlflow models serve` would, e.g. probabilities.
    predict_fn: str = "predict"

    def predict(self, frame):
        return self.model.predict(frame)

    def predict_proba(self, frame):
        if not self.has_proba:
            raise ModelLoadError(f"{self.model_name} v{self.version} gives no probabilities.")
        return self.model.predict_proba(frame)


class _LruCache:
    def __init__(self):
        self._items: OrderedDict[tuple, LoadedModel] = OrderedDict()
        self._lock = threading.Lock()
        self._loading = threading.Lock()  # one load at a time: loads are big, do them once

    def get(self, key: tuple) -> LoadedModel | None:
        with self._lock:
            model = self._items.get(key)
            if model is not None:
                self._items.move_to_end(key)
            return model

    def put(self, key: tuple, model: LoadedModel) -> None:
        with self._lock:
            self._items[key] = model
            self._items.move_to_end(key)
            while len(self._items) > max(1, settings.MODEL_CACHE_SIZE):
                self._items.popitem(last=False)

    def clear(self) -> None:
        with self._lock:
            self._items.clear()

    def keys(self) -> list[tuple]:
        with self._lock:
            return list(self._items)


_cache = _LruCache()


def _key(version) -> tuple:
    return (version.model.name, version.version, version.storage_location or version.source)


def load_version(version) -> LoadedModel:
    """The loaded model of a ModelVersion, from the cache when it is there."""
    key = _key(version)
    cached = _cache.get(key)
    if cached is not None:
        return cached
    with _cache._loading:
        cached = _cache.get(key)
        if cached is None:
            cached = _load(version)
            _cache.put(key, cached)
    return cached


def cached_versions() -> list[tuple[str, int]]:
    return [(name, number) for name, number, _ in _cache.keys()]


def cache_clear() -> None:
    _cache.clear()


def _artifact_dir(version) -> Path:
    uri = version.storage_location or version.source
    digest = hashlib.sha256(uri.encode()).hexdigest()[:16]
    return Path(settings.VAR_DIR) / "model-artifacts" / f"{version.model.name}-v{version.version}-{digest}"


def _download(version) -> Path:
    from mlflow.artifacts import download_artifacts

    target = _artifact_dir(version)
    if (target / "MLmodel").exists():
        return target
    uri = version.storage_location or version.source
    # A source is checked at registration; a row may predate the rule or have been changed since.
    # (A storage location comes from the operator's tracking server, not from a user.)
    why = None if version.storage_location else source_problem(version.source)
    if why:
        raise ModelLoadError(f"its source is not allowed: {why}")
    target.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=target.parent) as tmp:
        local = Path(
            download_artifacts(artifact_uri=uri, dst_path=tmp, tracking_uri=settings.MLFLOW_TRACKING_URI or None)
        )
        if not (local / "MLmodel").exists():
            raise ModelLoadError(f"{uri} holds no MLmodel file; it is not an MLflow model.")
        local.rename(target)  # atomic: a half-downloaded folder is never used
    return target


def _load(version) -> LoadedModel:
    name = f"{version.model.name} v{version.version}"
    try:
        path = _download(version)
        from mlflow.models import Model

        meta = Model.load(str(path / "MLmodel"))
        _check_signature(name, meta, version.input_schema)
        if "sklearn" in meta.flavors:
            import mlflow.sklearn

            model, flavor = mlflow.sklearn.load_model(str(path)), "sklearn"
        else:
            import mlflow.pyfunc

            model, flavor = mlflow.pyfunc.load_model(str(path)), "python_function"
    except ModelLoadError as exc:
        raise ModelLoadError(redact(f"{name} cannot be loaded: {exc}")) from exc
    except Exception as exc:  # whatever MLflow or the flavour raise, the caller gets one clear error
        # Viewers read this (503s, drills, batch jobs): server paths outside the source roots are hidden.
        raise ModelLoadError(redact(f"{name} cannot be loaded from {version.storage_location or version.source}: "
                                    f"{type(exc).__name__}: {exc}")) from exc
    columns = tuple(c["name"] for c in version.input_schema)
    _warm_up(model, version.input_schema)
    return LoadedModel(
        model_name=version.model.name,
        version=version.version,
        flavor=flavor,
        model=model,
        input_columns=columns,
        has_proba=hasattr(model, "predict_proba"),
        predict_fn=_declared_predict_fn(meta, model, flavor),
    )


def _declared_predict_fn(meta, model, flavor: str) -> str:
    """The pyfunc flavour's `predict_fn` for a scikit-learn model we load natively; a
    pyfunc model applies its own, so it is "predict" from the outside."""
    declared = meta.flavors.get("python_function", {}).get("predict_fn", "predict")
    if flavor == "sklearn" and declared != "predict" and callable(getattr(model, declared, None)):
        return declared
    return "predict"


def _check_signature(name: str, meta, stored_schema: list[dict]) -> None:
    signature = meta.signature
    if signature is None or signature.inputs is None or not stored_schema:
        return
    loaded = schema_from_mlflow(signature.inputs)
    if not loaded:
        return
    as_pairs = lambda schema: [(c["name"], c["type"]) for c in schema]  # noqa: E731
    if as_pairs(loaded) != as_pairs(stored_schema):
        raise ModelLoadError(
            f"the model's signature {as_pairs(loaded)} differs from the schema registered for {name} "
            f"{as_pairs(stored_schema)}"
        )


def _warm_up(model, schema: list[dict]) -> None:
    """Score one placeholder row, so the first real request does not pay for the
    libraries' lazy set-up; a model that cannot score it is still returned."""
    if not schema:
        return
    import pandas as pd

    frame = pd.DataFrame([placeholder_row(schema)], columns=[c["name"] for c in schema])
    try:
        model.predict(frame)
        if hasattr(model, "predict_proba"):
            model.predict_proba(frame)
    except Exception:  # noqa: BLE001  (the rollback drill and serving report real failures)
        pass
