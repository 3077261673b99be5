"""Reference data named at registration. A version registered with the tag
`monitoring.reference` gets its reference profile built by a worker right after: the tag's
value is a path under REFERENCE_DATA_ROOTS when it starts with "/", else an artifact path of
the version's MLflow run (e.g. "data/reference.parquet"). `monitoring.label_column` and
`monitoring.score_column` name those columns. From an MLflow client:

    client.create_model_version(name, source, run_id, tags={"monitoring.reference": "data/ref.parquet"})

A reference that cannot be profiled appends `reference.failed` (with the reason) to the journal.
"""

from celery import shared_task
from django.contrib.auth import get_user_model
from django.db import transaction

from control_plane.errors import ServiceError
from control_plane.journal import event_append
from registry.models import ModelVersion

TAG = "monitoring.reference"
LABEL_TAG = "monitoring.label_column"
SCORE_TAG = "monitoring.score_column"


def on_event(event) -> None:
    """Journal consumer: queue the profiling of a version registered with the tag."""
    if event.type != "version.registered":
        return
    version = ModelVersion.objects.filter(model__name=event.model_name, version=event.version).first()
    if version is None or not (version.tags or {}).get(TAG):
        return
    transaction.on_commit(lambda: reference_from_tag.delay(version.pk, event.actor_id))


@shared_task(ignore_result=True)
def reference_from_tag(version_id: int, actor_id: int | None) -> None:
    from .models import ReferenceProfile
    from .reference import reference_profile_create

    version = ModelVersion.objects.select_related("model").filter(pk=version_id).first()
    if version is None or ReferenceProfile.objects.filter(version=version).exists():
        return  # deleted since, or profiled by hand already
    actor = get_user_model().objects.filter(pk=actor_id).first()
    tags = version.tags or {}
    named = tags[TAG]
    source = {"path": named} if named.startswith("/") else {"mlflow_artifact": named}
    try:
        if actor is None:
            raise ServiceError("The user who registered the version no longer exists.", code="no_actor")
        reference_profile_create(
            version=version, actor=actor, label_column=tags.get(LABEL_TAG), score_column=tags.get(SCORE_TAG), **source
        )
    except ServiceError as exc:
        event_append(
            type="reference.failed",
            actor=actor,
            model_name=version.model.name,
            version=version.version,
            payload={"tag": TAG, "source": named, "error": exc.message, "code": exc.code},
        )
