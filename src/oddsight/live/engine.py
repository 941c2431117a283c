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
from oddsight.live.language import WindowedLanguage
from oddsight.live.normal import Calm, NormalMemory
from oddsight.models.base import ImageEncoder
from oddsight.video.source import VideoInfo

# calibration: the threshold is this quantile of the warm-up scores times this margin (chosen so that a calm
# warm-up's own noise stays under it); never below the detector's own default times FLOOR
CALIBRATION_QUANTILE = 0.99
CALIBRATION_MARGIN = 1.25
CALIBRATION_FLOOR = 0.5
# every method scores live: the visual ones frame by frame, the language ones window by window, causally
LIVE_METHODS = ("novelty", "oneclass", "zeroshot", "lavad", "judge")


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
    """A fitted or prompt-based batch detector (oneclass, zeroshot) applied to one frame at a time; a frame
    that matches the camera's false alarms (:class:`NormalMemory`) scores no higher than its typical score."""

    def __init__(self, detector: Detector, model_id: str) -> None:
        self.detector, self.model_id = detector, model_id
        self._info = VideoInfo("live", "stream", 0, 0, 1.0, None, None)
        self.normal = NormalMemory()
        self.calm = Calm()

    def _one(self, embedding: np.ndarray, t: float) -> Features:
        return Features(embedding[None, :], np.zeros(1, np.int64), np.array([t]), self._info, self.model_id, "live")

    def score(self, embedding: np.ndarray, t: float) -> float:
        raw = float(np.asarray(self.detector.score(self._one(embedding, t)))[0])
        if self.normal.matches(embedding):
            return self.calm.cap(raw)
        self.calm.add(raw)
        return raw

    def set_normal(self, embeddings: np.ndarray | None) -> None:
        """Frames of false alarms: that scene scores as a calm frame from now on (None: forget them)."""
        self.normal.set(embeddings)

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
        encoder: ImageEncoder | WindowedLanguage,
        scorer: CausalNovelty | FrameDetector | WindowedLanguage,
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
        self._smoothed = 0.0
        self._shown = (0.0, 0.0)  # the last known (score, smoothed), shown for frames whose window is still open

    @property
    def threshold(self) -> float | None:
        return self.calibration.threshold

    def embed(self, images: np.ndarray) -> np.ndarray:
        """Embeddings of a batch of preprocessed-ready images (frame pairs for motion)."""
        return self.encoder.embed(self.encoder.preprocess(images))

    def push(self, frame: int, t: float, embedding: np.ndarray) -> Update:
        """One sampled frame's embedding: its score, smoothed score and any event messages. A windowed scorer
        (judge, lavad) gives the scores of a window's frames when it closes: until then a frame shows the last
        known score."""
        if isinstance(self.scorer, (CausalNovelty, FrameDetector)):
            samples = [(frame, t, self.scorer.score(np.asarray(embedding), t), None, t)]
        else:
            samples = self.scorer.samples(frame, t, np.asarray(embedding))
        messages: list[Message] = []
        for f, ts, raw, label, at in samples:
            messages += self._track(f, ts, raw, label, at, embedding if f == frame else None)
        if samples:
            self._shown = (samples[-1][2], self._smoothed)
        return Update(frame, t, self._shown[0], self._shown[1], self._explained(messages))

    def _explained(self, messages: list[Message]) -> list[Message]:
        """A language method's event gets the LLM's reason once it is reported."""
        if isinstance(self.scorer, WindowedLanguage) and any(m.type == "new" for m in messages):
            reason = self.scorer.reason()
            for m in messages:
                m.event.reason = m.event.reason or reason
        return messages

    def _track(self, frame: int, t: float, raw: float, label: str | None, at: float, embedding) -> list[Message]:
        """One frame's score into smoothing, calibration and the event tracker. ``at`` is the time the score is
        smoothed at: the frame's own, or (a windowed scorer) its window's end, so that, as on a file, a score is
        smoothed with the windows around it and not with the frames of the window before."""
        if self._first_t is None:
            self._first_t = t
        if not self._window or self._window[-1][0] != at:
            self._window.append((at, raw))
        while self._window and at - self._window[0][0] > self.config.effective_smooth_s:
            self._window.popleft()
        self._smoothed = smoothed = float(np.mean([s for _, s in self._window]))
        cal = self.calibration
        if cal.threshold is None:
            cal.scores.append(smoothed)
            if t - self._first_t >= cal.warmup_s:
                self._calibrate()
            return []
        # a frame detector's label is read only from a score at or above the low level (an event opening or peaking)
        if label is None and embedding is not None and isinstance(self.scorer, FrameDetector):
            label = self.scorer.label(embedding) if smoothed >= self.tracker.low else None
        return self.tracker.push(frame, t, smoothed, label)

    def _calibrate(self) -> None:
        cal = self.calibration
        q = float(np.quantile(np.asarray(cal.scores), CALIBRATION_QUANTILE)) if cal.scores else 0.0
        cal.threshold = max(q * CALIBRATION_MARGIN, self.default_threshold * CALIBRATION_FLOOR)
        cal.set_at = time.time()
        cal.scores = []
        self.tracker.threshold = cal.threshold

    def close(self, note: str | None = None) -> list[Message]:
        """The stream ended (or the monitor stops): a windowed scorer's open window is scored as it is, then the
        open event ends."""
        messages: list[Message] = []
        if isinstance(self.scorer, WindowedLanguage):
            for f, ts, raw, label, at in self.scorer.flush():
                messages += self._track(f, ts, raw, label, at, None)
        return self._explained(messages) + self.tracker.close(note)


def check_live(config: DetectConfig) -> None:
    """What a live run needs beyond a file's: a known method, and a captioner for the language methods."""
    from oddsight.errors import ConfigError

    if config.method not in LIVE_METHODS:
        raise ConfigError(f"live scoring supports {', '.join(LIVE_METHODS)}, not {config.method!r}")
    if config.method in ("lavad", "judge") and not config.captioner:
        raise ConfigError(
            f"live --method {config.method} needs --captioner hf:<model>|openai:<url>#<model> (a captions file "
            "is for recorded video)"
        )


def make_engine(config: DetectConfig, *, warmup_s: float = 300.0, camera: str = "camera") -> Engine:
    """An engine for ``config``'s method: its encoder, and the causal scorer of that method."""
    from oddsight.errors import ConfigError
    from oddsight.models.loader import load_image_encoder
    from oddsight.pipeline import VisualDetection

    check_live(config)
    if config.method in ("lavad", "judge"):
        return _language_engine(config, warmup_s, camera)
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


def _language_engine(config: DetectConfig, warmup_s: float, camera: str) -> Engine:
    from oddsight.language.captioners import make_captioner
    from oddsight.language.session import DEFAULT_THRESHOLD, LanguageSession

    session = LanguageSession(config)  # the LLM and the text encoder, as for a file
    language = WindowedLanguage(config, make_captioner(config.captioner, device=config.device), session.scorer)
    return Engine(config, language, language, DEFAULT_THRESHOLD, warmup_s=warmup_s, camera=camera)
