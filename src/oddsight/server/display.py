"""Scores for a chart: a long every-frame array cut to a few thousand points without losing a peak."""

from __future__ import annotations

import numpy as np


def decimate(scores: np.ndarray, points: int) -> np.ndarray:
    """Frame indices to draw: all of them when they fit in ``points``, else the first and last frame and the
    lowest and highest frame of each of ``points // 2`` equal buckets, so every peak (and dip) stays."""
    n = len(scores)
    if n <= points:
        return np.arange(n)
    buckets = max(1, points // 2 - 1)
    edges = np.linspace(0, n, buckets + 1).astype(np.int64)
    starts = edges[:-1]
    highest = np.maximum.reduceat(scores, starts)
    lowest = np.minimum.reduceat(scores, starts)
    keep = [np.array([0, n - 1])]
    for start, end, hi, lo in zip(starts, edges[1:], highest, lowest, strict=True):
        part = scores[start:end]
        keep.append(start + np.array([int(np.argmax(part == hi)), int(np.argmax(part == lo))]))
    return np.unique(np.concatenate(keep))
