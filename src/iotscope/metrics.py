"""Classification metrics of one evaluation, as written into ``metrics.json``.

IoT (label 1) is the positive class. A host is predicted IoT when ``p_iot > 0.5``, which is the
arg-max of the two-way output. The precision / recall / F1 of the IoT class and their
support-weighted averages over both classes (the paper's Table 1.3 reports the weighted ones) are
computed by scikit-learn; a ratio with an empty denominator is 0, and the AUC of an evaluation set
holding a single class is ``None`` (undefined, and JSON has no NaN).
"""

from __future__ import annotations

import numpy as np
from sklearn import metrics as skm

METRIC_KEYS: tuple[str, ...] = (
    "accuracy",
    "loss",
    "auc",
    "precision",
    "recall",
    "f1",
    "precision_weighted",
    "recall_weighted",
    "f1_weighted",
    "confusion",
)


def classification_metrics(y_true: np.ndarray, p_iot: np.ndarray) -> dict[str, object]:
    """Accuracy, log loss, AUC-ROC, precision / recall / F1, confusion ``[[tn, fp], [fn, tp]]``.

    ``y_true`` holds 0/1 labels, ``p_iot`` the predicted probability of class 1 for each host.
    """
    y = np.asarray(y_true).astype(np.int64, copy=False)
    p = np.asarray(p_iot, dtype=np.float64)
    if y.ndim != 1 or p.shape != y.shape:
        raise ValueError(
            f"labels and probabilities must be 1-d of one length: {y.shape}, {p.shape}"
        )
    if y.size == 0:
        raise ValueError("cannot compute metrics of an empty evaluation set")
    if not np.isin(y, (0, 1)).all():
        raise ValueError(f"labels must be 0 or 1, got values {sorted(set(np.unique(y).tolist()))}")
    if not (np.isfinite(p).all() and (p >= 0).all() and (p <= 1).all()):
        raise ValueError("probabilities must be finite and within [0, 1]")
    predicted = (p > 0.5).astype(np.int64)
    precision, recall, f1, _ = skm.precision_recall_fscore_support(
        y, predicted, labels=[1], average=None, zero_division=0
    )
    weighted = skm.precision_recall_fscore_support(
        y, predicted, labels=[0, 1], average="weighted", zero_division=0
    )
    auc = float(skm.roc_auc_score(y, p)) if np.unique(y).size == 2 else None
    confusion = skm.confusion_matrix(y, predicted, labels=[0, 1])
    return {
        "accuracy": float(skm.accuracy_score(y, predicted)),
        "loss": float(skm.log_loss(y, p, labels=[0, 1])),
        "auc": auc,
        "precision": float(precision[0]),
        "recall": float(recall[0]),
        "f1": float(f1[0]),
        "precision_weighted": float(weighted[0]),
        "recall_weighted": float(weighted[1]),
        "f1_weighted": float(weighted[2]),
        "confusion": confusion.astype(int).tolist(),
    }
