"""Which frames to keep: by target fps (using each frame's real timestamp) or by stride."""

from __future__ import annotations

from dataclasses import dataclass

from oddsight.errors import ConfigError
from oddsight.validate import integer, number


@dataclass(frozen=True)
class Sampling:
    """Keep frames at ``fps`` per second of video time, or every ``stride``-th frame.

    Exactly one of ``fps`` and ``stride`` is set. ``start_s``/``end_s`` limit the span.
    """

    fps: float | None = 2.0
    stride: int | None = None
    start_s: float = 0.0
    end_s: float | None = None

    def __post_init__(self) -> None:
        if (self.fps is None) == (self.stride is None):
            raise ConfigError("sampling needs exactly one of fps or stride")
        if self.fps is not None:
            number("--fps", self.fps, low=0, low_open=True, high=1000)
        if self.stride is not None:
            integer("--stride", self.stride, low=1)
        number("--start", self.start_s, low=0)
        if self.end_s is not None:
            number("--end", self.end_s, low=0)
        if self.end_s is not None and self.end_s <= self.start_s:
            raise ConfigError(f"end ({self.end_s}s) must come after start ({self.start_s}s)")

    @property
    def key(self) -> str:
        """A short stable string for cache keys, e.g. ``fps2`` or ``stride5``."""
        base = f"fps{self.fps:g}" if self.fps is not None else f"stride{self.stride}"
        if self.start_s or self.end_s is not None:
            base += f"_{self.start_s:g}-{self.end_s if self.end_s is not None else 'end'}"
        return base

    def selector(self) -> FrameSelector:
        return FrameSelector(self)


class FrameSelector:
    """Stateful decision per decoded frame, fed frames in presentation order."""

    def __init__(self, sampling: Sampling) -> None:
        self.sampling = sampling
        self._next_t: float | None = None

    def keep(self, index: int, t: float) -> bool:
        s = self.sampling
        if t < s.start_s - 1e-9 or (s.end_s is not None and t >= s.end_s):
            return False
        if s.stride is not None:
            return index % s.stride == 0
        assert s.fps is not None
        period = 1.0 / s.fps
        if self._next_t is None:
            self._next_t = max(t, s.start_s)
        # half a frame of tolerance against timestamp jitter
        if t + 1e-6 >= self._next_t:
            while self._next_t <= t + 1e-6:
                self._next_t += period
            return True
        return False

    def past_end(self, t: float) -> bool:
        return self.sampling.end_s is not None and t >= self.sampling.end_s
