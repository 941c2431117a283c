"""Smoothing over time and interpolation from sampled frames to every frame."""

from __future__ import annotations

from collections import deque

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


Smoothed = tuple[int, float, float, float]  # (frame, t, raw, smoothed)


class Smoother:
    """:func:`smooth` one sample at a time. ``centred`` (a file, the future known): a sample's value is the mean
    over ``window_s`` around it, given once the samples after it are in (half a window late); else (live) the mean
    over the ``window_s`` before it, at once. A windowed scorer's samples share their window's time ``at``: they
    count once, as one value."""

    def __init__(self, window_s: float, *, centred: bool) -> None:
        self.window_s, self.centred = float(window_s), centred
        self._values: deque[tuple[float, float]] = deque()  # (time, raw) of the samples a window may still need
        self._waiting: deque[tuple[int, float, float, float]] = deque()  # centred: (frame, t, raw, at) not given yet

    def push(self, frame: int, t: float, raw: float, at: float | None = None) -> list[Smoothed]:
        at = t if at is None else at
        if not self._values or self._values[-1][0] != at:
            self._values.append((at, float(raw)))
        if self.window_s <= 0:
            self._values.clear()
            return [(frame, t, raw, float(raw))]
        if not self.centred:
            while at - self._values[0][0] > self.window_s:
                self._values.popleft()
            return [(frame, t, raw, self._mean(at - self.window_s, at))]
        self._waiting.append((frame, t, raw, at))
        half = self.window_s / 2
        out = []
        while self._waiting and at > self._waiting[0][3] + half:
            out.append(self._give(self._waiting.popleft()))
        return out

    def flush(self) -> list[Smoothed]:
        """The samples still waiting for later ones (the scores ended)."""
        out = [self._give(w) for w in self._waiting]
        self._waiting.clear()
        return out

    def _give(self, waiting: tuple[int, float, float, float]) -> Smoothed:
        frame, t, raw, at = waiting
        half = self.window_s / 2
        value = self._mean(at - half, at + half)
        oldest = self._waiting[0][3] if self._waiting else at
        while self._values and self._values[0][0] < oldest - half:
            self._values.popleft()
        return frame, t, raw, value

    def _mean(self, lo: float, hi: float) -> float:
        inside = [v for time, v in self._values if lo <= time <= hi]
        return float(np.mean(inside)) if inside else 0.0


class FrameFill:
    """:func:`interpolate_to_frames` one sample at a time: each sample at frame position ``pos`` (a window's
    middle may fall between frames) gives the scores of the whole frames since the sample before it (linear in
    between; the first sample's value for the frames before it, the last one's for those after it, see
    :meth:`flush`), with their times."""

    def __init__(self, frame_s: float) -> None:
        self.frame_s = frame_s
        self._last: tuple[float, float, float] | None = None

    def push(self, pos: float, t: float, score: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        last = self._last
        if last is not None and pos <= last[0]:
            return _EMPTY  # a position already given (a windowed scorer's overlap): the first value stands
        self._last = (pos, t, score)
        frames = np.arange(0 if last is None else int(np.floor(last[0])) + 1, int(np.floor(pos)) + 1)
        if last is None:
            return frames, t - (pos - frames) * self.frame_s, np.full(len(frames), score, np.float64)
        step = (frames - last[0]) / (pos - last[0])
        return frames, last[1] + step * (t - last[1]), last[2] + step * (score - last[2])

    def flush(self, n_frames: int | None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """The frames after the last sample up to ``n_frames`` (the video's frame count), at its value."""
        if self._last is None or n_frames is None:
            return _EMPTY
        pos, t, score = self._last
        frames = np.arange(int(np.floor(pos)) + 1, n_frames)
        return frames, t + (frames - pos) * self.frame_s, np.full(len(frames), score, np.float64)


_EMPTY = (np.zeros(0, np.int64), np.zeros(0), np.zeros(0))
