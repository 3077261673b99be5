from django.apps import AppConfig


class MonitoringConfig(AppConfig):
    """Prediction log, drift and performance monitoring. The models arrive with the
    serving and monitoring work; the app exists so the layout is stable."""

    name = "monitoring"
