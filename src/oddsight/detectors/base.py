"""The detector contract, in the spirit of scikit-learn and PyOD.

``__init__`` stores parameters only; ``fit`` learns state (attributes ending in ``_``);
``score`` returns one float per sampled frame, **higher = more anomalous**. Every detector
also offers ``default_threshold()`` in its own score scale; thresholds are never baked into scores.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from typing import Any, ClassVar

import numpy as np

from oddsight.errors import ConfigError
from oddsight.features.types import Features


class Detector(ABC):
    name: ClassVar[str]
    requires_fit: ClassVar[bool] = False

    def fit(self, videos: Sequence[Features]) -> Detector:
        """Learn from normal videos (optional for training-free detectors). Returns ``self``."""
        return self

    @abstractmethod
    def score(self, features: Features) -> np.ndarray:
        """One float per sampled frame of ``features``, higher = more anomalous."""

    @abstractmethod
    def default_threshold(self) -> float:
        """The threshold at which this detector's scores mean 'anomalous' unless told otherwise."""

    def get_params(self) -> dict[str, Any]:
        return {k: v for k, v in vars(self).items() if not k.endswith("_") and not k.startswith("_")}

    @staticmethod
    def _check_features(features: Features) -> np.ndarray:
        """The embeddings as stored (no copy); compute on them in float32 blocks (``row_blocks``)."""
        x = np.asarray(features.embeddings)
        if x.ndim != 2 or len(x) == 0:
            raise ConfigError(f"expected features of shape (n_frames > 0, dim), got {x.shape}")
        return x


BLOCK_ROWS = 1024  # rows per block: scoring memory stays flat however long the video


def row_blocks(n: int, size: int = BLOCK_ROWS) -> list[slice]:
    return [slice(start, min(n, start + size)) for start in range(0, n, size)]


def unit_halves(x: np.ndarray, parts: int = 2) -> np.ndarray:
    """L2-normalise each of ``parts`` equal blocks (e.g. CLS and mean-patch) and the whole, in float32."""
    x = x.astype(np.float32, copy=False)
    blocks = np.split(x, parts, axis=1) if x.shape[1] % parts == 0 else [x]
    blocks = [b / np.maximum(np.linalg.norm(b, axis=1, keepdims=True), 1e-12) for b in blocks]
    return np.concatenate(blocks, axis=1) / np.sqrt(len(blocks))
