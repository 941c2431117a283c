"""``DetectOptions``: one detection's options by their command-line names (``--min-event`` -> ``min_event``).

One pydantic model shared by the CLI (built from a command's options), the HTTP API (a request body) and the
server's job runner (stored as JSON, read back by a worker). ``to_config`` turns it into the library's
:class:`~oddsight.config.DetectConfig`, whose own checks give every front end the same error texts.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, create_model

from oddsight.config import DetectConfig
from oddsight.errors import ConfigError
from oddsight.methods.registry import METHOD_NAMES as METHODS
from oddsight.methods.registry import METHODS as SPECS
from oddsight.option_fields import FIELDS

# options that name a file or folder on the machine that runs the detection
PATH_OPTIONS = ("model_path", "detector", "llm_path", "captions", "history")


class _Options(BaseModel):
    """Every ``oddsight detect`` option (the other commands offer subsets), by its CLI name with ``_`` for ``-``:
    the fields come from :data:`oddsight.option_fields.FIELDS`."""

    model_config = ConfigDict(extra="forbid", allow_inf_nan=True)  # non-finite numbers: DetectConfig's message

    @classmethod
    def parse(cls, values: dict[str, Any]) -> _Options:
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
        targets = {f.target: getattr(self, f.name) for f in FIELDS if f.target}
        return DetectConfig(
            method=self.method,
            sampling=sampling,
            anomaly_prompts=self.anomaly or None,
            normal_prompts=self.normal or None,
            language=LanguageParams(**{t.removeprefix("language."): v for t, v in targets.items() if "." in t}),
            reasons=not self.no_reasons,
            use_cache=not self.no_cache,
            progress=progress,
            **{t: v for t, v in targets.items() if "." not in t},
        )

    def changed(self) -> dict[str, Any]:
        """Only the options that differ from the defaults (what a job or result page shows)."""
        return self.model_dump(exclude_defaults=True)


DetectOptions = create_model(
    "DetectOptions",
    __base__=_Options,
    __module__=__name__,
    **{f.name: (f.type, Field(f.default, description=f.help, strict=f.type is bool or None)) for f in FIELDS},  # type: ignore[call-overload]
)


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
