"""/invocations answers what `mlflow models serve` answers for the same model: the
answer is computed here by MLflow's own pyfunc loader and its scoring server's JSON
encoder, so a client can switch servers by changing the URL."""

import io
import json

import numpy as np
import pytest

from tests.conftest import promote

from .conftest import ROW, SERVING_SCHEMA

ROWS = [ROW, {"tenure_months": 40.0, "monthly_spend": 20.0, "support_tickets": 0}]


def save_with_predict_fn(path, predict_fn: str) -> str:
    import mlflow.sklearn
    import numpy as np
    import pandas as pd
    from mlflow.models import infer_signature
    from sklearn.linear_model import LogisticRegression

    rng = np.random.default_rng(1)
    X = pd.DataFrame(
        {
            "tenure_months": rng.uniform(0, 60, 200),
            "monthly_spend": rng.uniform(10, 200, 200),
            "support_tickets": rng.integers(0, 10, 200).astype("int64"),
        }
    )
    y = ((X["support_tickets"] > 4) | (X["tenure_months"] < 6)).astype(int)
    model = LogisticRegression(max_iter=500).fit(X, y)
    mlflow.sklearn.save_model(
        model,
        str(path),
        signature=infer_signature(X, getattr(model, predict_fn)(X)),
        pyfunc_predict_fn=predict_fn,
        pip_requirements=["scikit-learn"],
    )
    return str(path)


def mlflow_serve_answer(path: str, rows: list[dict]) -> dict:
    """The body `mlflow models serve` sends back, from MLflow's own code."""
    import mlflow.pyfunc
    import pandas as pd
    from mlflow.pyfunc.scoring_server import predictions_to_json

    frame = pd.DataFrame(rows)[[c["name"] for c in SERVING_SCHEMA]]
    frame["support_tickets"] = frame["support_tickets"].astype("int64")
    out = io.StringIO()
    predictions_to_json(mlflow.pyfunc.load_model(path).predict(frame), out)
    return json.loads(out.getvalue())


@pytest.mark.parametrize("predict_fn", ["predict_proba", "predict", "predict_log_proba"])
def test_invocations_answers_what_mlflow_serve_answers(api, viewer, contributor, approver, registered_model,
                                                       tmp_path, predict_fn):
    path = save_with_predict_fn(tmp_path / predict_fn, predict_fn)
    promote(contributor, approver, source=f"file://{path}", schema=SERVING_SCHEMA)

    r = api(viewer).post("/api/v1/serve/churn-predictor/invocations", {"dataframe_records": ROWS}, format="json")

    assert r.status_code == 200, r.json()
    ours, theirs = r.json(), mlflow_serve_answer(path, ROWS)
    assert list(ours) == list(theirs) == ["predictions"]
    assert len(ours["predictions"]) == len(theirs["predictions"]) == 2
    assert np.asarray(ours["predictions"]).shape == np.asarray(theirs["predictions"]).shape
    np.testing.assert_allclose(ours["predictions"], theirs["predictions"], rtol=1e-12)


def test_predict_keeps_the_richer_answer_with_every_probability(api, viewer, contributor, approver,
                                                                 registered_model, tmp_path):
    path = save_with_predict_fn(tmp_path / "m", "predict_proba")
    promote(contributor, approver, source=f"file://{path}", schema=SERVING_SCHEMA)

    r = api(viewer).post("/api/v1/serve/churn-predictor/predict", {"instances": [ROW]}, format="json")

    assert r.status_code == 200, r.json()
    answer = r.json()["predictions"][0]
    assert answer["label"] in (0, 1)
    assert answer["probability"] == max(answer["probabilities"])
    assert sum(answer["probabilities"]) == pytest.approx(1.0)
