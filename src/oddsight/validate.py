"""Checks for option values, in one place: the CLI, the Python API and the evaluation runner all build a
``DetectConfig`` (or ``Sampling``), and those check themselves with these on creation. Each failure is one
:class:`ConfigError` naming the option as the CLI spells it."""

from __future__ import annotations

import math
from numbers import Integral, Real

from oddsight.errors import ConfigError


def number(name: str, value: object, *, low: float | None = None, high: float | None = None, low_open=False) -> float:
    """``value`` as a finite float within [low, high] (low excluded with ``low_open``); else a ConfigError."""
    if isinstance(value, bool) or not isinstance(value, Real):
        raise ConfigError(f"{name} must be a number, got {value!r}")
    v = float(value)
    if not math.isfinite(v):
        raise ConfigError(f"{name} must be a finite number, got {value!r}")
    if low is not None and (v <= low if low_open else v < low):
        raise ConfigError(f"{name} must be {'>' if low_open else '>='} {low:g}, got {v:g}")
    if high is not None and v > high:
        raise ConfigError(f"{name} must be <= {high:g}, got {v:g}")
    return v


def integer(name: str, value: object, *, low: int | None = None) -> int:
    """``value`` as an int >= ``low``; else a ConfigError."""
    if isinstance(value, bool) or not isinstance(value, Integral):
        raise ConfigError(f"{name} must be a whole number, got {value!r}")
    if low is not None and value < low:
        raise ConfigError(f"{name} must be >= {low}, got {value}")
    return int(value)


def choice(name: str, value: object, options: tuple[str, ...]) -> str:
    if value not in options:
        raise ConfigError(f"{name} must be one of {', '.join(options)}, got {value!r}")
    return str(value)
