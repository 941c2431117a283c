"""Small interfaces every model backend implements."""

from __future__ import annotations

from typing import Protocol, runtime_checkable

import numpy as np


@runtime_checkable
class ImageEncoder(Protocol):
    """Turns RGB frames into one embedding each.

    ``preprocess`` is cheap numpy work (run in the decoding thread); ``embed`` runs the network.
    """

    model_id: str
    input_size: tuple[int, int]  # (width, height) frames are resized to before preprocess
    dim: int

    def preprocess(self, images: np.ndarray) -> np.ndarray:
        """(B, H, W, 3) uint8 RGB at ``input_size`` -> the network's input tensor."""
        ...

    def embed(self, tensor: np.ndarray) -> np.ndarray:
        """The network's input tensor -> (B, dim) float32 embeddings."""
        ...


@runtime_checkable
class TextEncoder(Protocol):
    """Turns texts into L2-normalised embeddings."""

    model_id: str

    def encode_text(self, texts: list[str]) -> np.ndarray:
        """(N,) texts -> (N, dim) float32, each row of unit length."""
        ...


def l2_normalize(x: np.ndarray, axis: int = -1) -> np.ndarray:
    norm = np.linalg.norm(x, axis=axis, keepdims=True)
    return x / np.maximum(norm, 1e-12)


def normalize_images(images: np.ndarray, mean: tuple[float, ...], std: tuple[float, ...]) -> np.ndarray:
    """(B, H, W, 3) uint8 -> (B, 3, H, W) float32, scaled to [0, 1] then standardised per channel."""
    scale = np.asarray([1.0 / (255.0 * s) for s in std], dtype=np.float32)
    shift = np.asarray([m / s for m, s in zip(mean, std, strict=True)], dtype=np.float32)
    x = images.astype(np.float32) * scale - shift
    return np.ascontiguousarray(x.transpose(0, 3, 1, 2))
