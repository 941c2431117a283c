"""Frame- and event-level metrics, each checked against scikit-learn in the tests.

Two precision-recall summaries are kept apart on purpose:
- ``average_precision``: scikit-learn's AP (step-wise sum of precision x recall increments);
- ``pr_auc_trapezoid``: area under the PR curve by the trapezoidal rule, what LAVAD/VERA report
  as "AP" on XD-Violence (``sklearn.metrics.auc(recall, precision)``).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np


def _check(y_true: np.ndarray, scores: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    y = np.asarray(y_true).astype(bool).ravel()
    s = np.asarray(scores, dtype=np.float64).ravel()
    if y.shape != s.shape:
        raise ValueError(f"expected as many scores as labels, got {s.shape} and {y.shape}")
    if not np.all(np.isfinite(s)):
        raise ValueError("scores contain NaN or infinity")
    return y, s


def _curve(y_true: np.ndarray, scores: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Cumulative true and false positives at each distinct threshold, highest score first."""
    y, s = _check(y_true, scores)
    order = np.argsort(-s, kind="mergesort")
    s, y = s[order], y[order]
    last_of_ties = np.r_[np.flatnonzero(np.diff(s)), len(s) - 1]
    tps = np.cumsum(y)[last_of_ties]
    fps = (last_of_ties + 1) - tps
    return tps.astype(np.float64), fps.astype(np.float64)


def roc_curve(y_true: np.ndarray, scores: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(false positive rate, true positive rate), starting at (0, 0)."""
    tps, fps = _curve(y_true, scores)
    if tps[-1] == 0 or fps[-1] == 0:
        raise ValueError("ROC needs both normal and anomalous frames")
    return np.r_[0.0, fps / fps[-1]], np.r_[0.0, tps / tps[-1]]


def roc_auc(y_true: np.ndarray, scores: np.ndarray) -> float:
    """Area under the ROC curve (ties count half), as ``sklearn.metrics.roc_auc_score``."""
    fpr, tpr = roc_curve(y_true, scores)
    return float(np.trapezoid(tpr, fpr))


def precision_recall(y_true: np.ndarray, scores: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(precision, recall) at each distinct threshold, highest threshold first."""
    tps, fps = _curve(y_true, scores)
    if tps[-1] == 0:
        raise ValueError("precision-recall needs at least one anomalous frame")
    return tps / (tps + fps), tps / tps[-1]


def average_precision(y_true: np.ndarray, scores: np.ndarray) -> float:
    """scikit-learn's average precision: sum of (R_n - R_{n-1}) * P_n."""
    precision, recall = precision_recall(y_true, scores)
    return float(np.sum(np.diff(np.r_[0.0, recall]) * precision))


def pr_auc_trapezoid(y_true: np.ndarray, scores: np.ndarray) -> float:
    """Trapezoidal area under the PR curve with the (recall 0, precision 1) end point, as
    ``sklearn.metrics.auc(recall, precision)`` on ``precision_recall_curve`` (LAVAD's "AP")."""
    precision, recall = precision_recall(y_true, scores)
    return float(np.trapezoid(np.r_[1.0, precision], np.r_[0.0, recall]))


def equal_error_rate(y_true: np.ndarray, scores: np.ndarray) -> float:
    """The rate where false positives and false negatives are equal (interpolated on the ROC)."""
    fpr, tpr = roc_curve(y_true, scores)
    fnr = 1.0 - tpr
    diff = fpr - fnr  # rises from -1 to +1
    i = int(np.argmax(diff >= 0))
    if i == 0:
        return float(fpr[0])
    a, b = diff[i - 1], diff[i]
    w = 0.0 if b == a else -a / (b - a)
    return float(fpr[i - 1] + w * (fpr[i] - fpr[i - 1]))


def macro_auc(labels: Sequence[np.ndarray], scores: Sequence[np.ndarray]) -> float | None:
    """Mean of per-video AUCs over the videos that have both classes (None if none has)."""
    values = [roc_auc(y, s) for y, s in zip(labels, scores, strict=True) if 0 < np.sum(y) < len(y)]
    return float(np.mean(values)) if values else None


def spans_of(labels: np.ndarray) -> list[tuple[int, int]]:
    """Runs of 1 in a 0/1 array as (start, end inclusive)."""
    y = np.r_[0, np.asarray(labels).astype(np.int8), 0]
    edges = np.flatnonzero(np.diff(y))
    return [(int(a), int(b) - 1) for a, b in zip(edges[::2], edges[1::2], strict=True)]


def iou(a: tuple[int, int], b: tuple[int, int]) -> float:
    inter = min(a[1], b[1]) - max(a[0], b[0]) + 1
    if inter <= 0:
        return 0.0
    return inter / ((a[1] - a[0] + 1) + (b[1] - b[0] + 1) - inter)


def event_matches(
    predicted: Sequence[tuple[int, int]], truth: Sequence[tuple[int, int]], min_iou: float = 0.1
) -> tuple[int, int]:
    """Greedy one-to-one matching by IoU: (matched predicted events, matched true events)."""
    pairs = sorted(((iou(p, t), i, j) for i, p in enumerate(predicted) for j, t in enumerate(truth)), reverse=True)
    used_p: set[int] = set()
    used_t: set[int] = set()
    for value, i, j in pairs:
        if value < min_iou:
            break
        if i not in used_p and j not in used_t:
            used_p.add(i)
            used_t.add(j)
    return len(used_p), len(used_t)
