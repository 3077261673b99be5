"""gunicorn settings for `make run`: say where the control plane is only once a worker has
loaded the application and answers, and drop a dead worker's metric files so /metrics adds
up the live workers."""

import os


def post_worker_init(worker):
    # worker.age counts the workers the arbiter has spawned: the first one to be ready speaks.
    banner = os.environ.get("CONTROL_PLANE_BANNER")
    if banner and worker.age == 1:
        print(banner, flush=True)


def child_exit(server, worker):
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        from prometheus_client import multiprocess

        multiprocess.mark_process_dead(worker.pid)
