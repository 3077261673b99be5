"""Realised metrics and accuracy estimated without labels (pure numpy/scipy).

Realised: accuracy, ROC AUC (Mann-Whitney through scipy.stats.rankdata, ties averaged) and
F1 for classifiers; RMSE and MAE for regressors.

Estimated (binary classifiers with probabilities, confidence-based): on the reference data,
where labels are known, the probability range [0, 1] is cut into equal-width bins and the
observed positive rate of each bin is stored (`calibration_fit`). For a window without labels
each predicted probability p is mapped to its bin's calibrated probability c; the predicted
label is positive when p >= 0.5, so the row is right with probability c (predicted positive)
or 1 - c (predicted negative). The expected accuracy is the mean of that, which is the mean
of max(c, 1 - c) whenever the calibration keeps each bin on the same side of 0.5 as its
scores (always, for a model that is calibrated at all). The estimate follows the score
distribution: it drops when the model grows less confident; it cannot see a change of the
relation between features and label (concept drift), which needs the realised metrics.

"Probability" means the positive-class probability. Labels of two classes other than 0/1 are
ordered as sorted() orders them and the second is the positive class (scikit-learn's rule).
"""

import numpy as np
from scipy.stats import rankdata

CALIBRATION_PRIOR = 1.0  # pseudo-count at the bin's midpoint, so an empty bin trusts the score


def null_mask(values) -> np.ndarray:
    values = np.asarray(values)
    if values.dtype.kind == "f":
        return np.isnan(values)
    if values.dtype.kind == "O":
        return np.array([v is None or (isinstance(v, float) and v != v) for v in values.tolist()], dtype=bool)
    return np.zeros(len(values), dtype=bool)


def positive_class(labels):
    """1 for labels in {0, 1} (or bools); else the second of two classes in sorted order."""
    classes = sorted(set(np.asarray(labels).tolist()), key=lambda v: (str(type(v)), v))
    if set(classes) <= {0, 1}:
        return 1
    if len(classes) > 2:
        raise ValueError(f"a binary classifier needs two classes, got {classes[:5]}")
    return classes[-1]


def binarise(labels, positive) -> np.ndarray:
    return (np.asarray(labels) == positive).astype(np.int8)


def roc_auc(truth01, scores) -> float | None:
    truth = np.asarray(truth01).astype(bool)
    positives = int(truth.sum())
    negatives = len(truth) - positives
    if positives == 0 or negatives == 0:
        return None
    ranks = rankdata(np.asarray(scores, dtype=float))
    return float((ranks[truth].sum() - positives * (positives + 1) / 2) / (positives * negatives))


def _f1(truth, predicted, positive) -> float:
    tp = np.sum((predicted == positive) & (truth == positive))
    fp = np.sum((predicted == positive) & (truth != positive))
    fn = np.sum((predicted != positive) & (truth == positive))
    return float(2 * tp / (2 * tp + fp + fn)) if tp + fp + fn else 0.0


def metrics_classifier(labels, predicted_labels, probabilities=None) -> dict:
    """accuracy; F1 of the positive class for two classes, macro F1 otherwise; ROC AUC when
    positive-class probabilities are given and both classes occur (else None)."""
    truth = np.asarray(labels)
    predicted = np.asarray(predicted_labels)
    if len(truth) == 0:
        return {"accuracy": None, "roc_auc": None, "f1": None}
    if truth.dtype != predicted.dtype and (truth.dtype.kind in "iub") != (predicted.dtype.kind in "iub"):
        truth, predicted = truth.astype(str), predicted.astype(str)
    classes = set(truth.tolist()) | set(predicted.tolist())
    binary = len(classes) <= 2
    if binary:
        positive = positive_class(np.array(list(classes), dtype=object))
        f1 = _f1(truth, predicted, positive)
    else:
        f1 = float(np.mean([_f1(truth, predicted, c) for c in classes]))
    auc = None
    if probabilities is not None and binary:
        auc = roc_auc(binarise(truth, positive), probabilities)
    return {"accuracy": float(np.mean(truth == predicted)), "roc_auc": auc, "f1": f1}


def metrics_regressor(y, yhat) -> dict:
    error = np.asarray(yhat, dtype=float) - np.asarray(y, dtype=float)
    if len(error) == 0:
        return {"rmse": None, "mae": None}
    return {"rmse": float(np.sqrt(np.mean(error ** 2))), "mae": float(np.mean(np.abs(error)))}


def calibration_fit(probabilities, labels, bins: int = 20) -> dict:
    """Per equal-width probability bin the observed positive rate on the reference data,
    shrunk by one pseudo-observation towards the bin's midpoint."""
    p = np.clip(np.asarray(probabilities, dtype=float), 0.0, 1.0)
    y = np.asarray(labels).astype(float)
    edges = np.linspace(0.0, 1.0, bins + 1)
    index = np.clip(np.searchsorted(edges, p, side="right") - 1, 0, bins - 1)
    counts = np.bincount(index, minlength=bins)
    positives = np.bincount(index, weights=y, minlength=bins)
    midpoints = (edges[:-1] + edges[1:]) / 2
    rate = (positives + CALIBRATION_PRIOR * midpoints) / (counts + CALIBRATION_PRIOR)
    return {"bins": edges.tolist(), "positive_rate": rate.tolist(), "count": counts.tolist()}


def calibrated(probabilities, calibration: dict) -> np.ndarray:
    edges = np.asarray(calibration["bins"], dtype=float)
    rate = np.asarray(calibration["positive_rate"], dtype=float)
    p = np.clip(np.asarray(probabilities, dtype=float), 0.0, 1.0)
    index = np.clip(np.searchsorted(edges, p, side="right") - 1, 0, len(rate) - 1)
    return rate[index]


def accuracy_estimate(probabilities, calibration: dict, threshold: float = 0.5) -> float | None:
    """Expected accuracy of the labels predicted at `threshold`, from calibrated probabilities."""
    p = np.asarray(probabilities, dtype=float)
    p = p[np.isfinite(p)]
    if len(p) == 0 or not calibration:
        return None
    c = calibrated(p, calibration)
    return float(np.mean(np.where(p >= threshold, c, 1.0 - c)))
