import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "control_plane.settings")
application = get_wsgi_application()

from control_plane.checks import refuse_to_start  # noqa: E402 - needs the settings set up above

refuse_to_start()

from serving.fast_path import ServingFastPath  # noqa: E402 - needs the settings set up above

application = ServingFastPath(application)
