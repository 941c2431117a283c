"""Training-free novelty: how unlike each frame is to the rest of the same video."""

from __future__ import annotations

import numpy as np

from oddsight.detectors.base import Detector, row_blocks, unit_halves
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
        emb = self._check_features(features)
        t = np.asarray(features.timestamps, dtype=np.float64)
        n = len(emb)
        k = min(self.k, n)
        blocks = row_blocks(n)
        scores = np.zeros(n, dtype=np.float32)
        for rows in blocks:
            x = unit_halves(emb[rows])
            best = np.full((len(x), k), np.inf, dtype=np.float32)
            for cols in blocks:  # a running k-smallest over column blocks: no n x n matrix
                dist = 1.0 - x @ unit_halves(emb[cols]).T
                dist[np.abs(t[rows, None] - t[None, cols]) <= self.gap_s] = np.inf
                best = np.partition(np.concatenate([best, dist], axis=1), k - 1, axis=1)[:, :k]
            finite = np.isfinite(best)
            count = finite.sum(axis=1)
            total = np.where(finite, best, 0.0).sum(axis=1)
            # a frame with nothing outside its gap (a very short video) has nothing to differ from: 0
            scores[rows] = np.where(count > 0, total / np.maximum(count, 1), 0.0)
        return scores

    def default_threshold(self) -> float:
        return self.threshold
