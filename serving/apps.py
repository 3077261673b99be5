from django.apps import AppConfig


class ServingConfig(AppConfig):
    name = "serving"

    def ready(self):
        from registry import rollout

        from . import gate_checks, rollouts

        rollout.provide(
            start_rollout=rollouts.start_rollout,
            production_changed=rollouts.production_changed,
            is_served=rollouts.is_served,
        )
        gate_checks.register()
