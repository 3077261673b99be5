"""Where the registry hands over to serving, without importing it.

When a promotion request is approved, `start_rollout(request, actor)` may take over
(serving starts a canary for a model it serves, and makes the version Production when
the canary passes); when it does not, the version becomes Production at once. After a
rollback, `production_changed(model, actor)` lets serving drop a rollout in flight;
`is_served(model)` tells whether it has a live deployment.
Serving fills both in from its AppConfig.ready(); without it, nothing is deferred.
"""

from collections.abc import Callable

_start_rollout: Callable[..., bool] = lambda *, request, actor: False  # noqa: E731
_production_changed: Callable[..., None] = lambda *, model, actor: None  # noqa: E731
_is_served: Callable[..., bool] = lambda *, model: False  # noqa: E731


def provide(
    *, start_rollout: Callable[..., bool], production_changed: Callable[..., None], is_served: Callable[..., bool]
) -> None:
    global _start_rollout, _production_changed, _is_served
    _start_rollout, _production_changed, _is_served = start_rollout, production_changed, is_served


def is_served(*, model) -> bool:
    """Whether the model has a live deployment (its name is what clients call)."""
    return _is_served(model=model)


def start_rollout(*, request, actor) -> bool:
    return _start_rollout(request=request, actor=actor)


def production_changed(*, model, actor) -> None:
    _production_changed(model=model, actor=actor)


# What the pages and the approval need to know about rollouts, read from serving the same
# way: the outcome of an approved request (a dict with "text", "state", "deployment"...),
# and the rollout an approval would replace (None when nothing would be replaced).
_request_outcome: Callable[..., dict | None] = lambda *, request: None  # noqa: E731
_running_rollout: Callable[..., dict | None] = lambda *, model, version: None  # noqa: E731
_model_rollout: Callable[..., dict | None] = lambda *, model: None  # noqa: E731


def provide_status(
    *,
    request_outcome: Callable[..., dict | None],
    running_rollout: Callable[..., dict | None],
    model_rollout: Callable[..., dict | None],
) -> None:
    global _request_outcome, _running_rollout, _model_rollout
    _request_outcome, _running_rollout, _model_rollout = request_outcome, running_rollout, model_rollout


def request_outcome(*, request) -> dict | None:
    return _request_outcome(request=request)


def running_rollout(*, model, version) -> dict | None:
    return _running_rollout(model=model, version=version)


def model_rollout(*, model) -> dict | None:
    return _model_rollout(model=model)
