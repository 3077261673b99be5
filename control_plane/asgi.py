import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "control_plane.settings")
application = get_asgi_application()

from control_plane.checks import refuse_to_start  # noqa: E402 - needs the settings set up above

refuse_to_start()
