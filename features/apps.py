from django.apps import AppConfig


class FeaturesConfig(AppConfig):
    """The feature store: entities, feature views and feature services (definitions), an
    exact point-in-time offline store on PostgreSQL, a Redis online store with the TTL
    enforced on read, push ingestion and materialization runs on Celery."""

    name = "features"
