"""The compiled HistGradientBoosting evaluator answers exactly what scikit-learn answers,
or is not used at all."""

import numpy as np
import pytest
from sklearn.ensemble import HistGradientBoostingClassifier, HistGradientBoostingRegressor

from serving.compiled_trees import compile_hgb

rng = np.random.default_rng(7)
X = rng.normal(size=(800, 6))
X[rng.random(X.shape) < 0.03] = np.nan  # trees learn where missing values go
signal = np.nan_to_num(X[:, 0]) + np.nan_to_num(X[:, 1]) ** 2


def _fresh_rows(n=500):
    rows = rng.normal(size=(n, 6)) * 2
    rows[rng.random(rows.shape) < 0.1] = np.nan
    return rows


@pytest.mark.parametrize(
    "model",
    [
        HistGradientBoostingClassifier(max_iter=30, random_state=0).fit(X, (signal > 1).astype(int)),
        HistGradientBoostingClassifier(max_iter=15, random_state=0).fit(X, np.digitize(signal, [0.5, 2.0])),
        HistGradientBoostingRegressor(max_iter=20, random_state=0).fit(X, signal),
    ],
    ids=["binary", "three-classes", "regressor"],
)
def test_same_answers_bit_for_bit(model):
    compiled = compile_hgb(model)
    assert compiled is not None
    rows = _fresh_rows()
    for n in (1, 7, len(rows)):
        np.testing.assert_array_equal(compiled.predict(rows[:n]), model.predict(rows[:n]))
        if hasattr(model, "predict_proba"):
            np.testing.assert_array_equal(compiled.predict_proba(rows[:n]), model.predict_proba(rows[:n]))


def test_categorical_splits_are_left_to_scikit_learn():
    cats = rng.integers(0, 4, size=(1000, 1)).astype(float)
    model = HistGradientBoostingClassifier(max_iter=10, categorical_features=[0]).fit(cats, (cats[:, 0] == 2).astype(int))
    assert compile_hgb(model) is None


def test_other_models_are_not_compiled():
    from sklearn.linear_model import LogisticRegression

    assert compile_hgb(LogisticRegression().fit(np.nan_to_num(X), signal > 1)) is None


def test_serving_scores_small_inputs_through_the_compiled_walk():
    from registry.model_loading import LoadedModel
    from serving import scoring

    model = HistGradientBoostingClassifier(max_iter=20, random_state=0).fit(X, (signal > 1).astype(int))
    columns = tuple(f"f{i}" for i in range(6))
    loaded = LoadedModel("m", 1, "sklearn", model, columns, True)
    schema = [{"name": c, "type": "double"} for c in columns]
    rows = [dict(zip(columns, map(float, r))) for r in rng.normal(size=(3, 6))]
    answers = scoring.score(loaded, rows, schema)
    assert scoring._compiled[loaded] is not None
    expected = model.predict_proba(np.array([[r[c] for c in columns] for r in rows]))
    assert [a["probability"] for a in answers] == [float(p.max()) for p in expected]
