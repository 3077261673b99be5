from django.apps import AppConfig


class ServingConfig(AppConfig):
    name = "serving"

    def ready(self):
        from registry import rollout

        from . import gate_checks, rollout_status, rollouts

        rollout.provide(
            start_rollout=rollouts.start_rollout,
            production_changed=rollouts.production_changed,
            is_served=rollouts.is_served,
        )
        rollout.provide_status(
            request_outcome=rollout_status.request_outcome,
            running_rollout=rollout_status.running_rollout,
            model_rollout=rollout_status.model_rollout,
        )
        gate_checks.register()
