"""Smoothing over time and interpolation from sampled frames to every frame."""

from __future__ import annotations

import numpy as np


def smooth(scores: np.ndarray, timestamps: np.ndarray, window_s: float) -> np.ndarray:
    """Centred moving average over ``window_s`` seconds of video time (not frames).

    Uses each sample's real timestamp, so uneven sampling and any frame rate are handled.
    ``window_s <= 0`` returns the scores unchanged.
    """
    s = np.asarray(scores, dtype=np.float64)
    if window_s <= 0 or len(s) < 2:
        return s.astype(np.float32)
    t = np.asarray(timestamps, dtype=np.float64)
    half = window_s / 2.0
    lo = np.searchsorted(t, t - half, side="left")
    hi = np.searchsorted(t, t + half, side="right")
    csum = np.concatenate([[0.0], np.cumsum(s)])
    return ((csum[hi] - csum[lo]) / (hi - lo)).astype(np.float32)


def interpolate_to_frames(indices: np.ndarray, scores: np.ndarray, n_frames: int) -> np.ndarray:
    """Linear interpolation from sampled frame indices to all ``n_frames``; ends are held flat."""
    if len(indices) == 0:
        return np.zeros(n_frames, dtype=np.float32)
    frames = np.arange(n_frames, dtype=np.float64)
    return np.interp(frames, np.asarray(indices, dtype=np.float64), np.asarray(scores, np.float64)).astype(np.float32)
