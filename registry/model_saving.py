"""Saving scikit-learn models we trained ourselves with MLflow 3.17+."""


def own_model_types(model) -> list[str]:
    """The types a model we trained ourselves stores beyond skops' default list. MLflow 3.17
    saves scikit-learn models with skops, which refuses to load tree ensembles (and more)
    unless their types are named as trusted; skops leaves that to whoever made the file,
    so pass this as `skops_trusted_types=` only for models this process just trained."""
    import skops.io

    return skops.io.get_untrusted_types(data=skops.io.dumps(model))
