"""Events as they happen: scores in one at a time, ``new`` / ``update`` / ``end`` messages out.

The same rules as :func:`oddsight.temporal.events.find_events` on a file, applied causally: an event opens when
the score reaches the threshold, is reported (``new``) once it has lasted ``min_event_s``, stays open while the
score is above ``threshold - hysteresis * |threshold|``, and ends (``end``) when it has stayed below that for
``merge_gap_s`` (a dip shorter than that does not split it). While it lasts, ``update`` reports a new peak, at
most once per ``update_every_s``.
"""

from __future__ import annotations

import itertools
import time
from dataclasses import asdict, dataclass, field
from typing import Any

_ids = itertools.count(1)


@dataclass
class LiveEvent:
    """One event of a camera; times are seconds of the stream's clock, frames its decoded-frame count."""

    id: str
    start_frame: int
    end_frame: int
    start_s: float
    end_s: float
    peak_frame: int
    peak_s: float
    peak_score: float
    label: str | None = None
    reason: str | None = None  # the language methods: the LLM's reason
    snapshot: str | None = None
    clip: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d.pop("extra")
        for key in ("start_s", "end_s", "peak_s"):
            d[key] = round(d[key], 3)
        d["peak_score"] = round(d["peak_score"], 5)
        return d


@dataclass
class Message:
    type: str  # "new" | "update" | "end"
    event: LiveEvent


class EventTracker:
    """Turns a stream of (frame, time, score, label) into event messages."""

    def __init__(
        self,
        threshold: float,
        *,
        hysteresis: float = 0.1,
        min_event_s: float = 1.0,
        merge_gap_s: float = 2.0,
        update_every_s: float = 5.0,
        prefix: str = "ev",
    ) -> None:
        self.threshold = threshold
        self.hysteresis, self.min_event_s, self.merge_gap_s = hysteresis, min_event_s, merge_gap_s
        self.update_every_s, self.prefix = update_every_s, prefix
        self.event: LiveEvent | None = None
        self._reported = False
        self._below_since: float | None = None
        self._last_update = 0.0

    @property
    def low(self) -> float:
        return self.threshold - self.hysteresis * abs(self.threshold)

    def push(self, frame: int, t: float, score: float, label: str | None = None) -> list[Message]:
        """The messages this sample causes (usually none)."""
        out: list[Message] = []
        ev = self.event
        if ev is None:
            if score >= self.threshold:
                event_id = f"{self.prefix}-{int(time.time() * 1000):x}-{next(_ids)}"  # unique across runs
                self.event = LiveEvent(event_id, frame, frame, t, t, frame, t, score, label)
                self._reported, self._below_since = False, None
                out += self._maybe_report(t)
            return out
        if score >= self.low:
            self._below_since = None
            ev.end_frame, ev.end_s = frame, t
            if score > ev.peak_score:
                ev.peak_frame, ev.peak_s, ev.peak_score = frame, t, score
                ev.label = label or ev.label
                if self._reported and t - self._last_update >= self.update_every_s:
                    self._last_update = t
                    out.append(Message("update", ev))
            out += self._maybe_report(t)
            return out
        if self._below_since is None:
            self._below_since = t
        if t - self._below_since >= self.merge_gap_s or (not self._reported and t - ev.end_s > 0):
            out += self.close()
        return out

    def _maybe_report(self, t: float) -> list[Message]:
        ev = self.event
        if ev is not None and not self._reported and ev.end_s - ev.start_s >= self.min_event_s:
            self._reported = True
            self._last_update = t
            return [Message("new", ev)]
        return []

    def close(self, note: str | None = None) -> list[Message]:
        """End the open event now (the stream ended, or the monitor stops); nothing if none was reported."""
        ev, reported = self.event, self._reported
        self.event, self._reported, self._below_since = None, False, None
        if ev is None or not reported:
            return []
        if note:
            ev.extra["note"] = note
        return [Message("end", ev)]
