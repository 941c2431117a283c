"""The incremental scoring engine: frames in, one score each and event messages out, causally.

``novelty`` compares each frame with a bounded memory of the camera's own past (frames more than ``gap_s``
earlier, kept by seeded reservoir sampling, so the same frames always give the same scores, from a file or a
stream); ``oneclass`` and ``zeroshot`` score each frame alone with the batch detectors. Scores are smoothed over
a trailing window (the past only). With no threshold given, the first ``warmup_s`` seconds set one from the
camera's own scores.
"""

from __future__ import annotations

import time
from collections import deque
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from oddsight.config import DetectConfig
from oddsight.detectors.base import Detector
from oddsight.detectors.cells import as_cells, cell_distances, top_mean
from oddsight.features.types import Features
from oddsight.live.events import EventTracker, Message
from oddsight.models.base import ImageEncoder
from oddsight.video.source import VideoInfo

# calibration: the threshold is this quantile of the warm-up scores times this margin (chosen so that a calm
# warm-up's own noise stays under it); never below the detector's own default times FLOOR
CALIBRATION_QUANTILE = 0.99
CALIBRATION_MARGIN = 1.25
CALIBRATION_FLOOR = 0.5
LIVE_METHODS = ("novelty", "oneclass", "zeroshot")  # the methods that score frame by frame, causally


class CausalNovelty:
    """``novelty`` on cell features, frame by frame: each cell's distance to the nearest same-or-neighbouring
    cell of up to ``memory`` past frames older than ``gap_s``, in units of the features' running spread. Until
    ``min_memory`` past frames are held, every score is 0."""

    def __init__(self, grid: int, gap_s: float = 2.0, memory: int = 256, min_memory: int = 32, seed: int = 0) -> None:
        self.grid, self.gap_s, self.memory, self.min_memory = grid, gap_s, memory, min_memory
        self._rng = np.random.default_rng(seed)
        self._bank: np.ndarray | None = None  # (memory, cells, d) raw features
        self._times = np.zeros(memory)
        self._size = 0
        self._seen = 0  # frames offered to the memory so far (reservoir sampling)
        self._pending: deque[tuple[float, np.ndarray]] = deque()  # frames not yet gap_s old
        self._sum: np.ndarray | None = None
        self._sq: np.ndarray | None = None
        self._count = 0
        self._normal: np.ndarray | None = None

    def _scale(self) -> np.ndarray:
        mean = self._sum / max(self._count, 1)
        spread = np.sqrt(np.maximum(self._sq / max(self._count, 1) - mean**2, 0.0))
        return np.where(spread > 1e-6, spread, 1.0).astype(np.float32)

    def score(self, embedding: np.ndarray, t: float) -> float:
        cells = as_cells(embedding[None, :], self.grid)[0]  # (C, d)
        flat = cells.astype(np.float64)
        if self._sum is None:
            self._sum, self._sq = np.zeros(cells.shape[1]), np.zeros(cells.shape[1])
            self._bank = np.zeros((self.memory, *cells.shape), dtype=np.float32)
        self._sum += flat.sum(axis=0)
        self._sq += (flat**2).sum(axis=0)
        self._count += len(flat)
        while self._pending and t - self._pending[0][0] > self.gap_s:
            self._remember(*self._pending.popleft())
        self._pending.append((t, cells))
        if self._size < min(self.min_memory, self.memory):
            return 0.0  # too little past to tell new from normal yet (a camera's first seconds)
        scale = self._scale()
        bank = (
            self._bank[: self._size]
            if self._normal is None
            else np.concatenate([self._bank[: self._size], self._normal])
        )
        bank = bank / scale
        return float(top_mean(cell_distances((cells / scale)[None], bank, self.grid))[0])

    def _remember(self, t: float, cells: np.ndarray) -> None:
        self._seen += 1
        if self._size < self.memory:
            slot = self._size
            self._size += 1
        else:
            slot = int(self._rng.integers(0, self._seen))
            if slot >= self.memory:
                return
        self._bank[slot] = cells
        self._times[slot] = t

    def set_normal(self, embeddings: np.ndarray | None) -> None:
        """Frames a person said are normal here (false alarms): compared with always, never evicted."""
        self._normal = None if embeddings is None or len(embeddings) == 0 else as_cells(embeddings, self.grid)


class FrameDetector:
    """A fitted or prompt-based batch detector (oneclass, zeroshot) applied to one frame at a time.

    Feedback: frames as close to a false alarm's frames as those frames are to each other (cosine distance, at
    most ``NORMAL_RADIUS_FACTOR`` times their median nearest-neighbour step) score no higher than the camera's
    typical score (the median of its last ``CALM_WINDOW`` scores), so that scene does not raise an event again.
    """

    NORMAL_RADIUS_FACTOR = 2.0
    SINGLE_FRAME_RADIUS = 0.01  # the radius around a false alarm that kept a single frame
    CALM_WINDOW = 240

    def __init__(self, detector: Detector, model_id: str) -> None:
        self.detector, self.model_id = detector, model_id
        self._info = VideoInfo("live", "stream", 0, 0, 1.0, None, None)
        self._normal: np.ndarray | None = None
        self._radius = 0.0
        self._recent: deque[float] = deque(maxlen=self.CALM_WINDOW)

    def _one(self, embedding: np.ndarray, t: float) -> Features:
        return Features(embedding[None, :], np.zeros(1, np.int64), np.array([t]), self._info, self.model_id, "live")

    def score(self, embedding: np.ndarray, t: float) -> float:
        raw = float(np.asarray(self.detector.score(self._one(embedding, t)))[0])
        if self._normal is not None and self._recent and self.normal_distance(embedding) <= self._radius:
            return min(raw, float(np.median(self._recent)))
        self._recent.append(raw)
        return raw

    def normal_distance(self, embedding: np.ndarray) -> float:
        """Cosine distance from ``embedding`` to the nearest frame a person said was normal (inf: none)."""
        if self._normal is None:
            return float("inf")
        v = np.asarray(embedding, np.float32).ravel()
        return float(1.0 - np.max(self._normal @ (v / max(float(np.linalg.norm(v)), 1e-12))))

    def set_normal(self, embeddings: np.ndarray | None) -> None:
        """Frames of false alarms: that scene scores as a calm frame from now on (None: forget them)."""
        if embeddings is None or len(embeddings) == 0:
            self._normal = None
            return
        bank = np.asarray(embeddings, np.float32).reshape(len(embeddings), -1)
        bank = bank / np.maximum(np.linalg.norm(bank, axis=1, keepdims=True), 1e-12)
        if len(bank) >= 2:
            distances = 1.0 - bank @ bank.T
            np.fill_diagonal(distances, np.inf)
            self._radius = self.NORMAL_RADIUS_FACTOR * float(np.median(distances.min(axis=1)))
        else:
            self._radius = self.SINGLE_FRAME_RADIUS
        self._normal = bank

    def label(self, embedding: np.ndarray) -> str | None:
        top = getattr(self.detector, "top_prompt", None)
        return None if top is None else top(self._one(embedding, 0.0))[0]


@dataclass
class Calibration:
    """How the threshold was set: given, or from the first ``warmup_s`` seconds of this camera's scores."""

    threshold: float | None
    source: str  # "given" | "warm-up" | "default"
    warmup_s: float
    set_at: float | None = None  # wall-clock time it was set
    scores: list[float] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {"threshold": self.threshold, "source": self.source, "warmup_s": self.warmup_s, "set_at": self.set_at}


@dataclass
class Update:
    """What one frame produced."""

    frame: int
    t: float
    score: float  # raw
    smoothed: float
    messages: list[Message]


class Engine:
    """Scores frames one at a time for one camera (or one file played as a camera)."""

    def __init__(
        self,
        config: DetectConfig,
        encoder: ImageEncoder,
        scorer: CausalNovelty | FrameDetector,
        default_threshold: float,
        *,
        warmup_s: float = 300.0,
        camera: str = "camera",
    ) -> None:
        self.config, self.encoder, self.scorer, self.camera = config, encoder, scorer, camera
        self.default_threshold = default_threshold
        if config.threshold is not None:
            self.calibration = Calibration(config.threshold, "given", warmup_s, time.time())
        elif warmup_s <= 0:
            self.calibration = Calibration(default_threshold, "default", 0.0, time.time())
        else:
            self.calibration = Calibration(None, "warm-up", warmup_s)
        self.tracker = EventTracker(
            self.calibration.threshold if self.calibration.threshold is not None else float("inf"),
            hysteresis=config.hysteresis,
            min_event_s=config.min_event_s,
            merge_gap_s=config.merge_gap_s,
            prefix=camera,
        )
        self._window: deque[tuple[float, float]] = deque()
        self._first_t: float | None = None

    @property
    def threshold(self) -> float | None:
        return self.calibration.threshold

    def embed(self, images: np.ndarray) -> np.ndarray:
        """Embeddings of a batch of preprocessed-ready images (frame pairs for motion)."""
        return self.encoder.embed(self.encoder.preprocess(images))

    def push(self, frame: int, t: float, embedding: np.ndarray) -> Update:
        """One sampled frame's embedding: its score, smoothed score and any event messages."""
        raw = self.scorer.score(np.asarray(embedding), t)
        if self._first_t is None:
            self._first_t = t
        self._window.append((t, raw))
        window = self.config.effective_smooth_s
        while self._window and t - self._window[0][0] > window:
            self._window.popleft()
        smoothed = float(np.mean([s for _, s in self._window]))
        messages: list[Message] = []
        cal = self.calibration
        if cal.threshold is None:
            cal.scores.append(smoothed)
            if t - self._first_t >= cal.warmup_s:
                self._calibrate()
        else:
            # the tracker reads a label only from a score at or above its low level (an event opening or peaking)
            wanted = isinstance(self.scorer, FrameDetector) and smoothed >= self.tracker.low
            messages = self.tracker.push(frame, t, smoothed, self.scorer.label(embedding) if wanted else None)
        return Update(frame, t, raw, smoothed, messages)

    def _calibrate(self) -> None:
        cal = self.calibration
        q = float(np.quantile(np.asarray(cal.scores), CALIBRATION_QUANTILE)) if cal.scores else 0.0
        cal.threshold = max(q * CALIBRATION_MARGIN, self.default_threshold * CALIBRATION_FLOOR)
        cal.set_at = time.time()
        cal.scores = []
        self.tracker.threshold = cal.threshold

    def close(self, note: str | None = None) -> list[Message]:
        return self.tracker.close(note)


def make_engine(config: DetectConfig, *, warmup_s: float = 300.0, camera: str = "camera") -> Engine:
    """An engine for ``config``'s method: its encoder, and the causal scorer of that method."""
    from oddsight.errors import ConfigError
    from oddsight.models.loader import load_image_encoder
    from oddsight.pipeline import VisualDetection

    if config.method not in LIVE_METHODS:
        raise ConfigError(f"live scoring supports {', '.join(LIVE_METHODS)}, not {config.method!r}")
    visual = VisualDetection(config)
    detector = visual.detector  # a bad detector file or prompt fails before the stream opens
    encoder = load_image_encoder(visual.model_id, config.model_path, device=config.device)
    if config.method == "novelty":
        from oddsight.detectors.novelty import CELL_THRESHOLD
        from oddsight.models.registry import cell_grid

        grid = cell_grid(visual.model_id)
        if grid is None:
            raise ConfigError(f"live novelty needs a cell encoder such as 'motion', not {visual.model_id!r}")
        return Engine(config, encoder, CausalNovelty(grid), CELL_THRESHOLD, warmup_s=warmup_s, camera=camera)
    scorer = FrameDetector(detector, visual.model_id)
    return Engine(config, encoder, scorer, detector.default_threshold(), warmup_s=warmup_s, camera=camera)
