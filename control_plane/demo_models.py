"""Real scikit-learn models for the demo, trained on generated churn data and saved as
MLflow models on local disk, so the demo serves real predictions with no tracking
server."""

from pathlib import Path

from registry.model_saving import own_model_types

FEATURES = ["tenure_months", "monthly_spend", "support_tickets", "plan", "last_login_days"]


def churn_frame(rows: int, seed: int):
    import numpy as np
    import pandas as pd

    rng = np.random.default_rng(seed)
    frame = pd.DataFrame(
        {
            "tenure_months": rng.uniform(0, 72, rows),
            "monthly_spend": rng.gamma(4.0, 15.0, rows),
            "support_tickets": rng.poisson(2.0, rows).astype("int64"),
            "plan": rng.choice(["basic", "pro", "team"], rows, p=[0.5, 0.35, 0.15]),
            "last_login_days": np.where(rng.random(rows) < 0.1, np.nan, rng.exponential(7.0, rows)),
        }
    )
    risk = 0.4 * frame["support_tickets"] - 0.05 * frame["tenure_months"] + 0.02 * frame["last_login_days"].fillna(30)
    churned = (risk + rng.normal(0, 0.5, rows) > 0).astype(int)
    return frame, churned


def save_churn_model(path: Path, *, seed: int, depth: int) -> str:
    """Train and save one version; returns its file:// source URI."""
    import mlflow.sklearn
    from sklearn.compose import ColumnTransformer
    from sklearn.ensemble import HistGradientBoostingClassifier
    from sklearn.impute import SimpleImputer
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import OneHotEncoder

    if (path / "MLmodel").exists():
        return f"file://{path}"
    X, y = churn_frame(4000, seed)
    numeric = ["tenure_months", "monthly_spend", "support_tickets", "last_login_days"]
    model = Pipeline(
        [
            (
                "prepare",
                ColumnTransformer(
                    [("num", SimpleImputer(), numeric), ("plan", OneHotEncoder(handle_unknown="ignore"), ["plan"])]
                ),
            ),
            ("classify", HistGradientBoostingClassifier(max_depth=depth, random_state=seed)),
        ]
    ).fit(X, y)
    path.parent.mkdir(parents=True, exist_ok=True)
    mlflow.sklearn.save_model(
        model, str(path), pip_requirements=["scikit-learn"], skops_trusted_types=own_model_types(model)
    )
    return f"file://{path}"

