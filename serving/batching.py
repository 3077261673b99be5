"""Opportunistic micro-batching: requests that reach one process while its model is busy
are scored together in the model's next call.

Tree ensembles and linear models cost about the same for 1 row as for 100 (the per-call
cost is input checks and Python loops over trees), so under concurrency the cost per
request falls with the batch. No request waits for a timer: a caller that finds the model
free scores at once; callers that arrive meanwhile queue, and the first of them scores the
whole queue as soon as the model is free. With one thread per process (gunicorn's sync
workers) there is never a queue and this is a lock and a list append.
"""

import threading
import weakref
from collections.abc import Callable

import numpy as np

MAX_BATCH_ROWS = 2048


class _Waiter:
    __slots__ = ("data", "done", "leads", "result", "error")

    def __init__(self, data: np.ndarray):
        self.data = data
        self.done = threading.Event()
        self.leads = False
        self.result = None
        self.error: BaseException | None = None

    def outcome(self):
        if self.error is not None:
            raise self.error
        return self.result


class Combiner:
    """Calls `method` (rows -> one result row each) on the rows of every caller waiting."""

    def __init__(self, method: Callable[[np.ndarray], np.ndarray]):
        self._method = method
        self._lock = threading.Lock()
        self._queue: list[_Waiter] = []  # non-empty only while a caller is scoring
        self._busy = False

    def __call__(self, data: np.ndarray):
        waiter = _Waiter(data)
        with self._lock:
            self._queue.append(waiter)
            waiter.leads = not self._busy
            self._busy = True
        if not waiter.leads:
            waiter.done.wait()  # set when our rows were scored, or when it is our turn to lead
            if not waiter.leads:
                return waiter.outcome()
        self._score_queue_head()
        return waiter.outcome()

    def _score_queue_head(self) -> None:
        """Score the queue from its head (the leader) up to MAX_BATCH_ROWS, then hand the
        lead to the next waiter, if any."""
        with self._lock:
            batch, rows = [], 0
            while self._queue and (not batch or rows + len(self._queue[0].data) <= MAX_BATCH_ROWS):
                batch.append(self._queue.pop(0))
                rows += len(batch[-1].data)
        self._score(batch)
        with self._lock:
            if self._queue:
                self._queue[0].leads = True
                self._queue[0].done.set()
            else:
                self._busy = False
        for waiter in batch[1:]:
            waiter.done.set()

    def _score(self, batch: list[_Waiter]) -> None:
        if len(batch) > 1:
            try:
                result = self._method(np.concatenate([w.data for w in batch]))
                bounds = np.cumsum([len(w.data) for w in batch])[:-1]
                for waiter, part in zip(batch, np.split(result, bounds)):
                    waiter.result = part
                return
            except Exception:  # noqa: BLE001 - score each caller alone, so one bad input fails only its own request
                pass
        for waiter in batch:
            try:
                waiter.result = self._method(waiter.data)
            except Exception as exc:  # noqa: BLE001 - handed to the caller it belongs to
                waiter.error = exc


_combiners: "weakref.WeakKeyDictionary[object, dict[str, Combiner]]" = weakref.WeakKeyDictionary()
_combiners_lock = threading.Lock()


def combined(owner, name: str, method: Callable[[np.ndarray], np.ndarray]) -> Combiner:
    """The process's combiner for `owner`'s method `name` (forgotten with the owner)."""
    methods = _combiners.get(owner)
    if methods is None or name not in methods:
        with _combiners_lock:
            methods = _combiners.setdefault(owner, {})
            methods.setdefault(name, Combiner(method))
    return methods[name]
