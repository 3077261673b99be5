"""Every write of the feature store (re-exported so callers import `features.services`)."""

from .definitions import definitions_apply  # noqa: F401
from .materialize import materialization_start, materialization_execute, resume_stale_runs  # noqa: F401
from .push import push_rows  # noqa: F401
from .historical_jobs import (  # noqa: F401
    historical_job_create, historical_job_get, historical_job_output, historical_job_run, historical_jobs_fail_stale,
)
