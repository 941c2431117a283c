"""Where oddsight keeps its caches: ``$ODDSIGHT_HOME`` or ``~/.cache/oddsight``."""

from __future__ import annotations

import os
from pathlib import Path


def home() -> Path:
    root = os.environ.get("ODDSIGHT_HOME")
    base = Path(root) if root else Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "oddsight"
    return base


def models_dir() -> Path:
    return home() / "models"


def features_dir() -> Path:
    return home() / "features"
