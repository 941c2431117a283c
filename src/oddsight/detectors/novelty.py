"""Training-free novelty: how unlike each frame is to the rest of the same video."""

from __future__ import annotations

import numpy as np

from oddsight.detectors.base import Detector, row_blocks, unit_halves
from oddsight.detectors.cells import (
    CELL_BLOCK_ROWS,
    CellView,
    as_cells,
    cell_distances,
    cell_scale,
    grid_of,
    subsample,
    top_mean,
    view_of,
)
from oddsight.errors import ConfigError
from oddsight.features.cache import ScoreMemo
from oddsight.features.types import Features

# default thresholds per kind of feature, in each one's own score scale
GLOBAL_THRESHOLD = 0.03  # cosine distance between frame embeddings
CELL_THRESHOLD = 1.25  # per-cell distance in units of the video's own feature spread (chosen leave-one-dataset-out)


class NoveltyDetector(Detector):
    """How unlike each frame is to the rest of the same video. Needs no setup, prompts or training data.

    Frames within ``gap_s`` seconds of the frame itself are excluded, so a slow change of scene is not
    novel but an event unlike anything else in the video is.

    - One embedding a frame (DINOv2): mean cosine distance to its ``k`` nearest frames (0 = seen before).
    - Cell features (``motion``): each cell's distance to the nearest of the same and neighbouring cells in
      up to ``memory`` frames spread over the video, in units of the video's own feature spread; a frame
      scores the mean of its 10 most unusual cells.
    """

    name = "novelty"

    def __init__(self, k: int = 3, gap_s: float = 2.0, threshold: float | None = None, memory: int = 256) -> None:
        self.k = k
        self.gap_s = gap_s
        self.threshold = threshold
        self.memory = memory

    def use_memo(self, memo: ScoreMemo | None) -> None:
        """Keep scores in ``memo`` and take them from there for features scored before (same parameters)."""
        self._memo = memo

    def score(self, features: Features) -> np.ndarray:
        if self.k < 1 or self.gap_s < 0 or self.memory < 1:
            raise ConfigError(
                f"novelty needs k >= 1, gap_s >= 0 and memory >= 1, got k={self.k}, gap_s={self.gap_s}, "
                f"memory={self.memory}"
            )
        grid = grid_of(features)
        self.cells_ = grid is not None
        memo: ScoreMemo | None = getattr(self, "_memo", None)
        key = memo.key(self.name, self.get_params(), features) if memo is not None else None
        if grid is not None:
            self._remember_cells(features, grid)  # the explanations compare with it, memoised scores or not
        scores = memo.get(key, len(features)) if memo is not None and key is not None else None
        if scores is None:
            scores = self._score_cells(features, grid) if grid is not None else self._score_frames(features)
            if memo is not None and key is not None:
                memo.put(key, scores)
        return scores

    def _score_frames(self, features: Features) -> np.ndarray:
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

    def _remember_cells(self, features: Features, grid: int) -> None:
        """The memory the video's cells are compared with (and :meth:`cell_view` explains by)."""
        emb = self._check_features(features)  # as stored (float16): converted one block at a time
        scale = cell_scale(emb, grid)
        t = np.asarray(features.timestamps, dtype=np.float64)
        keep = subsample(len(emb), self.memory)
        self._cells = (as_cells(emb[keep], grid) / scale, t[keep], scale, grid)

    def _score_cells(self, features: Features, grid: int) -> np.ndarray:
        emb = self._check_features(features)
        memory, t_memory, scale, _ = self._cells
        t = np.asarray(features.timestamps, dtype=np.float64)
        scores = np.empty(len(emb), dtype=np.float32)
        for rows in row_blocks(len(emb), CELL_BLOCK_ROWS):
            allowed = np.abs(t[rows, None] - t_memory[None, :]) > self.gap_s
            scores[rows] = top_mean(cell_distances(as_cells(emb[rows], grid) / scale, memory, grid, allowed))
        return scores

    def cell_view(self, row: np.ndarray, t: float) -> CellView | None:
        """How one sample (a stored feature row at time ``t``) compared with the memory of the last video
        scored, cell by cell (None before any cell features were scored)."""
        if getattr(self, "_cells", None) is None:
            return None
        memory, t_memory, scale, grid = self._cells
        return view_of(row, memory, scale, grid, (np.abs(t - t_memory) > self.gap_s)[None, :])

    def default_threshold(self) -> float:
        if self.threshold is not None:
            return self.threshold
        return CELL_THRESHOLD if getattr(self, "cells_", False) else GLOBAL_THRESHOLD
