from django.apps import AppConfig


class RegistryConfig(AppConfig):
    name = "registry"

    def ready(self):
        from . import gate_checks

        gate_checks.register()
