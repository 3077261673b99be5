"""Micro-batching kernel: callers that arrive while the model is busy share its next call,
each gets its own rows back, and one caller's bad input fails only that caller."""

import threading

import numpy as np
import pytest

from serving.batching import Combiner
from tests.processes import wait_for


class GatedModel:
    """Doubles its input; the first call waits for `release` so others can queue."""

    def __init__(self):
        self.release = threading.Event()
        self.calls: list[int] = []

    def __call__(self, data: np.ndarray) -> np.ndarray:
        if not self.calls:
            self.release.wait(10)
        self.calls.append(len(data))
        if (data < 0).any():
            raise ValueError("negative input")
        return data * 2


def _run_concurrently(combiner, inputs):
    results, threads = {}, []

    def call(i, data):
        try:
            results[i] = combiner(data)
        except ValueError as exc:
            results[i] = exc

    for i, data in enumerate(inputs):
        threads.append(threading.Thread(target=call, args=(i, data)))
        threads[-1].start()
        if i == 0:
            wait_for(lambda: combiner._busy, timeout=5)
    return results, threads


def test_callers_queued_behind_a_busy_model_share_one_call():
    model = GatedModel()
    combiner = Combiner(model)
    inputs = [np.full((1 + i % 3, 2), float(i)) for i in range(8)]
    results, threads = _run_concurrently(combiner, inputs)
    wait_for(lambda: len(combiner._queue) == 7, timeout=5)
    model.release.set()
    for t in threads:
        t.join(10)
    assert model.calls == [len(inputs[0]), sum(len(d) for d in inputs[1:])]
    for i, data in enumerate(inputs):
        np.testing.assert_array_equal(results[i], data * 2)
    assert combiner._busy is False and combiner._queue == []


def test_one_bad_input_fails_only_its_own_caller():
    model = GatedModel()
    combiner = Combiner(model)
    inputs = [np.ones((1, 2)), np.ones((2, 2)), -np.ones((1, 2)), np.full((1, 2), 3.0)]
    results, threads = _run_concurrently(combiner, inputs)
    wait_for(lambda: len(combiner._queue) == 3, timeout=5)
    model.release.set()
    for t in threads:
        t.join(10)
    assert isinstance(results[2], ValueError)
    for i in (0, 1, 3):
        np.testing.assert_array_equal(results[i], inputs[i] * 2)


def test_a_lone_caller_scores_at_once():
    model = GatedModel()
    model.release.set()
    combiner = Combiner(model)
    np.testing.assert_array_equal(combiner(np.ones((3, 1))), np.full((3, 1), 2.0))
    with pytest.raises(ValueError):
        combiner(-np.ones((1, 1)))
    assert model.calls == [3, 1] and combiner._busy is False
