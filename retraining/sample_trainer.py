"""A real `python` trainer for retraining policies (the demo's, and a template for yours):
gradient boosting on the labelled export, saved as an MLflow model with its signature.

Policy: {"trainer": {"kind": "python", "callable": "retraining.sample_trainer.train_gradient_boosting"}}

With an MLflow tracking server (context.tracking_uri) the model is logged to a run and the
run id returned; without one it is saved under the run's folder and the folder returned.
"""

from pathlib import Path

import numpy as np
import pandas as pd

from registry.model_saving import own_model_types

from .trainers import TrainingContext


def load_training_frame(context: TrainingContext) -> tuple[pd.DataFrame, pd.Series]:
    frame = pd.read_parquet(context.data_path)
    X = frame[list(context.feature_columns)].copy()
    for name in X.columns:
        numbers = pd.to_numeric(X[name], errors="coerce")
        if numbers.notna().sum() >= X[name].notna().sum() * 0.99:  # a numeric column (text in the log is rare)
            whole = numbers.dropna()
            X[name] = numbers.astype("int64") if len(whole) == len(numbers) and (whole == whole.round()).all() else numbers
    labels = frame[context.label_column]
    numeric = pd.to_numeric(labels, errors="coerce")
    y = numeric.astype("int64") if numeric.notna().all() else labels.astype(str).str.lower()
    return X, y


def build_model(X: pd.DataFrame, *, max_depth: int = 4, seed: int = 0):
    from sklearn.compose import ColumnTransformer
    from sklearn.ensemble import HistGradientBoostingClassifier
    from sklearn.impute import SimpleImputer
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import OneHotEncoder

    numeric = [c for c in X.columns if pd.api.types.is_numeric_dtype(X[c])]
    categorical = [c for c in X.columns if c not in numeric]
    parts = [("num", SimpleImputer(), numeric)]
    if categorical:
        parts.append(("cat", OneHotEncoder(handle_unknown="ignore"), categorical))
    return Pipeline([
        ("prepare", ColumnTransformer(parts)),
        ("classify", HistGradientBoostingClassifier(max_depth=max_depth, random_state=seed)),
    ])


def save_or_log(model, X: pd.DataFrame, context: TrainingContext, *, params: dict) -> str:
    import mlflow
    import mlflow.sklearn
    from mlflow.models import infer_signature

    signature = infer_signature(X, model.predict_proba(X.head(100)))
    if context.tracking_uri:
        mlflow.set_tracking_uri(context.tracking_uri)
        mlflow.set_experiment(f"retraining-{context.model_name}")
        with mlflow.start_run(run_name=context.run_name) as run:
            mlflow.log_params(params)
            mlflow.log_metric("training_rows", len(X))
            mlflow.sklearn.log_model(model, name="model", signature=signature, pip_requirements=["scikit-learn"],
                                     skops_trusted_types=own_model_types(model))
        return run.info.run_id
    target = Path(context.data_path).parent / f"model-attempt{context.attempt}"
    if target.exists():
        import shutil

        shutil.rmtree(target)
    mlflow.sklearn.save_model(model, str(target), signature=signature, pip_requirements=["scikit-learn"],
                              skops_trusted_types=own_model_types(model))
    return str(target)


def train_gradient_boosting(context: TrainingContext) -> str:
    X, y = load_training_frame(context)
    if len(np.unique(y)) < 2:
        raise ValueError(f"The export at {context.data_path} holds one class only: nothing to learn.")
    model = build_model(X).fit(X, y)
    return save_or_log(model, X, context, params={"max_depth": 4, "rows": len(X)})
