"""Events from scores, one sample at a time: the one event type, its messages, and the tracker every front end
uses (``detect`` replays a file's every-frame scores through it; a camera feeds it as frames arrive).

Rules (the same for a file and a stream): an event opens at a score >= ``threshold`` and starts where the score
rose over the low level ``threshold - hysteresis * |threshold|`` just before; it lasts while the score stays at or
over the low level. A dip under it that ends (by a new crossing) within ``merge_gap_s`` joins both sides into one
event; a longer one ends the event. An event shorter than ``min_event_s`` is never reported, except with
``report_early`` (a camera's mode): then ``new`` goes out at the first crossing, for an alert as early as the
scores allow, and an event that ends sooner than ``min_event_s`` ends *dismissed* (its ``note`` says so,
``details["dismissed"]`` is true, and no result keeps it). ``update`` is sent when the peak rises (at most every
``update_every_s``), and ``end`` once no later crossing can join it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

MESSAGE_TYPES = ("new", "update", "end")


@dataclass
class Event:
    """A span of anomalous frames (``end_frame`` inclusive, ``end_s`` exclusive); times in seconds of the video
    or stream. ``reason`` says why (the LLM's, or the feature's words), ``box`` where (the visual methods on cell
    features); ``peak_s`` is the time of the highest raw sampled score (the frame that shows the cause) for the visual
    methods, ``peak_score`` the highest smoothed score; ``details`` holds method-specific extras."""

    start_frame: int
    end_frame: int
    start_s: float
    end_s: float
    peak_frame: int
    peak_s: float
    peak_score: float
    mean_score: float
    id: str | None = None
    kind: str = "anomaly"  # or "tamper": camera health (its label: covered, blurred, moved, frozen, offline)
    label: str | None = None  # what it was (the best-matching prompt, the window's caption), when the method knows
    reason: str | None = None
    box: list[int] | None = None  # where it happened: [x0, y0, x1, y1] in pixels of the video's frames
    snapshot: str | None = None
    clip: str | None = None
    note: str | None = None
    details: dict[str, Any] = field(default_factory=dict)

    @property
    def duration_s(self) -> float:
        return self.end_s - self.start_s

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        for key in ("start_s", "end_s", "peak_s"):
            d[key] = round(d[key], 3)
        d["peak_score"] = round(d["peak_score"], 6)
        d["mean_score"] = round(d["mean_score"], 6)
        d["duration_s"] = round(self.duration_s, 3)
        return d


@dataclass
class Message:
    """What an event did: ``new`` (reported), ``update`` (a higher peak) or ``end``."""

    type: str
    event: Event


@dataclass
class _Run:
    """Consecutive samples: where they start, their sum and count, and their highest one."""

    start_frame: int
    start_t: float
    total: float = 0.0
    count: int = 0

    def add(self, score: float) -> None:
        self.total += score
        self.count += 1


class EventTracker:
    """Scores in, one sample at a time (or in arrays, see :meth:`push_many`), event messages out.

    ``frame_s`` is the time one score stands for (1/fps of the scores fed in): an event ends ``frame_s`` after its
    last frame, and the merge gap and minimum length are measured as on frames.
    """

    def __init__(
        self,
        threshold: float,
        *,
        frame_s: float,
        hysteresis: float = 0.1,
        min_event_s: float = 1.0,
        merge_gap_s: float = 2.0,
        update_every_s: float = 5.0,
        new_id: Callable[[], str] | None = None,
        report_early: bool = False,
    ) -> None:
        self.threshold = float(threshold)
        self.report_early = report_early
        self.frame_s = float(frame_s)
        self.hysteresis, self.min_event_s, self.merge_gap_s = hysteresis, min_event_s, merge_gap_s
        self.update_every_s = update_every_s
        self._count = 0
        self._new_id = new_id or self._next_id
        self.event: Event | None = None  # the open event (reported or not)
        self.reported = False
        self._total = 0.0  # sum and count of the open event's scores (its mean)
        self._n = 0
        self._last_t = 0.0  # the time of the event's last frame
        self._dipping = False  # the score fell under the low level after the event's last frame
        self._gap = _Run(0, 0.0)  # every sample since that last frame (joined to the event if a crossing merges)
        self._rise: _Run | None = None  # the current run of samples at or over the low level, outside an event
        self._last_update = 0.0

    def _next_id(self) -> str:
        self._count += 1
        return f"ev-{self._count}"

    @property
    def low(self) -> float:
        return self.threshold - self.hysteresis * abs(self.threshold)

    def set_threshold(self, threshold: float) -> None:
        """A new threshold from now on (calibration); an open event goes on under the new levels."""
        self.threshold = float(threshold)

    # --- one sample -----------------------------------------------------------------------------------------

    def push(self, frame: int, t: float, score: float) -> list[Message]:
        """The messages this sample causes (usually none)."""
        score = float(score)
        out: list[Message] = []
        if self.event is not None and not self._dipping:
            if score >= self.low:
                self._extend(frame, t, score, out)
                return out
            self._dipping = True
            self._gap = _Run(frame, t)
        if self.event is not None:  # dipping
            self._gap.add(score)
            if score < self.low:
                self._rise = None
                if t - self._last_t > self.merge_gap_s + self._tolerance:
                    out += self._close()
                return out
            if self._rise is None:
                self._rise = _Run(frame, t)
            self._rise.add(score)
            if self._rise.start_t - self._last_t - self.frame_s > self.merge_gap_s + self._tolerance:
                out += self._close()  # too far from the event to join it: the rise may start one of its own
                if score >= self.threshold:
                    self._open(frame, t, score, out)
            elif score >= self.threshold:
                self._total += self._gap.total - score  # the gap joins the event (this sample is added next)
                self._n += self._gap.count - 1
                self._dipping, self._rise = False, None
                self._extend(frame, t, score, out)
            return out
        # no open event: track the rise, open at a crossing
        if score < self.low:
            self._rise = None
            return out
        if self._rise is None:
            self._rise = _Run(frame, t)
        self._rise.add(score)
        if score >= self.threshold:
            self._open(frame, t, score, out)
        return out

    @property
    def _tolerance(self) -> float:
        return (0.5 - 1e-6) * self.frame_s  # under half a frame: the gap counts whole frames, as on a file

    def _open(self, frame: int, t: float, score: float, out: list[Message]) -> None:
        rise = self._rise or _Run(frame, t, score, 1)
        self.event = Event(rise.start_frame, frame, rise.start_t, t + self.frame_s, frame, t, score, score)
        self.event.id = self._new_id()
        self._total, self._n = rise.total, rise.count
        self.event.mean_score = self._total / self._n
        self.reported, self._dipping, self._rise = False, False, None
        self._last_t = t
        self._maybe_report(t, out)

    def _extend(self, frame: int, t: float, score: float, out: list[Message]) -> None:
        ev = self.event
        assert ev is not None
        ev.end_frame, ev.end_s = frame, t + self.frame_s
        self._last_t = t
        self._total += score
        self._n += 1
        ev.mean_score = self._total / self._n
        if score > ev.peak_score:
            ev.peak_frame, ev.peak_s, ev.peak_score = frame, t, score
            if self.reported and t - self._last_update >= self.update_every_s:
                self._last_update = t
                out.append(Message("update", ev))
        self._maybe_report(t, out)

    def _maybe_report(self, t: float, out: list[Message]) -> None:
        ev = self.event
        if ev is None or self.reported:
            return
        if self.report_early or ev.end_s - ev.start_s >= self.min_event_s - 1e-9:
            self.reported = True
            self._last_update = t
            out.append(Message("new", ev))

    def _close(self) -> list[Message]:
        ev, reported = self.event, self.reported
        self.event, self.reported, self._dipping = None, False, False
        if ev is None or not reported:
            return []
        if ev.end_s - ev.start_s < self.min_event_s - 1e-9:  # reported early, and shorter than an event may be
            ev.details["dismissed"] = True
            ev.note = f"dismissed: shorter than --min-event ({self.min_event_s:g} s)"
        return [Message("end", ev)]

    def close(self, note: str | None = None) -> list[Message]:
        """The scores ended (the file's end, the stream stopped): the open event ends now, if it was reported."""
        self._rise = None
        if self.event is not None and note:
            self.event.note = note
        return self._close()

    # --- many samples ---------------------------------------------------------------------------------------

    def push_many(self, frames: np.ndarray, times: np.ndarray, scores: np.ndarray) -> list[Message]:
        """:meth:`push` for each sample in order; a calm stretch (no open event, nothing at the threshold) is
        passed over in one step, so a long video's every-frame scores cost little."""
        out: list[Message] = []
        scores = np.asarray(scores, dtype=np.float64)
        i, n = 0, len(scores)
        while i < n:
            if self.event is None:
                over = np.flatnonzero(scores[i:] >= self.threshold)
                stop = i + int(over[0]) if len(over) else n
                self._skip_calm(frames[i:stop], times[i:stop], scores[i:stop])
                i = stop
                if i == n:
                    break
            out += self.push(int(frames[i]), float(times[i]), float(scores[i]))
            i += 1
        return out

    def _skip_calm(self, frames: np.ndarray, times: np.ndarray, scores: np.ndarray) -> None:
        """Samples under the threshold with no event open: only the rise in progress at their end matters."""
        if len(scores) == 0:
            return
        under = np.flatnonzero(scores < self.low)
        if len(under):
            self._rise = None
            first = int(under[-1]) + 1
        else:
            first = 0
        if first < len(scores):
            if self._rise is None:
                self._rise = _Run(int(frames[first]), float(times[first]))
            self._rise.total += float(scores[first:].sum())
            self._rise.count += len(scores) - first


def replay_events(tracker: EventTracker, frames: np.ndarray, times: np.ndarray, scores: np.ndarray) -> list[Event]:
    """Every event ``tracker`` reports over these scores, ended at their end."""
    messages = tracker.push_many(frames, times, scores) + tracker.close()
    return [m.event for m in messages if m.type == "end"]


def find_events(
    frame_scores: np.ndarray,
    fps: float,
    threshold: float,
    *,
    hysteresis: float = 0.1,
    min_duration_s: float = 1.0,
    merge_gap_s: float = 2.0,
) -> list[Event]:
    """Events in a score for every frame of a video: :class:`EventTracker` replayed over them."""
    s = np.asarray(frame_scores, dtype=np.float64)
    frames = np.arange(len(s))
    tracker = EventTracker(
        threshold,
        frame_s=1.0 / fps,
        hysteresis=hysteresis,
        min_event_s=min_duration_s,
        merge_gap_s=merge_gap_s,
    )
    return replay_events(tracker, frames, frames / fps, s)
