"""Every write of the feature store (re-exported so callers import `features.services`)."""

from .definitions import definitions_apply  # noqa: F401
from .materialize import materialization_start, materialization_execute, resume_stale_runs  # noqa: F401
from .push import push_rows  # noqa: F401
