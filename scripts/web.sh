#!/bin/sh
# The production web server: the whole control plane, scoring included (docs/performance.md
# says why granian, one worker process per core, one Python thread each). Options after the
# script's name are passed on (a later --port or --host wins).
exec "${PYTHON:-python}" -m granian control_plane.wsgi:application \
    --interface wsgi --host 0.0.0.0 --port 8000 \
    --workers "${WEB_CONCURRENCY:-2}" --blocking-threads 1 --runtime-threads 1 \
    --http 1 --no-ws --respawn-failed-workers --log-level warning "$@"
