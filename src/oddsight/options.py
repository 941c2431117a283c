"""``DetectOptions``: one detection's options by their command-line names (``--min-event`` -> ``min_event``).

One pydantic model shared by the CLI (built from a command's options), the HTTP API (a request body) and the
server's job runner (stored as JSON, read back by a worker). ``to_config`` turns it into the library's
:class:`~oddsight.config.DetectConfig`, whose own checks give every front end the same error texts.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, ValidationError

from oddsight.config import DetectConfig
from oddsight.errors import ConfigError
from oddsight.methods.registry import METHOD_NAMES as METHODS
from oddsight.methods.registry import METHODS as SPECS

# options that name a file or folder on the machine that runs the detection
PATH_OPTIONS = ("model_path", "detector", "llm_path", "captions", "history")

# option name -> DetectConfig field, where the two differ or the option maps one to one
_CONFIG_FIELDS = {
    "model": "model",
    "model_path": "model_path",
    "threshold": "threshold",
    "smooth": "smooth_s",
    "min_event": "min_event_s",
    "merge_gap": "merge_gap_s",
    "detector": "detector_path",
    "batch_size": "batch_size",
    "device": "device",
    "frames_fps": "folder_fps",
    "llm": "llm",
    "llm_path": "llm_path",
    "captions": "captions",
    "captioner": "captioner",
    "live": "live",
    "warmup": "warmup_s",
    "history": "history",
}
# option name -> LanguageParams field
_LANGUAGE_FIELDS = {
    "split": "split",
    "context": "context",
    "summary": "summary",
    "window": "window_s",
    "refine_k": "refine_k",
    "chunk": "chunk_s",
    "group": "group",
}


class DetectOptions(BaseModel):
    """Every ``oddsight detect`` option (the ``eval`` ones are a subset), by its CLI name with ``_`` for ``-``."""

    model_config = ConfigDict(extra="forbid", allow_inf_nan=True)  # non-finite numbers: DetectConfig's message

    method: str = "novelty"
    fps: float | None = None
    stride: int | None = None
    start: float = 0.0
    end: float | None = None
    model: str | None = None
    model_path: str | None = None
    detector: str | None = None
    anomaly: list[str] | None = None
    normal: list[str] | None = None
    threshold: float | None = None
    smooth: float | None = None
    min_event: float = 1.0
    merge_gap: float = 2.0
    batch_size: int = 16
    device: str = "auto"
    no_cache: bool = False
    frames_fps: float = 25.0
    llm: str | None = None
    llm_path: str | None = None
    captions: str | None = None
    captioner: str | None = None
    split: str = "sentences"
    context: str | None = None
    summary: str = "join"
    window: float = 10.0
    refine_k: int = 10
    chunk: float = 10.0
    group: float = 0.0
    no_reasons: bool = False
    live: bool = False
    warmup: float = 300.0
    history: str | None = None

    @classmethod
    def parse(cls, values: dict[str, Any]) -> DetectOptions:
        """Options from a dict (a request body, a stored job); a bad value is one :class:`ConfigError`."""
        if not isinstance(values, dict):
            raise ConfigError(f"options must be an object of option names, got {type(values).__name__}")
        try:
            return cls.model_validate(values)
        except ValidationError as exc:
            raise ConfigError(validation_message(exc)) from None

    def to_config(self, *, progress: bool = False, methods: tuple[str, ...] = METHODS) -> DetectConfig:
        """The library's config for these options; every value is checked there (one :class:`ConfigError`)."""
        from oddsight.language.methods import LanguageParams
        from oddsight.video.sampling import Sampling

        if self.method not in methods:
            raise ConfigError(f"unknown method {self.method!r}; choose one of {', '.join(methods)}")
        if self.history is not None and not self.live:
            raise ConfigError("--history is a camera's past: it goes with --live")
        if self.stride is not None:
            sampling = Sampling(fps=None, stride=self.stride, start_s=self.start, end_s=self.end)
        else:
            fps = self.fps if self.fps is not None else SPECS[self.method].fps if self.method in SPECS else 2.0
            sampling = Sampling(fps=fps, start_s=self.start, end_s=self.end)
        return DetectConfig(
            method=self.method,
            sampling=sampling,
            anomaly_prompts=self.anomaly or None,
            normal_prompts=self.normal or None,
            language=LanguageParams(**{f: getattr(self, name) for name, f in _LANGUAGE_FIELDS.items()}),
            reasons=not self.no_reasons,
            use_cache=not self.no_cache,
            progress=progress,
            **{f: getattr(self, name) for name, f in _CONFIG_FIELDS.items()},
        )

    def changed(self) -> dict[str, Any]:
        """Only the options that differ from the defaults (what a job or result page shows)."""
        return self.model_dump(exclude_defaults=True)


def validation_message(exc: ValidationError) -> str:
    """pydantic's errors as one line that names each option as the CLI spells it."""
    parts = []
    for err in exc.errors():
        where = "--" + "-".join(str(p) for p in err["loc"][:1]).replace("_", "-") if err["loc"] else "options"
        if err["type"] == "extra_forbidden":
            parts.append(f"unknown option {where}")
        else:
            parts.append(f"{where}: {err['msg'].lower()} (got {err.get('input')!r})")
    return "; ".join(parts)
