"""The registry calls an MLflow team makes, run by whichever MLflow client executes this
file (the pinned one, or an older one from its own venv), against the control plane at
CONTROL_PLANE_URL with MLFLOW_TRACKING_TOKEN. Prints one JSON object: what the client saw.
No Django here: it runs outside the project."""

import json
import os
import sys
import warnings

import mlflow
from mlflow import MlflowClient
from mlflow.exceptions import MlflowException

warnings.simplefilter("ignore")  # stages are deprecated in MLflow 3; still what teams use


def refused(call, *args, **kwargs) -> dict:
    try:
        call(*args, **kwargs)
    except MlflowException as exc:
        return {"error_code": exc.error_code, "message": exc.message}
    return {"error_code": None, "message": "accepted"}


def main() -> dict:
    url, name = os.environ["CONTROL_PLANE_URL"], os.environ["MODEL_NAME"]
    client = MlflowClient(tracking_uri=url, registry_uri=url)
    seen: dict = {"client": mlflow.__version__}

    created = client.create_registered_model(name, tags={"team": "growth"}, description="Predicts churn.")
    seen["created"] = [created.name, created.creation_timestamp == created.last_updated_timestamp]
    seen["duplicate"] = refused(client.create_registered_model, name)
    for source in ("s3://bucket/churn/1", "s3://bucket/churn/2"):
        client.create_model_version(name, source, run_id="run_id", tags={"data": "2026-11"})
    client.set_registered_model_tag(name, "tier", "gold")
    client.delete_registered_model_tag(name, "team")
    client.set_model_version_tag(name, "1", "validated", "yes")
    client.update_model_version(name, "1", description="First.")
    client.set_registered_model_alias(name, "candidate", "2")
    seen["by_alias"] = client.get_model_version_by_alias(name, "candidate").version
    seen["search"] = [m.name for m in client.search_registered_models(f"name = '{name}'")]
    seen["versions"] = sorted(v.version for v in client.search_model_versions(f"name = '{name}'"))
    seen["staged"] = client.transition_model_version_stage(name, "2", "Staging").current_stage
    seen["production"] = refused(client.transition_model_version_stage, name, "2", "Production")
    seen["champion_alias"] = refused(client.set_registered_model_alias, name, "champion", "2")
    copy = client.copy_model_version(f"models:/{name}@candidate", name)
    seen["copy"] = [copy.version, client.get_model_version(name, copy.version).source,
                    client.get_model_version_download_uri(name, copy.version)]
    model = client.get_registered_model(name)
    seen["model"] = {"tags": model.tags, "aliases": model.aliases, "description": model.description}
    version = client.get_model_version(name, "1")
    seen["v1"] = {"tags": version.tags, "description": version.description, "stage": version.current_stage}
    seen["missing"] = refused(client.get_model_version, name, "99")
    return seen


if __name__ == "__main__":
    json.dump(main(), sys.stdout)
