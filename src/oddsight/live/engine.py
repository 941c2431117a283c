"""A camera's engine: the image encoder (or the captioner) in front of the one :class:`~oddsight.engine.Engine`,
in its live mode (the past only, trailing smoothing, warm-up calibration). ``detect --live`` replays a file through
the same engine; see :mod:`oddsight.methods.scorers` for what differs between the modes.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, replace

import numpy as np

from oddsight.config import DetectConfig
from oddsight.engine import Engine
from oddsight.features.types import Features
from oddsight.live.language import WindowedLanguage
from oddsight.methods.registry import METHOD_NAMES, method_spec
from oddsight.methods.scorers import LIVE_RAMP
from oddsight.models.base import ImageEncoder
from oddsight.temporal.events import Event, Message
from oddsight.temporal.timeline import Calibration
from oddsight.video.source import VideoInfo

log = logging.getLogger("oddsight.live")

LIVE_METHODS = METHOD_NAMES  # every method scores live: the visual ones frame by frame, the language ones by window


@dataclass
class Update:
    """What one frame produced."""

    frame: int
    t: float
    score: float  # raw
    smoothed: float
    messages: list[Message]


class LiveEngine:
    """Frames of one camera (or one file played as a camera) in, one at a time; scores and event messages out."""

    def __init__(self, engine: Engine, encoder: ImageEncoder | WindowedLanguage, model_id: str) -> None:
        self.engine, self.encoder, self.model_id = engine, encoder, model_id
        self.scorer = engine.scorer
        self._shown = (0.0, 0.0)  # the last known (raw, smoothed), shown for frames whose window is still open

    @property
    def calibration(self) -> Calibration:
        return self.engine.calibration

    @property
    def threshold(self) -> float:
        return self.engine.threshold

    @property
    def open_event(self) -> Event | None:
        return self.engine.open_event

    def embed(self, images: np.ndarray) -> np.ndarray:
        """Embeddings of a batch of images (frame pairs for motion)."""
        return self.encoder.embed(self.encoder.preprocess(images))

    def push(
        self, frame: int, t: float, embedding: np.ndarray, fps: float = 25.0, size: tuple[int, int] = (0, 0)
    ) -> Update:
        """One sampled frame's embedding (``fps``: the stream's frame rate, ``size`` its frames' width and height,
        for an event's box): its score, smoothed score and any event messages. A windowed scorer (judge, lavad)
        scores a window's frames when it closes: until then a frame shows the last known score."""
        info = VideoInfo("live", "stream", size[0], size[1], fps, None, None)
        stored = np.asarray(embedding, np.float16)[None, :]  # as a file's features are kept: the same scores
        one = Features(stored, np.array([frame]), np.array([t]), info, self.model_id, "live")
        before = self.engine.timeline.last if self.engine.timeline is not None else None
        messages = self.engine.push(one)
        last = self.engine.timeline.last if self.engine.timeline is not None else None
        if last is not None and last is not before:
            self._shown = (float(last[2]), float(last[3]))
        return Update(frame, t, self._shown[0], self._shown[1], messages)

    def close(self, note: str | None = None, n_frames: int | None = None) -> list[Message]:
        """The stream ended (or the monitor stops) after ``n_frames`` decoded frames: what the scorer holds is
        scored, the frames after the last sample take its score (as a file's do), then the open event ends."""
        return self.engine.close(n_frames, note=note)

    def prime(self, history: list[Features]) -> None:
        """The camera's normal footage, as if it had been watched before (see :meth:`Engine.prime`)."""
        self.engine.prime(history)


def check_live(config: DetectConfig) -> None:
    """What a live run needs beyond a file's: a known method, and a captioner for the language methods."""
    from oddsight.errors import ConfigError

    spec = method_spec(config.method)
    if spec.language and not config.captioner:
        raise ConfigError(
            f"live --method {config.method} needs --captioner hf:<model>|openai:<url>#<model> (a captions file "
            "is for recorded video)"
        )


def make_engine(
    config: DetectConfig, *, warmup_s: float | None = None, camera: str = "camera", record: bool = False
) -> LiveEngine:
    """A camera's engine for ``config``'s method: its encoder, and the method's scorer in live mode (``warmup_s``:
    the config's unless given)."""
    from oddsight.models.loader import load_image_encoder
    from oddsight.pipeline import VisualDetection

    config = replace(config, live=True, warmup_s=config.warmup_s if warmup_s is None else warmup_s)
    check_live(config)
    fill_s = LIVE_RAMP / (config.sampling.fps or 2.0)
    if config.method == "novelty" and config.threshold is None and 0 < config.warmup_s < fill_s:
        log.warning(
            "%s: a %g s warm-up is shorter than novelty's memory fill (%d frames, %g s at %g fps): its scores are "
            "still damped then, so the threshold would be set too low; warming up for %g s instead",
            camera,
            config.warmup_s,
            LIVE_RAMP,
            fill_s,
            config.sampling.fps or 2.0,
            fill_s,
        )
        config = replace(config, warmup_s=fill_s)
    if method_spec(config.method).language:
        return _language_engine(config, camera, record)
    visual = VisualDetection(config)
    engine = visual.engine(camera=camera, record=record)  # a bad detector file or prompt fails before the stream opens
    encoder = load_image_encoder(visual.model_id, config.model_path, device=config.device)
    return LiveEngine(engine, encoder, visual.model_id)


def _language_engine(config: DetectConfig, camera: str, record: bool) -> LiveEngine:
    from oddsight.language.captioners import make_captioner
    from oddsight.language.session import DEFAULT_THRESHOLD, LanguageSession

    session = LanguageSession(config)  # the LLM and the text encoder, as for a file
    captioner = make_captioner(config.captioner, device=config.device)
    language = WindowedLanguage(config, captioner, session.scorer, DEFAULT_THRESHOLD)
    engine = Engine(config, language, warmup_s=config.warmup_s, camera=camera, record=record)
    return LiveEngine(engine, language, "captions")
