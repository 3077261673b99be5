from django.apps import AppConfig


class NotificationsConfig(AppConfig):
    name = "notifications"
    verbose_name = "Notifications"

    def ready(self):
        from control_plane.journal import register_consumer

        from .routing import event_route

        register_consumer("notifications", event_route)
