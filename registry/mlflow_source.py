"""Read what MLflow knows about a version's source: the run's metrics, params and tags,
the model's flavours and its signature (as our input and output schemas), and where
its artifacts are stored. Talks to the tracking server in settings.MLFLOW_TRACKING_URI.

With a tracking server set, every source form is checked before it is registered:
- `models:/<model id>` (MLflow 3 logged models): the logged model exists;
- `runs:/<run_id>/<path>`: the run exists and holds a model there;
- a bare run id: its single logged model;
- a local path or `file:` URI: like MLflow's server, only with a run_id (or model_id)
  whose local artifact directory holds the path;
- `mlflow-artifacts:` and http(s) URIs: only with a run_id (or model_id) whose artifact
  root holds them;
- any other scheme (s3, gs, ...): no '..' segment (MLflow's check); not read.
`models:/<name>/<version>` and `models:/<name>@<alias>` name a version of this registry
(registry_reference); registry/services resolves them with or without a tracking server.
Without a tracking server, sources are stored as given.
"""

import logging
import posixpath
import re
import tempfile
from dataclasses import dataclass, field
from urllib.parse import unquote, urlparse

from django.conf import settings

from control_plane.errors import Invalid

log = logging.getLogger(__name__)

_LOGGED_MODEL = re.compile(r"^models:/([^/@]+)/?$")
_REGISTRY_VERSION = re.compile(r"^models:/([^/@]+)/([^/]+)$")
_REGISTRY_ALIAS = re.compile(r"^models:/([^/@]+)@([^/]+)$")
_RUNS = re.compile(r"^runs:/([^/]+)/(.+)$")
_ARTIFACT_SCHEMES = ("mlflow-artifacts", "http", "https")


@dataclass(frozen=True)
class RegistryReference:
    """`models:/<name>/<version, stage or 'latest'>` or `models:/<name>@<alias>`."""

    name: str
    version: str = ""
    alias: str = ""


def registry_reference(source: str) -> RegistryReference | None:
    source = (source or "").strip()
    if match := _REGISTRY_ALIAS.match(source):
        return RegistryReference(name=match.group(1), alias=match.group(2))
    if match := _REGISTRY_VERSION.match(source):
        return RegistryReference(name=match.group(1), version=match.group(2))
    return None


@dataclass
class SourceInfo:
    source: str
    run_id: str = ""
    model_id: str = ""
    storage_location: str = ""
    flavors: list[str] = field(default_factory=list)
    metrics: dict = field(default_factory=dict)
    params: dict = field(default_factory=dict)
    tags: dict = field(default_factory=dict)
    input_schema: list = field(default_factory=list)
    output_schema: list = field(default_factory=list)
    signature_found: bool | None = False


def is_mlflow_source(source: str) -> bool:
    return bool(_LOGGED_MODEL.match(source or "") or _RUNS.match(source or ""))


def _client():
    from mlflow import MlflowClient

    return MlflowClient(tracking_uri=settings.MLFLOW_TRACKING_URI)


def _not_found(field_name: str, value: str, why: str) -> Invalid:
    return Invalid(
        f"{field_name} '{value}' cannot be read from MLflow at {settings.MLFLOW_TRACKING_URI}: {why}",
        code="source_not_found",
        details={field_name: [why]},
    )


def resolve(*, source: str = "", run_id: str = "", model_id: str = "") -> SourceInfo | None:
    """What MLflow says about a source, or None when there is no tracking server to ask
    or the source is not an MLflow URI. A source that MLflow does not have is Invalid."""
    if not settings.MLFLOW_TRACKING_URI:
        return None
    from mlflow.exceptions import MlflowException

    source = (source or "").strip()
    scheme = urlparse(source).scheme if source else ""
    if source and scheme not in ("runs", "models"):
        _refuse_relative_segments(source)
    try:
        if _LOGGED_MODEL.match(source) or (model_id and (not source or scheme == "runs")):
            return _from_logged_model(source, model_id or _LOGGED_MODEL.match(source).group(1))
        if _RUNS.match(source):
            run_id_in_uri, path = _RUNS.match(source).groups()
            return _from_run(source, run_id_in_uri, path)
        if not source and run_id:
            return _from_run_only(run_id)
        if source and _is_local(source):
            return _from_local_path(source, run_id=run_id, model_id=model_id)
        if scheme in _ARTIFACT_SCHEMES:
            return _from_artifact_uri(source, run_id=run_id, model_id=model_id)
    except MlflowException as exc:
        field_name = "source" if source else "run_id"
        raise _not_found(field_name, source or run_id, exc.message.split("\n")[0]) from None
    return None


def _is_local(source: str) -> bool:
    scheme = urlparse(source).scheme
    return scheme == "file" or scheme == "" or (len(scheme) == 1 and source[1:3] in (":/", ":\\"))


def _local_path(uri: str) -> str:
    parsed = urlparse(uri)
    return posixpath.normpath(unquote(parsed.path) if parsed.scheme == "file" else uri)


def _refuse_relative_segments(source: str) -> None:
    decoded = source
    while (unquoted := unquote(decoded)) != decoded:
        decoded = unquoted
    if "\x00" in decoded or ".." in decoded.replace("\\", "/").split("/"):
        raise Invalid(
            f"Source '{source}' has a '..' segment: give an absolute location without relative parts.",
            code="invalid_source",
            details={"source": ["Relative path segments ('..') are not allowed."]},
        )


def _artifact_root(run_id: str, model_id: str) -> tuple[str, object | None]:
    """The artifact location of the run (or logged model) a source is said to belong to."""
    client = _client()
    if model_id:
        return client.get_logged_model(model_id).artifact_location, None
    run = client.get_run(run_id)
    return run.info.artifact_uri, run


def _outside(source: str, why: str) -> Invalid:
    return Invalid(f"Source '{source}' is refused: {why}", code="invalid_source", details={"source": [why]})


def _from_local_path(source: str, *, run_id: str, model_id: str) -> SourceInfo:
    if not (run_id or model_id):
        raise _outside(
            source,
            "a local path is registered only with the run_id (or model_id) whose artifact directory holds it.",
        )
    root, run = _artifact_root(run_id, model_id)
    if not _is_local(root):
        raise _outside(source, f"the artifacts of {run_id or model_id} are not on a local disk.")
    root_path, path = _local_path(root), _local_path(source)
    if path != root_path and not path.startswith(root_path.rstrip("/") + "/"):
        raise _outside(source, f"it is not inside the artifact directory of {run_id or model_id}.")
    return _read_model_at(source, run, run_id=run_id, model_id=model_id)


def _from_artifact_uri(source: str, *, run_id: str, model_id: str) -> SourceInfo:
    if not (run_id or model_id):
        raise _outside(source, "an artifact URI is registered only with the run_id (or model_id) that holds it.")
    root, run = _artifact_root(run_id, model_id)
    if urlparse(root).scheme == urlparse(source).scheme:
        root_path, path = posixpath.normpath(urlparse(root).path), posixpath.normpath(urlparse(source).path)
        if path == root_path or path.startswith(root_path.rstrip("/") + "/"):
            return _read_model_at(source, run, run_id=run_id, model_id=model_id)
    raise _outside(source, f"it is not inside the artifact root of {run_id or model_id} ({root}).")


def _read_model_at(source: str, run, *, run_id: str, model_id: str) -> SourceInfo:
    info = SourceInfo(source=source, run_id=run_id, model_id=model_id, storage_location=source)
    if run is None and run_id:
        run = _client().get_run(run_id)
    if run is not None:
        _add_run_data(info, run)
    _add_mlmodel(info)
    return info


def _from_logged_model(source: str, model_id: str) -> SourceInfo:
    client = _client()
    logged = client.get_logged_model(model_id)
    info = SourceInfo(
        source=source or f"models:/{model_id}",
        model_id=model_id,
        run_id=logged.source_run_id or "",
        storage_location=logged.artifact_location,
        params=dict(logged.params or {}),
        metrics={m.key: m.value for m in (logged.metrics or [])},
    )
    if info.run_id:
        _add_run_data(info, client.get_run(info.run_id))
    _add_mlmodel(info)
    return info


def _from_run(source: str, run_id: str, path: str) -> SourceInfo:
    client = _client()
    run = client.get_run(run_id)
    info = SourceInfo(source=source, run_id=run_id)
    _add_run_data(info, run)
    name, _, rest = path.partition("/")
    logged = _logged_model_of_run(client, run, name)
    if logged is not None:
        info.model_id = logged.model_id
        info.storage_location = logged.artifact_location.rstrip("/") + (f"/{rest}" if rest else "")
    else:  # MLflow 2 style: the model is a folder of the run's artifacts
        info.storage_location = f"{run.info.artifact_uri.rstrip('/')}/{path}"
    _add_mlmodel(info)
    return info


def _from_run_only(run_id: str) -> SourceInfo:
    client = _client()
    run = client.get_run(run_id)
    models = client.search_logged_models(
        experiment_ids=[run.info.experiment_id], filter_string=f"source_run_id = '{run_id}'"
    )
    if len(models) > 1:
        names = ", ".join(sorted(m.name for m in models))
        raise Invalid(
            f"Run {run_id} logged several models ({names}); name one as source runs:/{run_id}/<name>.",
            code="ambiguous_source",
            details={"run_id": ["Several models in this run."]},
        )
    if not models:
        return _from_run(f"runs:/{run_id}/model", run_id, "model")
    return _from_logged_model(f"models:/{models[0].model_id}", models[0].model_id)


def _logged_model_of_run(client, run, name: str):
    page_token = None
    while True:
        page = client.search_logged_models(
            experiment_ids=[run.info.experiment_id], filter_string=f"name = '{name}'", page_token=page_token
        )
        for model in page:
            if model.source_run_id == run.info.run_id:
                return model
        if not page.token:
            return None
        page_token = page.token


def _add_run_data(info: SourceInfo, run) -> None:
    info.metrics = {**info.metrics, **dict(run.data.metrics)}
    info.params = {**info.params, **dict(run.data.params)}
    info.tags = {k: v for k, v in run.data.tags.items() if not k.startswith("mlflow.")}


def _add_mlmodel(info: SourceInfo) -> None:
    from mlflow.artifacts import download_artifacts
    from mlflow.exceptions import MlflowException
    from mlflow.models import Model

    with tempfile.TemporaryDirectory() as tmp:
        try:
            path = download_artifacts(
                artifact_uri=f"{info.storage_location}/MLmodel",
                dst_path=tmp,
                tracking_uri=settings.MLFLOW_TRACKING_URI,
            )
        except (MlflowException, OSError) as exc:
            raise _not_found("source", info.source, f"no MLmodel file at {info.storage_location} ({exc})") from None
        model = Model.load(path)
    info.flavors = sorted(model.flavors)
    signature = model.signature
    if signature is None or signature.inputs is None:
        return
    info.input_schema = schema_from_mlflow(signature.inputs)
    if signature.outputs is not None:
        info.output_schema = schema_from_mlflow(signature.outputs, tensor_name="output")
    info.signature_found = bool(info.input_schema)


_NUMPY_TO_SCHEMA = {
    "float64": "double",
    "float32": "float",
    "int64": "long",
    "int32": "integer",
    "bool": "boolean",
    "object": "string",
    "str": "string",
    "bytes": "binary",
}


def schema_from_mlflow(schema, *, tensor_name: str | None = None) -> list[dict]:
    """MLflow Schema -> [{name, type, nullable}]. Column specs keep their names and
    types. A tensor spec (an array, typical of outputs) has no named features: it maps to
    one column per tensor when `tensor_name` is given, else to an empty schema.
    Unmappable types give an empty schema."""
    if schema.is_tensor_spec() and tensor_name is None:
        log.warning("Tensor-based MLflow signature: no named features to record.")
        return []
    columns = []
    for i, spec in enumerate(schema.inputs):
        if schema.is_tensor_spec():
            type_name = _NUMPY_TO_SCHEMA.get(spec.type.name)
            name = spec.name or (tensor_name if i == 0 else f"{tensor_name}_{i}")
            nullable = False
        else:
            type_name = getattr(spec.type, "name", None)
            name, nullable = spec.name, not spec.required
        if not name or type_name is None:
            log.warning("MLflow signature column %r of type %r has no schema equivalent.", name, spec.type)
            return []
        columns.append({"name": name, "type": type_name, "nullable": nullable})
    return columns
