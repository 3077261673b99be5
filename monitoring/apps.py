from django.apps import AppConfig


class MonitoringConfig(AppConfig):
    """The prediction log (written off the request path, drained into PostgreSQL, ground
    truth by feedback, purged after PREDICTION_RETENTION_DAYS), reference profiles, monitor
    policies and drift reports; the gate's "drift detection scheduled" check."""

    name = "monitoring"

    def ready(self):
        from control_plane.journal import register_consumer

        from . import gate_checks, reference_tags

        gate_checks.register()
        register_consumer("reference-tags", reference_tags.on_event)
