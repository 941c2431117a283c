"""oddsight: find the unusual in video.

The public API is imported lazily so that ``import oddsight`` (and the CLI) start fast.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from oddsight.version import __version__

_LAZY = {
    "detect": "oddsight.detection",
    "DetectConfig": "oddsight.config",
    "DetectionResult": "oddsight.result",
    "OddsightError": "oddsight.errors",
    "Features": "oddsight.features.types",
    "Sampling": "oddsight.video.sampling",
}

if TYPE_CHECKING:  # pragma: no cover
    from oddsight.config import DetectConfig
    from oddsight.detection import detect
    from oddsight.errors import OddsightError
    from oddsight.features.types import Features
    from oddsight.result import DetectionResult
    from oddsight.video.sampling import Sampling


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'oddsight' has no attribute {name!r}")


__all__ = ["DetectConfig", "DetectionResult", "Features", "OddsightError", "Sampling", "__version__", "detect"]
