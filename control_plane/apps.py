from django.apps import AppConfig


class ControlPlaneConfig(AppConfig):
    name = "control_plane"
    verbose_name = "Control plane core"

    def ready(self):
        from . import checks, journal, task_runs  # noqa: F401  (register the checks, log consumer and task signals)
        from . import role_journal

        role_journal.connect()
