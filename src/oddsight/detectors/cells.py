"""Scoring per location: features laid out on a grid of cells, each cell compared with the same cell and its
8 neighbours in a memory of frames (normal footage, or the video's own other frames), and the frame scored by
its most unusual cells. A small actor (a cyclist among walkers) then counts in full instead of being averaged
away over the whole frame.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache

import numpy as np

from oddsight.detectors.base import row_blocks
from oddsight.features.types import Features
from oddsight.models.registry import cell_grid

TOP_CELLS = 10  # a frame's score: the mean of its this many highest cell scores (of 256)
CELL_BLOCK_ROWS = 128  # query frames per block: each cell's (rows, memory, 9) distances stay ~1 MB


@dataclass
class CellView:
    """One sample seen per cell: how unusual each cell was (``scores``, (C,)), its features (``cells``, (C, d), as
    encoded) and what is usual there (``usual``, (C, d): the median of the memory it was compared with)."""

    scores: np.ndarray
    cells: np.ndarray
    usual: np.ndarray


def view_of(row: np.ndarray, memory: np.ndarray, scale: np.ndarray, grid: int, allowed=None) -> CellView:
    """The :class:`CellView` of one stored feature row against ``memory`` ((m, C, d), already divided by
    ``scale``); ``allowed`` ((1, m)) masks memory frames the row may not use."""
    cells = as_cells(row[None, :], grid)
    scores = cell_distances(cells / scale, memory, grid, allowed)[0]
    usual = np.median(memory, axis=0) * scale if len(memory) else np.zeros_like(cells[0])
    return CellView(scores, cells[0], usual)


def grid_of(features: Features) -> int | None:
    """The cell grid side of ``features`` (cell-major embeddings), or None for one vector a frame."""
    return cell_grid(features.model_id)


def as_cells(x: np.ndarray, grid: int) -> np.ndarray:
    """(n, grid * grid * d) -> (n, grid * grid, d) float32."""
    return np.asarray(x, dtype=np.float32).reshape(len(x), grid * grid, -1)


@cache
def neighbours(grid: int) -> np.ndarray:
    """(grid * grid, 9) cell indices: each cell and its 8 neighbours (edge cells repeat themselves). Built once
    per grid size (every block of every video asks for it); read-only."""
    out = np.empty((grid * grid, 9), dtype=np.int64)
    for r in range(grid):
        for c in range(grid):
            near = [
                rr * grid + cc
                for rr in (r - 1, r, r + 1)
                for cc in (c - 1, c, c + 1)
                if 0 <= rr < grid and 0 <= cc < grid
            ]
            out[r * grid + c] = near + [r * grid + c] * (9 - len(near))
    out.setflags(write=False)
    return out


def cell_distances(query: np.ndarray, memory: np.ndarray, grid: int, allowed: np.ndarray | None = None) -> np.ndarray:
    """Per cell, the Euclidean distance from each query frame to the nearest memory frame at that cell or a
    neighbouring one. ``query`` (n, C, d), ``memory`` (m, C, d); ``allowed`` (n, m) masks memory frames a query may
    use (False = not). Returns (n, C) float32; a query with no allowed memory frame gets 0 (nothing to differ from).
    """
    n, cells, _ = query.shape
    near = neighbours(grid)
    out = np.zeros((n, cells), dtype=np.float32)
    if len(memory) == 0 or n == 0:
        return out
    query, memory = np.asarray(query, np.float32), np.asarray(memory, np.float32)
    # squared distances straight from one product: [q, 1, |q|^2] . [-2m, |m|^2, 1] = |q - m|^2
    q_aug = np.concatenate([query, np.ones((n, cells, 1), np.float32), (query**2).sum(axis=2, keepdims=True)], axis=2)
    m_aug = np.concatenate(
        [-2.0 * memory, (memory**2).sum(axis=2, keepdims=True), np.ones((len(memory), cells, 1), np.float32)], axis=2
    )
    m_aug = np.ascontiguousarray(m_aug.transpose(1, 2, 0), dtype=np.float32)  # (C, d + 2, m): a cell's is one block
    blocked = None if allowed is None else ~allowed
    for c in range(cells):
        q_c = q_aug[:, c]
        best = q_c @ m_aug[near[c, 0]]  # (n, m); the nearest of the 9 cells of each memory frame, one at a
        for k in range(1, 9):  # time: a min over a strided axis of 9 was 14x slower than this
            np.minimum(best, q_c @ m_aug[near[c, k]], out=best)
        if blocked is not None:
            best[blocked] = np.inf
        nearest = best.min(axis=1)
        out[:, c] = np.sqrt(np.maximum(np.where(np.isfinite(nearest), nearest, 0.0), 0.0))
    return out


def gather_near(cells: np.ndarray, grid: int) -> np.ndarray:
    """Frames' cells (k, C, d) laid out for :func:`nearest_in`: (d, k, 9, C), each cell's 9 neighbours gathered,
    cells last (the nearest is then a min over rows, vectorised along the cells: 2.5x faster than over a last axis
    of 9)."""
    return np.ascontiguousarray(cells[:, neighbours(grid)].transpose(3, 0, 2, 1), dtype=np.float32)


def nearest_in(cells: np.ndarray, near_bank: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """One frame's squared distance per cell to the nearest same-or-neighbouring cell of a memory kept gathered
    (``near_bank`` (d, m, 9, C), see :func:`gather_near`), each feature weighted (``weights`` (d,): 1 / spread**2).
    The live scorer's form of :func:`cell_distances`: one query, no Python loop over cells, one feature at a time
    (a contiguous slice each). ``cells`` (C, d); returns (C,) float32, inf with an empty memory."""
    dims, m = near_bank.shape[:2]
    if m == 0:
        return np.full(len(cells), np.inf, dtype=np.float32)
    total = np.empty(near_bank.shape[1:], dtype=np.float32)
    part = np.empty_like(total)
    for k in range(dims):
        out = total if k == 0 else part
        np.subtract(near_bank[k], cells[None, None, :, k], out=out)
        np.square(out, out=out)
        out *= np.float32(weights[k])
        if k:
            total += part
    return total.reshape(-1, total.shape[-1]).min(axis=0)


def top_mean(cell_scores: np.ndarray, top: int = TOP_CELLS) -> np.ndarray:
    """(n, C) -> (n,): the mean of each frame's ``top`` highest cell scores."""
    top = min(top, cell_scores.shape[1])
    return np.partition(cell_scores, -top, axis=1)[:, -top:].mean(axis=1).astype(np.float32)


def cell_scale(embeddings: np.ndarray, grid: int) -> np.ndarray:
    """(n, grid * grid * d) as stored -> (d,): the spread of each feature over all frames and cells, the unit
    distances are measured in. Summed in row blocks, so no float32 copy of a long video is ever made."""
    dims = embeddings.shape[1] // (grid * grid)
    total, squares, count = np.zeros(dims), np.zeros(dims), 0
    for rows in row_blocks(len(embeddings)):
        block = as_cells(embeddings[rows], grid).reshape(-1, dims).astype(np.float64)
        total += block.sum(axis=0)
        squares += (block**2).sum(axis=0)
        count += len(block)
    mean = total / max(count, 1)
    scale = np.sqrt(np.maximum(squares / max(count, 1) - mean**2, 0.0))
    return np.where(scale > 1e-6, scale, 1.0).astype(np.float32)


def subsample(n: int, limit: int) -> np.ndarray:
    """At most ``limit`` indices spread evenly over ``range(n)``."""
    return np.arange(n) if n <= limit else np.unique(np.linspace(0, n - 1, limit).round().astype(np.int64))
