"""``Detection`` and ``detect``: the library's front door for every method.

Visual methods run in :class:`~oddsight.pipeline.VisualDetection`; the language methods in
:class:`~oddsight.language.session.LanguageSession`, which is itself a client of the visual pipeline
(caption cleaning reuses its features). This module sits above both, so neither imports the other's caller.
"""

from __future__ import annotations

import os
from dataclasses import replace
from pathlib import Path

from oddsight.config import DetectConfig
from oddsight.errors import ConfigError, InputError
from oddsight.features.cache import FeatureCache
from oddsight.features.extract import Progress
from oddsight.llm.base import LLM
from oddsight.methods.registry import LANGUAGE_METHODS
from oddsight.models.base import ImageEncoder
from oddsight.pipeline import VisualDetection
from oddsight.result import DetectionResult


class Detection:
    """A reusable detection session for any method: models load once, many videos run."""

    def __init__(
        self,
        config: DetectConfig,
        cache: FeatureCache | None = None,
        encoder: ImageEncoder | None = None,
        llm: LLM | None = None,
    ) -> None:
        if not isinstance(config, DetectConfig):
            raise ConfigError(f"config must be a DetectConfig, got {config!r}")
        self.config = config
        self.visual = VisualDetection(config, cache=cache, encoder=encoder)
        self.model_id = self.visual.model_id
        self._language = None
        self._llm = llm  # the language methods' LLM, when the caller made it (else the config's, on first use)

    @property
    def language(self):
        """The language session (LLM, text encoder, answer cache) of ``lavad`` / ``judge``, made on first use."""
        if self._language is None:
            from oddsight.language.session import LanguageSession

            self._language = LanguageSession(self.config, llm=self._llm)
        return self._language

    def run(self, video: str | Path, on_progress: Progress | None = None) -> DetectionResult:
        """Scores and events for one video (file, frame folder or stream URL); ``on_progress(done, expected)`` is
        called as frames are encoded (visual methods) or captioned (language methods); it may raise to stop."""
        if not isinstance(video, (str, os.PathLike)):
            raise InputError(f"a video is a path or URL, got {video!r}")
        if self.config.method in LANGUAGE_METHODS:
            return self._watched(video) if self.config.live else self.language.run_video(video, on_progress)
        return self.visual.run(video, on_progress)

    def _watched(self, video: str | Path) -> DetectionResult:
        """A language method live: the file watched as a camera is (its frames captioned as they come, each window
        scored when it closes), recorded."""
        from oddsight.live.engine import make_engine
        from oddsight.live.monitor import Monitor
        from oddsight.video.source import open_source

        c = self.config
        info = open_source(video, folder_fps=c.folder_fps).info
        live = make_engine(c, warmup_s=c.warmup_s, camera="file", record=True)
        monitor = Monitor(str(video), live, c.sampling.fps or 1.0)
        monitor.run()
        decoded = monitor.stream.stats.decoded
        info = replace(info, frame_count=decoded, duration_s=decoded / info.fps)
        return live.engine.result(info, live.model_id, params={"llm": c.llm or c.llm_path})


def detect(video: str | Path, config: DetectConfig | None = None) -> DetectionResult:
    """Score one video (file, frame folder or stream URL) and find its anomalous events."""
    return Detection(config or DetectConfig()).run(video)
