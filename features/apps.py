from django.apps import AppConfig


class FeaturesConfig(AppConfig):
    """The feature store: entities, feature views and feature services (definitions), an
    exact point-in-time offline store on PostgreSQL, a Redis online store with the TTL
    enforced on read, push ingestion and materialization runs on Celery."""

    name = "features"

    def ready(self):
        from registry.tag_rules import lock_in_production, provide_tag_rule

        from .binding import TAG, service_schema_problems

        provide_tag_rule(service_schema_problems)
        lock_in_production(TAG)
