"""Detectors by method name: the one place that knows every implementation (above them, never below)."""

from __future__ import annotations

from typing import Any

from oddsight.detectors.base import Detector
from oddsight.detectors.novelty import NoveltyDetector
from oddsight.detectors.oneclass import OneClassDetector
from oddsight.detectors.zeroshot import ZeroShotDetector
from oddsight.errors import ConfigError

DETECTORS: dict[str, type[Detector]] = {
    "novelty": NoveltyDetector,
    "oneclass": OneClassDetector,
    "zeroshot": ZeroShotDetector,
}


def make_detector(method: str, **params: Any) -> Detector:
    """A new detector for ``method`` with ``params``; a :class:`ConfigError` for an unknown method."""
    if method not in DETECTORS:
        raise ConfigError(f"unknown method {method!r}; choose one of {', '.join(DETECTORS)}")
    return DETECTORS[method](**params)
