"""One record per method: what it needs and its defaults. Adding a method is a record here and its scorer
(:mod:`oddsight.methods.scorers` or the language layer)."""

from __future__ import annotations

from dataclasses import dataclass

from oddsight.errors import ConfigError


@dataclass(frozen=True)
class MethodSpec:
    """A method's defaults and needs."""

    name: str
    summary: str
    default_model: str  # the image encoder (visual methods) or the text encoder (language methods)
    smooth_s: float  # seconds of smoothing before thresholding (chosen on the dev sets, see README)
    fps: float = 2.0  # frames scored per second by default
    needs_fit: bool = False  # a fitted detector file (`oddsight fit`)
    language: bool = False  # captions and an LLM rather than image features


METHODS: dict[str, MethodSpec] = {
    spec.name: spec
    for spec in (
        # novelty needs the longer window (UCF-Crime 0.911 micro AUC at 4 s vs 0.86 at 1 s)
        MethodSpec("novelty", "how unlike the rest of the video (or the camera's past) each frame is", "motion", 4.0),
        # a fitted model the shorter one (1 s beat 4 s on both fixed cameras: Ped2 0.881 vs 0.866, Avenue macro
        # 0.898 vs 0.671)
        MethodSpec("oneclass", "distance to normal footage of the same camera", "motion", 1.0, needs_fit=True),
        MethodSpec("zeroshot", "anomaly vs normal text prompts (image-text model)", "clip-vit-b32", 4.0),
        # the language methods: one caption a second; the text encoder compares windows
        MethodSpec(
            "lavad", "captions, LLM window scores refined over similar windows", "minilm-l6", 4.0, 1.0, language=True
        ),
        MethodSpec("judge", "captions, an LLM verdict and reason per chunk", "minilm-l6", 4.0, 1.0, language=True),
    )
}
METHOD_NAMES = tuple(METHODS)
LANGUAGE_METHODS = tuple(name for name, spec in METHODS.items() if spec.language)


def method_spec(name: str) -> MethodSpec:
    """The record of ``name``; one :class:`ConfigError` naming the choices for an unknown one."""
    if name not in METHODS:
        raise ConfigError(f"unknown method {name!r}; choose one of {', '.join(METHODS)}")
    return METHODS[name]
