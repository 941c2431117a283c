"""What a person said was nothing: the false alarms' vectors of a camera, and its typical score, for the scorers
that have no memory of their own (oneclass, zeroshot, the language methods)."""

from __future__ import annotations

from collections import deque

import numpy as np


class NormalMemory:
    """Frames a person said were false alarms, for the scorers that have no memory of their own (oneclass,
    zeroshot, the language methods): a vector as close to them as they are to each other (cosine distance, at most
    ``RADIUS_FACTOR`` times their median nearest-neighbour step) is "that scene again"."""

    RADIUS_FACTOR = 2.0
    MIN_RADIUS = 1e-4  # identical vectors (a repeated caption) still match
    SINGLE_RADIUS = 0.01  # the radius around a false alarm that kept a single vector

    def __init__(self) -> None:
        self.bank: np.ndarray | None = None
        self.radius = 0.0

    def set(self, vectors: np.ndarray | None) -> None:
        if vectors is None or len(vectors) == 0:
            self.bank = None
            return
        bank = np.asarray(vectors, np.float32).reshape(len(vectors), -1)
        bank = bank / np.maximum(np.linalg.norm(bank, axis=1, keepdims=True), 1e-12)
        if len(bank) >= 2:
            distances = 1.0 - bank @ bank.T
            np.fill_diagonal(distances, np.inf)
            self.radius = max(self.RADIUS_FACTOR * float(np.median(distances.min(axis=1))), self.MIN_RADIUS)
        else:
            self.radius = self.SINGLE_RADIUS
        self.bank = bank

    def matches(self, vector: np.ndarray) -> bool:
        """Whether ``vector`` is as close to a false alarm as that false alarm's frames are to each other."""
        if self.bank is None:
            return False
        v = np.asarray(vector, np.float32).ravel()
        if v.size != self.bank.shape[1]:  # feedback given under another encoder: it cannot apply
            return False
        return float(1.0 - np.max(self.bank @ (v / max(float(np.linalg.norm(v)), 1e-12)))) <= self.radius


class Calm:
    """The camera's typical score: the median of its last ``window`` scores (what "that scene again" scores)."""

    def __init__(self, window: int = 240) -> None:
        self._recent: deque[float] = deque(maxlen=window)

    def add(self, score: float) -> None:
        self._recent.append(score)

    def cap(self, score: float) -> float:
        return min(score, float(np.median(self._recent))) if self._recent else score
