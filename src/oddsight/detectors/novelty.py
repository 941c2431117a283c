"""Training-free novelty: how unlike each frame is to the rest of the same video."""

from __future__ import annotations

import numpy as np

from oddsight.detectors.base import Detector, unit_halves
from oddsight.errors import ConfigError
from oddsight.features.types import Features


class NoveltyDetector(Detector):
    """Mean cosine distance from each frame to its ``k`` nearest frames of the same video.

    Frames within ``gap_s`` seconds of the frame itself are excluded, so a slow change of
    scene is not novel but an event unlike anything else in the video is. Needs no setup,
    no prompts and no training data. Scores are cosine distances (0 = seen before).
    """

    name = "novelty"

    def __init__(self, k: int = 3, gap_s: float = 2.0, threshold: float = 0.03) -> None:
        self.k = k
        self.gap_s = gap_s
        self.threshold = threshold

    def score(self, features: Features) -> np.ndarray:
        if self.k < 1 or self.gap_s < 0:
            raise ConfigError(f"novelty needs k >= 1 and gap_s >= 0, got k={self.k}, gap_s={self.gap_s}")
        x = unit_halves(self._check_features(features))
        t = np.asarray(features.timestamps, dtype=np.float64)
        n = len(x)
        scores = np.zeros(n, dtype=np.float32)
        block = max(1, (1 << 18) // n)  # distances in blocks of <= 256k values: memory does not grow with n
        for start in range(0, n, block):
            stop = min(n, start + block)
            dist = 1.0 - x[start:stop] @ x.T
            near = np.abs(t[start:stop, None] - t[None, :]) <= self.gap_s
            dist[near] = np.inf
            k = min(self.k, n)
            part = np.partition(dist, k - 1, axis=1)[:, :k]
            finite = np.isfinite(part)
            count = finite.sum(axis=1)
            total = np.where(finite, part, 0.0).sum(axis=1)
            # a frame with nothing outside its gap (a very short video) has nothing to differ from: 0
            scores[start:stop] = np.where(count > 0, total / np.maximum(count, 1), 0.0)
        return scores

    def default_threshold(self) -> float:
        return self.threshold
