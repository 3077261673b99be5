"""Loading a version's model from the real tracking server, with the bounded cache."""

import pytest

from registry import model_loading, services
from registry.model_loading import ModelLoadError, load_version

from .conftest import log_sklearn_model, training_data

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def empty_cache(settings, tmp_path):
    settings.VAR_DIR = tmp_path
    model_loading.cache_clear()
    yield
    model_loading.cache_clear()


def register(contributor, source, **extra):
    return services.version_register_from_source(
        actor=contributor, model_name="churn-predictor", source=source, **extra
    )


def test_sklearn_model_loads_natively_and_scores_like_mlflow_pyfunc(tracking, registered_model, contributor):
    import mlflow.pyfunc

    _, info = log_sklearn_model()
    version = register(contributor, info.model_uri)

    loaded = load_version(version)

    assert loaded.flavor == "sklearn"
    assert loaded.input_columns == ("tenure_months", "monthly_spend", "support_tickets")
    X, _ = training_data(rows=5, seed=3)
    expected = mlflow.pyfunc.load_model(info.model_uri).predict(X)
    assert (loaded.predict(X) == expected).all()
    proba = loaded.predict_proba(X.iloc[:1])
    assert proba.shape == (1, 2) and abs(proba.sum() - 1) < 1e-9


def test_cache_returns_the_same_object_and_is_bounded(tracking, registered_model, contributor, settings):
    settings.MODEL_CACHE_SIZE = 1
    _, info = log_sklearn_model()
    v1 = register(contributor, info.model_uri)
    v2 = register(contributor, info.model_uri)

    first = load_version(v1)
    assert load_version(v1) is first
    load_version(v2)

    assert model_loading.cached_versions() == [("churn-predictor", 2)]
    assert load_version(v1) is not first  # evicted, so loaded again


def test_signature_that_differs_from_the_stored_schema_is_refused(tracking, registered_model, contributor):
    _, info = log_sklearn_model()
    version = register(
        contributor,
        info.model_uri,
        input_schema=[{"name": "age", "type": "double"}, {"name": "plan", "type": "string"}],
    )

    with pytest.raises(ModelLoadError) as raised:
        load_version(version)

    assert "churn-predictor v1" in str(raised.value) and "differs" in str(raised.value)
    assert model_loading.cached_versions() == []


def test_an_artifact_that_cannot_be_loaded_gives_a_clear_error(tracking, registered_model, contributor, tmp_path):
    # With a tracking server set such a source is refused at registration (mlflow_source);
    # registered as given, it may vanish later: loading must then say so.
    version = services.version_register(
        actor=contributor, model_name="churn-predictor", source=f"file://{tmp_path}/nowhere/model"
    )

    with pytest.raises(ModelLoadError) as raised:
        load_version(version)

    assert "churn-predictor v1 cannot be loaded" in str(raised.value)
    assert "nowhere/model" in str(raised.value)


def test_pyfunc_flavour_is_used_when_there_is_no_native_one(tracking, registered_model, contributor):
    import mlflow
    import pandas as pd

    class Doubler(mlflow.pyfunc.PythonModel):
        def predict(self, context, model_input, params=None):
            return model_input["x"] * 2

    with mlflow.start_run():
        info = mlflow.pyfunc.log_model(name="doubler", python_model=Doubler(), input_example=pd.DataFrame({"x": [1.0]}))
    version = register(contributor, info.model_uri)

    loaded = load_version(version)

    assert loaded.flavor == "python_function" and not loaded.has_proba
    assert list(loaded.predict(pd.DataFrame({"x": [2.0, 3.5]}))) == [4.0, 7.0]
