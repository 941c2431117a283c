"""The one engine: a method's scorer and the timeline after it. Samples in, event messages out.

``detect`` on a file is a replay through it (every sample pushed, then :meth:`Engine.close`); ``watch`` pushes each
frame as it arrives; ``detect --live`` and ``eval --live`` replay a file through the *live* mode, so what they
measure is what a camera runs.
"""

from __future__ import annotations

import itertools
import time
from collections import deque
from collections.abc import Callable
from typing import Any

import numpy as np

from oddsight.config import DetectConfig
from oddsight.features.types import Features
from oddsight.methods.scorers import Scored, Scorer
from oddsight.result import DetectionResult
from oddsight.temporal.events import Event, Message
from oddsight.temporal.timeline import Record, Timeline, calibration_for
from oddsight.video.source import VideoInfo

_ids = itertools.count(1)
RAW_KEPT = 20_000  # raw samples kept to place a peak (over 2 hours at 2 fps)


def unique_ids(prefix: str) -> Callable[[], str]:
    """Event ids unique across runs of a camera (its false-alarm feedback is filed under them)."""
    return lambda: f"{prefix}-{int(time.time() * 1000):x}-{next(_ids)}"


class Engine:
    """Scores one video or camera. ``config.live`` picks the scorer's mode, the trailing smoothing and the
    warm-up calibration (``warmup_s``); a file's mode keeps every score (``record``) for its result."""

    def __init__(
        self,
        config: DetectConfig,
        scorer: Scorer,
        *,
        warmup_s: float = 0.0,
        camera: str | None = None,
        record: bool = True,
    ) -> None:
        self.config, self.scorer, self.record = config, scorer, record
        self.live = config.live
        self.calibration = calibration_for(config.threshold, scorer.default_threshold, warmup_s if self.live else 0)
        self.new_id = unique_ids(camera) if camera else None
        self.timeline: Timeline | None = None  # made at the first sample, when the frame rate is known
        self.events: list[Event] = []  # ended events (a recorded run)
        self._raw: deque[tuple[int, float, float]] = deque(maxlen=RAW_KEPT)  # (frame, t, raw score), for peaks

    def _timeline(self, fps: float) -> Timeline:
        if self.timeline is None:
            c = self.config
            self.timeline = Timeline(
                frame_s=1.0 / (fps or 25.0),
                smooth_s=c.effective_smooth_s,
                centred=not self.live,
                calibration=self.calibration,
                default_threshold=self.scorer.default_threshold,
                hysteresis=c.hysteresis,
                min_event_s=c.min_event_s,
                merge_gap_s=c.merge_gap_s,
                new_id=self.new_id,
                record=self.record,
                report_early=self.live,  # a camera alerts at the first crossing (a file's events keep min_event)
            )
        return self.timeline

    @property
    def threshold(self) -> float:
        return self.calibration.threshold

    @property
    def open_event(self) -> Event | None:
        """The event in progress, once it is reported."""
        tracker = self.timeline.tracker if self.timeline is not None else None
        return tracker.event if tracker is not None and tracker.reported else None

    @property
    def tracked_event(self) -> Event | None:
        """The event in progress, reported or not yet."""
        return self.timeline.tracker.event if self.timeline is not None else None

    @property
    def scored_frame(self) -> int | None:
        """The latest frame whose smoothed score is known (a windowed scorer's lag behind the stream)."""
        last = self.timeline.last if self.timeline is not None else None
        return None if last is None else int(last[0])

    def push(self, features: Features) -> list[Message]:
        """Sampled frames' features (one live frame, or a whole cached video) through the scorer and the timeline."""
        return self.push_scored(self.scorer.update(features), features.info.fps)

    def push_scored(self, scored: Scored, fps: float) -> list[Message]:
        """Scores made elsewhere (the language methods' windows of a file) through the timeline."""
        timeline = self._timeline(fps)
        out: list[Message] = []
        for frame, t, raw, at in scored.rows():
            if self.scorer.raw_peak:
                self._raw.append((frame, t, raw))
            out += timeline.push(frame, t, raw, at)
        tracked = timeline.tracker.event
        if tracked is not None:
            self._raw_peak(tracked)
        return self._explained(out)

    def _raw_peak(self, ev: Event) -> None:
        """Place ``ev``'s peak at its highest raw sample (the frame that shows the cause, not the edge of the
        smoothing window); ``peak_score`` stays the highest smoothed score, the one compared with the threshold."""
        if not self.scorer.raw_peak:
            return
        best = None
        for sample in reversed(self._raw):  # newest first: stop at the event's start
            if sample[0] < ev.start_frame:
                break
            if sample[0] <= ev.end_frame and (best is None or sample[2] >= best[2]):
                best = sample
        if best is not None:
            ev.peak_frame, ev.peak_s = int(best[0]), float(best[1])

    def close(self, n_frames: int | None = None, note: str | None = None, fps: float = 25.0) -> list[Message]:
        """The scores end: what the scorer held back, then the open event ends (every frame up to ``n_frames``
        scored)."""
        held = self.scorer.flush()
        out = self.push_scored(held, fps) if len(held) else []
        if self.timeline is not None:
            out += self._explained(self.timeline.close(n_frames, note))
        return out

    def prime(self, history: list[Features], gap_s: float = 3.0) -> None:
        """A camera's past (normal footage it watched before, oldest first) fed through the same scorer and
        calibration, placed back to back before time 0; its events are not kept, and the record starts after it."""
        from dataclasses import replace

        shifted, end = [], -gap_s  # the history ends this long before the video starts: all of it is past
        for features in reversed([f for f in history if len(f)]):
            times = features.timestamps - features.timestamps[-1] + end
            shifted.insert(0, replace(features, timestamps=times))
            end = float(times[0]) - gap_s
        for features in shifted:
            self._prime_one(features)
        self.timeline, self.events = None, []

    def _prime_one(self, features: Features) -> None:
        self.push(features)
        if self.timeline is not None:
            self.timeline.close()
        self.timeline = None

    def result(self, info: VideoInfo, model_id: str, **fields: Any) -> DetectionResult:
        """The recorded run as a :class:`DetectionResult` (``fields``: warnings, timings, params, ...)."""
        timeline = self.timeline
        record = timeline.record if timeline is not None and timeline.record is not None else Record()
        c = self.config
        fields.setdefault("sampling", c.sampling)
        fields.setdefault("warnings", [])
        fields.setdefault("timings", {})
        fields.setdefault("from_cache", False)
        fields.setdefault("params", {})
        return DetectionResult(
            info=info,
            method=c.method,
            model_id=model_id,
            threshold=float(self.threshold),
            sample_indices=np.asarray(record.frames),
            sample_times=np.asarray(record.times, np.float64),
            sample_scores=np.asarray(record.raw, np.float32),
            smoothed_scores=np.asarray(record.smoothed, np.float32),
            frame_scores=timeline.frame_scores() if timeline is not None else np.zeros(0, np.float32),
            events=list(self.events),
            mode="live" if self.live else "offline",
            calibration=self.calibration.source,
            **fields,
        )

    def _explained(self, messages: list[Message]) -> list[Message]:
        for message in messages:
            self._raw_peak(message.event)
            self.scorer.explain(message)
            if message.type == "end" and self.record and not message.event.details.get("dismissed"):
                self.events.append(message.event)
        return messages
