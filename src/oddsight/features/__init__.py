"""Per-frame embeddings of sampled frames, their extraction and their on-disk cache."""

from oddsight.features.types import Features

__all__ = ["Features"]
