from django.apps import AppConfig


class MonitoringConfig(AppConfig):
    """The prediction log (written off the request path, drained into PostgreSQL, ground
    truth by feedback, purged after PREDICTION_RETENTION_DAYS); drift and performance
    monitoring build on it."""

    name = "monitoring"
