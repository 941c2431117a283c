"""The visual methods' incremental scorers: features of sampled frames in (:meth:`Scorer.update`, a batch of any
size: a whole cached video or one live frame), one raw score per sample out, as soon as the mode allows.

The mode is the one documented difference between a file and a camera:

- ``offline`` (a file, the whole video known): ``novelty`` compares each frame with up to 256 frames spread over
  the *whole* video, in units of the video's own feature spread, so its scores come at :meth:`Scorer.flush`.
- ``live`` (a camera, the past only): ``novelty`` compares each frame with a seeded reservoir of the camera's past
  (frames more than ``gap_s`` earlier) in units of the running spread, at once.

``oneclass`` and ``zeroshot`` score each frame alone, the same in both modes. Everything around the scorer
(decode, resize, frame pairing, features, smoothing, events) is shared code.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass

import numpy as np

from oddsight.detectors.base import Detector
from oddsight.detectors.cells import CellView, as_cells, gather_near, grid_of, nearest_in, top_mean
from oddsight.errors import ConfigError
from oddsight.features.types import Features
from oddsight.methods.explain import describe
from oddsight.methods.normal import Calm, NormalMemory
from oddsight.temporal.events import Message

MODES = ("offline", "live")
LIVE_RAMP = 32  # live novelty: past frames until scores are no longer damped (chosen leave-one-dataset-out)
LABELS_KEPT = 1200  # live: the latest samples whose label can still be asked for (10 minutes at 2 fps)


@dataclass
class Scored:
    """Raw scores of samples, in time order; ``at`` is the time each was scored at (a window's end for the
    windowed language scorers, else the sample's own time)."""

    frames: np.ndarray
    times: np.ndarray
    scores: np.ndarray
    at: np.ndarray | None = None

    def __len__(self) -> int:
        return len(self.frames)

    def rows(self):
        at = self.times if self.at is None else self.at
        return zip(self.frames.tolist(), self.times.tolist(), self.scores.tolist(), at.tolist(), strict=True)


EMPTY = Scored(np.zeros(0, np.int64), np.zeros(0), np.zeros(0, np.float32))


class Scorer:
    """A method's scorer in one mode; feedback (false alarms) is a live concern, accepted by every scorer."""

    mode: str = "offline"
    raw_peak: bool = False  # an event's peak is its highest raw sample (the visual scorers: one sample, one frame)

    def __init__(self, default_threshold: float = 1.0) -> None:
        self.default_threshold = default_threshold

    def update(self, features: Features) -> Scored:
        raise NotImplementedError

    def flush(self) -> Scored:
        """What is still held back (the scores ended)."""
        return EMPTY

    def label(self, frame: int) -> str | None:
        """What the sample nearest ``frame`` shows, when the method can say (zeroshot's best prompt)."""
        return None

    def set_normal(self, embeddings: np.ndarray | None) -> None:
        """Frames a person said were normal here (false alarms); None forgets them."""

    ignore: np.ndarray | None = None  # cells (row-major) that never score: a camera's masks

    _said: dict[str, tuple[int, list[int] | None, str | None]] | None = None  # event -> (peak, box, words)

    def set_ignore(self, cells: np.ndarray | None) -> None:
        """Cells that never score from now on (a camera's masks, see :mod:`oddsight.live.zones`); None: all score."""
        self.ignore = cells

    def cell_view(self, frame: int) -> tuple[CellView, int, tuple[int, int]] | None:
        """How the sample nearest ``frame`` compared per cell, its grid and frame size (cell features only)."""
        return None

    def explain(self, message: Message) -> None:
        """Fill in what the event was, as the scorer knows it, when a message about it goes out: the label, and
        on cell features the box and the words of what was unusual at the peak."""
        ev = message.event
        ev.label = self.label(ev.peak_frame) or ev.label
        if self._said is None:
            self._said = {}
        said = self._said.get(ev.id)
        if said is not None and said[0] == ev.peak_frame:  # the same peak as the last message said: the same words
            ev.box, ev.reason = said[1], said[2]
            return
        view = self.cell_view(ev.peak_frame)
        if view is not None:
            if self.ignore is not None and len(self.ignore) == len(view[0].scores):
                view[0].scores[self.ignore] = 0.0  # a masked place never drove an event
            ev.box, ev.reason = describe(view[0], view[1], *view[2])
            if len(self._said) > 64:
                self._said.clear()
            self._said[ev.id] = (ev.peak_frame, ev.box, ev.reason)


def _size(features: Features) -> tuple[int, int]:
    return int(features.info.width or 0), int(features.info.height or 0)


def check_mode(mode: str) -> str:
    if mode not in MODES:
        raise ConfigError(f"mode must be one of {', '.join(MODES)}, got {mode!r}")
    return mode


def _scored(features: Features, scores: np.ndarray) -> Scored:
    scores = np.asarray(scores, dtype=np.float32)
    if scores.shape != (len(features),) or not np.all(np.isfinite(scores)):
        raise ConfigError(f"the detector returned {scores.shape} scores with non-finite values for {len(features)}")
    return Scored(np.asarray(features.indices, np.int64), np.asarray(features.timestamps, np.float64), scores)


class WholeVideo(Scorer):
    """Offline novelty: the samples are held until the scores end, then scored against the whole video."""

    raw_peak = True

    def __init__(self, detector: Detector, default_threshold: float) -> None:
        super().__init__(default_threshold)
        self.detector = detector
        self._parts: list[Features] = []
        self._whole: Features | None = None  # the video scored, kept to explain its events

    def update(self, features: Features) -> Scored:
        self._parts.append(features)
        return EMPTY

    def flush(self) -> Scored:
        if not self._parts:
            return EMPTY
        first = self._parts[0]
        whole = first if len(self._parts) == 1 else _concat(self._parts)
        self._parts, self._whole = [], whole
        return _scored(whole, self.detector.score(whole))

    def cell_view(self, frame: int) -> tuple[CellView, int, tuple[int, int]] | None:
        whole, view_of_row = self._whole, getattr(self.detector, "cell_view", None)
        if whole is None or view_of_row is None or grid_of(whole) is None or not len(whole):
            return None
        row = _nearest(whole.indices, frame)
        view = view_of_row(whole.embeddings[row], float(whole.timestamps[row]))
        return None if view is None else (view, grid_of(whole), _size(whole))


def _nearest(indices: np.ndarray, frame: int) -> int:
    """The row of the sample nearest ``frame`` (``indices`` ascending)."""
    row = int(np.clip(np.searchsorted(indices, frame), 0, len(indices) - 1))
    if row > 0 and abs(int(indices[row - 1]) - frame) <= abs(int(indices[row]) - frame):
        row -= 1
    return row


def _concat(parts: list[Features]) -> Features:
    from dataclasses import replace

    return replace(
        parts[0],
        embeddings=np.concatenate([p.embeddings for p in parts]),
        indices=np.concatenate([p.indices for p in parts]),
        timestamps=np.concatenate([p.timestamps for p in parts]),
    )


class CausalNovelty(Scorer):
    """Live novelty on cell features: each cell's distance to the nearest same-or-neighbouring cell of up to
    ``memory`` past frames older than ``gap_s``, in units of the features' running spread. Until ``min_memory``
    past frames are held every score is 0, and until ``ramp`` are held scores are scaled by how full the memory is,
    so a camera's first seconds (nothing to compare with) cannot outscore what comes later. 4 and 32 were chosen
    on the dev sets, leave-one-dataset-out (README, "Quality in both modes"); 32 and no ramp, before, left short
    clips and a camera's first 16 s with no score at all."""

    mode = "live"
    raw_peak = True

    def __init__(
        self,
        grid: int,
        default_threshold: float,
        gap_s: float = 2.0,
        memory: int = 256,
        min_memory: int = 4,
        seed: int = 0,
        ramp: int = LIVE_RAMP,
    ) -> None:
        self.grid, self.gap_s, self.memory, self.min_memory = grid, gap_s, memory, min_memory
        self.ramp = ramp  # until the memory holds this many frames, scores are scaled down in proportion
        self.default_threshold = default_threshold
        self._rng = np.random.default_rng(seed)
        self._bank: np.ndarray | None = None  # (memory, cells, d) raw features
        self._size = 0
        self._seen = 0  # frames offered to the memory so far (reservoir sampling)
        self._pending: deque[tuple[float, np.ndarray]] = deque()  # frames not yet gap_s old
        self._sum: np.ndarray | None = None
        self._sq: np.ndarray | None = None
        self._count = 0
        self._normal: np.ndarray | None = None
        # the latest samples' cell scores and features, to explain an event by its peak
        self._views: deque[tuple[int, np.ndarray, np.ndarray]] = deque(maxlen=LABELS_KEPT)
        self._size_px = (0, 0)

    def update(self, features: Features) -> Scored:
        self._size_px = _size(features)
        scores = []
        for frame, e, t in zip(features.indices, features.embeddings, features.timestamps, strict=True):
            scores.append(self.score(np.asarray(e), float(t), int(frame)))
        return _scored(features, np.asarray(scores))

    def cell_view(self, frame: int) -> tuple[CellView, int, tuple[int, int]] | None:
        if not self._views or self._size == 0:
            return None
        _, cell_scores, cells = min(self._views, key=lambda v: abs(v[0] - frame))
        usual = np.median(self._bank[: self._size], axis=0)
        view = CellView(cell_scores.astype(np.float32), cells.astype(np.float32), usual)
        return view, self.grid, self._size_px

    def score(self, embedding: np.ndarray, t: float, frame: int | None = None) -> float:
        cells = as_cells(embedding[None, :], self.grid)[0]  # (C, d)
        flat = cells.astype(np.float64)
        if self._sum is None:
            self._sum, self._sq = np.zeros(cells.shape[1]), np.zeros(cells.shape[1])
            self._bank = np.zeros((self.memory, *cells.shape), dtype=np.float32)
            # the same memory with each frame's 9 cells around every cell gathered: scored without a loop
            self._near = np.zeros((cells.shape[1], self.memory, 9, cells.shape[0]), dtype=np.float32)
        self._sum += flat.sum(axis=0)
        self._sq += (flat**2).sum(axis=0)
        self._count += len(flat)
        while self._pending and t - self._pending[0][0] > self.gap_s:
            self._remember(self._pending.popleft()[1])
        self._pending.append((t, cells))
        if self._size < min(self.min_memory, self.memory):
            return 0.0  # too little past to tell new from normal yet (a camera's first seconds)
        weights = 1.0 / self._scale() ** 2  # distances in units of the running spread
        d2 = nearest_in(cells, self._near[:, : self._size], weights)
        if self._normal is not None:
            d2 = np.minimum(d2, nearest_in(cells, self._normal, weights))
        cell_scores = np.sqrt(d2)[None, :]
        if self.ignore is not None:
            cell_scores[:, self.ignore] = 0.0
        if frame is not None:
            self._views.append((frame, cell_scores[0].astype(np.float16), cells.astype(np.float16)))
        # little past: little evidence, a damped score
        return float(top_mean(cell_scores)[0]) * min(1.0, self._size / self.ramp)

    def settle(self) -> None:
        """Everything seen so far is past (a camera's history was fed in before its stream): all of it may be
        remembered now."""
        while self._pending:
            self._remember(self._pending.popleft()[1])

    def _scale(self) -> np.ndarray:
        mean = self._sum / max(self._count, 1)
        spread = np.sqrt(np.maximum(self._sq / max(self._count, 1) - mean**2, 0.0))
        return np.where(spread > 1e-6, spread, 1.0).astype(np.float32)

    def _remember(self, cells: np.ndarray) -> None:
        self._seen += 1
        if self._size < self.memory:
            slot = self._size
            self._size += 1
        else:
            slot = int(self._rng.integers(0, self._seen))
            if slot >= self.memory:
                return
        self._bank[slot] = cells
        self._near[:, slot] = gather_near(cells[None], self.grid)[:, 0]

    def set_normal(self, embeddings: np.ndarray | None) -> None:
        """False alarms' frames: compared with always, never evicted."""
        if embeddings is None or len(embeddings) == 0:
            self._normal = None
            return
        self._normal = gather_near(as_cells(embeddings, self.grid), self.grid)  # gathered, as the memory


class FrameScorer(Scorer):
    """``oneclass`` and ``zeroshot``: each frame scored alone by the detector (any batch size, both modes). A frame
    that matches the camera's false alarms (:class:`NormalMemory`) scores no higher than its typical score."""

    raw_peak = True

    def __init__(self, detector: Detector, mode: str) -> None:
        self.detector, self.mode = detector, check_mode(mode)
        self.default_threshold = detector.default_threshold()
        self.normal = NormalMemory()
        self.calm = Calm()
        self._labels = getattr(detector, "top_prompt", None)
        self._view = getattr(detector, "cell_view", None)
        # what a label or a box is read from: the samples' features (offline all of them, live the latest)
        self._kept: deque[tuple[int, Features]] = deque(maxlen=None if self.mode == "offline" else LABELS_KEPT)

    def update(self, features: Features) -> Scored:
        raw = np.asarray(self.detector.score(features), dtype=np.float32)
        for i, embedding in enumerate(features.embeddings):
            self.calm.add(float(raw[i]))  # every frame counts in the typical score (a calm view may match too)
            if self.normal.bank is not None and self.normal.matches(embedding):
                raw[i] = self.calm.cap(float(raw[i]))  # that scene again: as calm as usual
        if self._labels is not None or (self._view is not None and grid_of(features) is not None):
            self._kept.extend((int(f), features[i : i + 1]) for i, f in enumerate(features.indices))
        return _scored(features, raw)

    def _nearest(self, frame: int) -> Features | None:
        return min(self._kept, key=lambda kept: abs(kept[0] - frame))[1] if self._kept else None

    def label(self, frame: int) -> str | None:
        nearest = self._nearest(frame) if self._labels is not None else None
        return None if nearest is None else self._labels(nearest)[0]

    def cell_view(self, frame: int) -> tuple[CellView, int, tuple[int, int]] | None:
        nearest = self._nearest(frame) if self._view is not None else None
        if nearest is None:
            return None
        view = self._view(nearest.embeddings[0], float(nearest.timestamps[0]))
        return None if view is None else (view, grid_of(nearest), _size(nearest))

    def set_normal(self, embeddings: np.ndarray | None) -> None:
        self.normal.set(embeddings)

    def set_ignore(self, cells: np.ndarray | None) -> None:
        super().set_ignore(cells)
        self.detector.ignore_cells = cells  # the detector scores per cell (oneclass on cells)

    def explain(self, message: Message) -> None:
        """oneclass on cells: the box and words (see :meth:`Scorer.explain`); zeroshot: the best-matching
        anomaly prompt at the peak, as the label and the reason."""
        super().explain(message)
        ev = message.event
        if ev.label and self._labels is not None:
            ev.reason = f"frames most similar to the prompt '{ev.label}'"
