"""``DetectConfig``: every option of one detection, shared by the library, the CLI and the evaluation runner."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from oddsight.errors import ConfigError
from oddsight.methods.params import SPLITS, SUMMARIES, LanguageParams
from oddsight.methods.registry import METHODS, method_spec
from oddsight.validate import choice, integer, number
from oddsight.video.sampling import Sampling
from oddsight.video.source import DEFAULT_FOLDER_FPS


@dataclass
class DetectConfig:
    """Everything ``detect`` needs to know; the CLI builds one from its options."""

    method: str = "novelty"
    model: str | None = None  # default: DEFAULT_MODELS[method], or the fitted detector's encoder
    model_path: str | None = None
    sampling: Sampling = field(default_factory=Sampling)
    threshold: float | None = None  # default: the detector's own
    smooth_s: float | None = None  # default: DEFAULT_SMOOTH_S for the method (see effective_smooth_s)
    hysteresis: float = 0.1
    min_event_s: float = 1.0
    merge_gap_s: float = 2.0
    detector_path: str | None = None  # a fitted .oddsight file (oneclass)
    anomaly_prompts: list[str] | None = None
    normal_prompts: list[str] | None = None
    batch_size: int = 16
    device: str = "auto"
    use_cache: bool = True
    folder_fps: float = DEFAULT_FOLDER_FPS
    progress: bool = True
    # language methods (lavad, judge)
    llm: str | None = None  # GGUF model id, or openai:<base url>#<model>; default qwen2.5-coder-1.5b
    llm_path: str | None = None  # a local .gguf file
    captions: str | None = None  # captions made elsewhere (.txt per frame or .jsonl segments)
    captioner: str | None = None  # hf:<model or folder> | openai:<base url>#<model>
    reasons: bool = True  # ask the LLM why, for each event
    language: LanguageParams = field(default_factory=LanguageParams)
    # the mode: live scores from the past only, as a camera does (``detect --live``, ``eval --live``, ``watch``)
    live: bool = False
    warmup_s: float = 300.0  # live, no threshold given: seconds of scores that set the threshold
    history: str | None = None  # live: a camera's normal footage, watched before the video (a file or folder)

    def __post_init__(self) -> None:
        """Every option checked once, here: finite, in range, of the right type (see ``oddsight.validate``)."""
        if not isinstance(self.method, str):
            raise ConfigError(f"method must be a name such as 'novelty', got {self.method!r}")
        if not isinstance(self.sampling, Sampling):
            raise ConfigError(f"sampling must be a Sampling, got {self.sampling!r}")
        if not isinstance(self.language, LanguageParams):
            raise ConfigError(f"language must be LanguageParams, got {self.language!r}")
        if self.threshold is not None:
            number("--threshold", self.threshold)
        if self.smooth_s is not None:
            number("--smooth", self.smooth_s, low=0, high=3600)
        number("hysteresis", self.hysteresis, low=0, high=1)
        number("--min-event", self.min_event_s, low=0, high=86400)
        number("--merge-gap", self.merge_gap_s, low=0, high=86400)
        number("--warmup", self.warmup_s, low=0, high=86400 * 7)
        integer("--batch-size", self.batch_size, low=1)
        number("--frames-fps", self.folder_fps, low=0, low_open=True, high=1000)
        choice("--device", self.device, ("auto", "cpu", "cuda"))
        lang = self.language
        number("--window", lang.window_s, low=0, low_open=True)
        number("window stride", lang.stride_s, low=0, low_open=True)
        integer("--refine-k", lang.refine_k, low=1)
        number("--chunk", lang.chunk_s, low=0, low_open=True)
        number("--group", lang.group, low=0, high=1)
        choice("--split", lang.split, tuple(SPLITS))
        choice("--summary", lang.summary, tuple(SUMMARIES))
        for name in ("model", "model_path", "detector_path", "llm", "llm_path", "captions", "captioner", "history"):
            value = getattr(self, name)
            if isinstance(value, os.PathLike):
                setattr(self, name, os.fspath(value))  # a Path is as good as its string
            elif value is not None and not isinstance(value, str):
                raise ConfigError(f"{name} must be a string or path, got {value!r}")

    @property
    def effective_smooth_s(self) -> float:
        """The smoothing window used: the one given, else the method's default."""
        if self.smooth_s is not None:
            return self.smooth_s
        return METHODS[self.method].smooth_s if self.method in METHODS else 4.0

    @property
    def model_id(self) -> str:
        if self.model:
            return self.model
        if self.method == "oneclass" and self.detector_path:
            from oddsight.detectors.persist import peek_encoder

            return peek_encoder(Path(self.detector_path))
        return method_spec(self.method).default_model
