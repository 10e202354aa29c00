"""Table 2's metrics: macro precision and recall, F1 per class, accuracy."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np


def classification_metrics(true: Sequence[str], predicted: Sequence[str], classes: Sequence[str]) -> dict[str, float]:
    """Macro precision and recall over ``classes``, F1 per class, and accuracy (Table 2).

    A prediction outside ``classes`` (e.g. background) counts as a miss; a class never
    predicted has precision 0; a class absent from ``true`` has F1 NaN.
    """
    t, p = np.asarray(true), np.asarray(predicted)
    out: dict[str, float] = {}
    precisions, recalls = [], []
    for c in classes:
        tp = float(np.sum((t == c) & (p == c)))
        n_pred, n_true = float(np.sum(p == c)), float(np.sum(t == c))
        precision = tp / n_pred if n_pred else 0.0
        recall = tp / n_true if n_true else float("nan")
        if n_true:
            precisions.append(precision)
            recalls.append(recall)
        f1 = 2 * precision * recall / (precision + recall) if n_true and (precision + recall) else (
            0.0 if n_true else float("nan"))
        out[f"f1_{c}"] = f1
    out = {"precision": float(np.mean(precisions)) if precisions else float("nan"),
           "recall": float(np.mean(recalls)) if recalls else float("nan"), **out,
           "accuracy": float(np.mean(t == p)) if len(t) else float("nan")}
    return out
