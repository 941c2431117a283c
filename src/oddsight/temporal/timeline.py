"""Scored samples to events, the one way every method and front end does it: smoothing (centred on a file,
trailing live), the threshold (given, the method's default, or calibrated on a camera's first minutes), a score
for every frame, and one :class:`~oddsight.temporal.events.EventTracker`.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from oddsight.temporal.events import EventTracker, Message
from oddsight.temporal.scores import FrameFill, Smoothed, Smoother

# calibration: the threshold is this quantile of the warm-up scores times this margin (chosen so that a calm
# warm-up's own noise stays under it); never below the method's own default times FLOOR
CALIBRATION_QUANTILE = 0.99
CALIBRATION_MARGIN = 1.25
CALIBRATION_FLOOR = 0.5


@dataclass
class Calibration:
    """How the threshold was set: ``given``, the method's ``default``, or from the ``warm-up`` (the first
    ``warmup_s`` seconds of the camera's scores; until then the default holds, as ``default (warming up)``)."""

    threshold: float
    source: str
    warmup_s: float
    set_at: float | None = None  # wall-clock time it was set
    scores: list[float] = field(default_factory=list)
    first_t: float | None = None  # the stream time the warm-up started

    @property
    def warming_up(self) -> bool:
        return self.source == "default (warming up)"

    def to_dict(self) -> dict[str, Any]:
        return {"threshold": self.threshold, "source": self.source, "warmup_s": self.warmup_s, "set_at": self.set_at}


def calibration_for(threshold: float | None, default: float, warmup_s: float) -> Calibration:
    """The starting calibration: a given threshold, else the default (warming up when ``warmup_s`` > 0)."""
    if threshold is not None:
        return Calibration(float(threshold), "given", 0.0, time.time())
    if warmup_s > 0:
        return Calibration(float(default), "default (warming up)", warmup_s)
    return Calibration(float(default), "default", 0.0, time.time())


@dataclass
class Record:
    """What a timeline kept of its scores (a file's result; a camera keeps none of it)."""

    frames: list[int] = field(default_factory=list)
    times: list[float] = field(default_factory=list)
    raw: list[float] = field(default_factory=list)
    smoothed: list[float] = field(default_factory=list)
    frame_scores: list[np.ndarray] = field(default_factory=list)


class Timeline:
    """Scored samples in (:meth:`push`), event messages out; the same code for a file (``centred`` smoothing)
    and a camera (trailing). ``frame_s`` is one frame's duration (1/fps of the video or stream)."""

    def __init__(
        self,
        *,
        frame_s: float,
        smooth_s: float,
        centred: bool,
        calibration: Calibration,
        default_threshold: float,
        hysteresis: float = 0.1,
        min_event_s: float = 1.0,
        merge_gap_s: float = 2.0,
        new_id: Callable[[], str] | None = None,
        record: bool = True,
        report_early: bool = False,
    ) -> None:
        self.calibration, self.default_threshold = calibration, default_threshold
        self.smoother = Smoother(smooth_s, centred=centred)
        self.fill = FrameFill(frame_s)
        self.tracker = EventTracker(
            calibration.threshold,
            frame_s=frame_s,
            hysteresis=hysteresis,
            min_event_s=min_event_s,
            merge_gap_s=merge_gap_s,
            new_id=new_id,
            report_early=report_early,
        )
        self.record = Record() if record else None
        self.last: Smoothed | None = None  # the latest smoothed sample

    @property
    def threshold(self) -> float:
        return self.calibration.threshold

    def push(self, frame: int, t: float, raw: float, at: float | None = None) -> list[Message]:
        """One scored sample (``at``: the time of the window it was scored in, for a windowed scorer)."""
        if self.record is not None:
            self.record.frames.append(frame)
            self.record.times.append(t)
            self.record.raw.append(float(raw))
        out: list[Message] = []
        for smoothed in self.smoother.push(frame, t, raw, at):
            out += self._track(smoothed)
        return out

    def close(self, n_frames: int | None = None, note: str | None = None) -> list[Message]:
        """The scores ended: the samples still being smoothed, the frames up to ``n_frames``, then the open event
        ends."""
        out: list[Message] = []
        for smoothed in self.smoother.flush():
            out += self._track(smoothed)
        out += self._frames(*self.fill.flush(n_frames))
        return out + self.tracker.close(note)

    def _track(self, sample: Smoothed) -> list[Message]:
        frame, t, _, value = sample
        self.last = sample
        if self.record is not None:
            self.record.smoothed.append(value)
        cal = self.calibration
        if cal.warming_up:
            cal.first_t = t if cal.first_t is None else cal.first_t
            cal.scores.append(value)
            if t - cal.first_t >= cal.warmup_s:
                self._calibrate()
        return self._frames(*self.fill.push(frame, t, value))

    def _frames(self, frames: np.ndarray, times: np.ndarray, scores: np.ndarray) -> list[Message]:
        if self.record is not None and len(frames):
            self.record.frame_scores.append(scores.astype(np.float32))
        return self.tracker.push_many(frames, times, scores)

    def _calibrate(self) -> None:
        cal = self.calibration
        q = float(np.quantile(np.asarray(cal.scores), CALIBRATION_QUANTILE)) if cal.scores else 0.0
        cal.threshold = max(q * CALIBRATION_MARGIN, self.default_threshold * CALIBRATION_FLOOR)
        cal.source, cal.set_at, cal.scores = "warm-up", time.time(), []
        self.tracker.set_threshold(cal.threshold)

    def frame_scores(self) -> np.ndarray:
        """Every frame's smoothed score so far (recorded timelines)."""
        parts = self.record.frame_scores if self.record is not None else []
        return np.concatenate(parts) if parts else np.zeros(0, np.float32)
