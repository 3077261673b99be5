from django.apps import AppConfig


class RetrainingConfig(AppConfig):
    """Retraining policies, triggers and pipeline runs; replay of logged traffic; the gate's
    "retraining trigger defined" check."""

    name = "retraining"

    def ready(self):
        from control_plane.journal import register_consumer

        from . import gate_checks, triggers

        gate_checks.register()
        register_consumer("retraining-triggers", triggers.on_event)
