"""A faster evaluator for scikit-learn's HistGradientBoosting models on numeric features
(a pure kernel: numpy only).

scikit-learn walks the ensemble one tree at a time from Python (about 10 microseconds per
tree and call, so ~1 ms for 100 trees even for one row) after validating the input
again. Here every tree's nodes sit in one set of flat arrays and all trees are walked at
once, one numpy step per tree level. The sum over trees is a cumulative sum in the same
order as scikit-learn's loop, so the raw scores are bit-for-bit the same; `compile_hgb`
still checks that on probe rows (values on and around every threshold, and NaN) and
answers None when the model is not covered (categorical splits, an unknown layout) or
when anything differs, and the caller keeps scikit-learn's own predict.
"""

import numpy as np


class CompiledHGB:
    def __init__(self, model):
        trees = [tree for iteration in model._predictors for tree in iteration]
        self.per_iteration = model.n_trees_per_iteration_
        self.n_features = model.n_features_in_
        self._loss = model._loss
        self._baseline = np.asarray(model._baseline_prediction, dtype=float).reshape(-1)
        self._classes = getattr(model, "classes_", None)
        sizes = np.array([len(t.nodes) for t in trees])
        offsets = np.concatenate([[0], np.cumsum(sizes)[:-1]])
        nodes = np.concatenate([t.nodes for t in trees])
        shift = np.repeat(offsets, sizes)
        own = np.arange(len(nodes))
        leaf = nodes["is_leaf"].astype(bool)
        # A leaf points to itself, so walking a fixed number of levels is harmless past it.
        self._left = np.where(leaf, own, nodes["left"].astype(np.int64) + shift)
        self._right = np.where(leaf, own, nodes["right"].astype(np.int64) + shift)
        self._feature = np.where(leaf, 0, nodes["feature_idx"]).astype(np.int64)
        self._threshold = nodes["num_threshold"].astype(float)
        self._missing_left = nodes["missing_go_to_left"].astype(bool)
        self._value = nodes["value"].astype(float)
        self._roots = offsets.astype(np.int64)
        self._depth = int(nodes["depth"].max()) + 1

    def raw(self, X: np.ndarray) -> np.ndarray:
        """(n rows, trees per iteration) raw scores, as model._raw_predict answers them."""
        n = X.shape[0]
        node = np.broadcast_to(self._roots, (n, len(self._roots))).copy()
        rows = np.arange(n)[:, None]
        for _ in range(self._depth):
            x = X[rows, self._feature[node]]
            go_left = np.where(np.isnan(x), self._missing_left[node], x <= self._threshold[node])
            node = np.where(go_left, self._left[node], self._right[node])
        leaf_values = self._value[node].reshape(n, -1, self.per_iteration)  # (rows, iterations, k)
        start = np.broadcast_to(self._baseline, (n, 1, self.per_iteration))
        return np.cumsum(np.concatenate([start, leaf_values], axis=1), axis=1)[:, -1, :]

    def predict_proba(self, X: np.ndarray) -> np.ndarray:
        return self._loss.predict_proba(self.raw(X))

    def predict(self, X: np.ndarray) -> np.ndarray:
        raw = self.raw(X)
        if self._classes is None:
            return self._loss.link.inverse(raw.ravel())
        encoded = (raw.ravel() > 0).astype(int) if raw.shape[1] == 1 else np.argmax(raw, axis=1)
        return self._classes[encoded]


def _probe_rows(compiled: CompiledHGB, seed: int = 0) -> np.ndarray:
    """Rows that hit every threshold exactly, just beside it, and missing values."""
    rng = np.random.default_rng(seed)
    thresholds = [compiled._threshold[compiled._feature == f] for f in range(compiled.n_features)]
    rows = rng.normal(size=(256, compiled.n_features))
    for f, values in enumerate(thresholds):
        values = values[np.isfinite(values)]
        if len(values):
            picks = rng.choice(values, size=256)
            rows[:, f] = picks + rng.choice([0.0, -1e-9, 1e-9, 0.5, -0.5], size=256) * np.maximum(1, abs(picks))
    rows[rng.random(rows.shape) < 0.05] = np.nan
    return rows


def compile_hgb(model) -> CompiledHGB | None:
    """The compiled evaluator, or None when the model is not a plain numeric HGB model or
    the evaluator does not reproduce scikit-learn's answers exactly."""
    if type(model).__name__ not in ("HistGradientBoostingClassifier", "HistGradientBoostingRegressor"):
        return None
    try:
        if any(t.nodes["is_categorical"].any() for it in model._predictors for t in it):
            return None
        compiled = CompiledHGB(model)
        rows = _probe_rows(compiled)
        if not np.array_equal(compiled.raw(rows), model._raw_predict(rows)):
            return None
        if hasattr(model, "predict_proba") and not np.array_equal(
            compiled.predict_proba(rows), model.predict_proba(rows)
        ):
            return None
        if not np.array_equal(compiled.predict(rows), model.predict(rows)):
            return None
    except (AttributeError, KeyError, ValueError, TypeError, IndexError):
        return None
    return compiled
