"""``DetectionResult``: the scores and events of one video; :func:`events_at` re-thresholds its frame scores."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from oddsight.config import DetectConfig
from oddsight.temporal.events import Event, find_events
from oddsight.video.sampling import Sampling
from oddsight.video.source import VideoInfo


@dataclass
class DetectionResult:
    """Scores and events for one video. ``frame_scores`` has one value per decoded frame."""

    info: VideoInfo
    method: str
    model_id: str
    sampling: Sampling
    threshold: float
    sample_indices: np.ndarray
    sample_times: np.ndarray
    sample_scores: np.ndarray  # raw detector scores
    smoothed_scores: np.ndarray
    frame_scores: np.ndarray
    events: list[Event]
    warnings: list[str]
    timings: dict[str, float]
    from_cache: bool
    params: dict[str, Any] = field(default_factory=dict)
    sample_texts: list[str] | None = None  # language methods: the text each sample's score was given for
    mode: str = "offline"  # "live": scored as a camera would (the past only), see oddsight.engine
    calibration: str = "default"  # how the threshold was set: given, default, warm-up, default (warming up)


def events_at(config: DetectConfig, frame_scores: np.ndarray, fps: float, threshold: float) -> list[Event]:
    """Events in every-frame scores at ``threshold``, with ``config``'s hysteresis, minimum length and merge gap."""
    c = config
    return find_events(
        frame_scores, fps, threshold, hysteresis=c.hysteresis, min_duration_s=c.min_event_s, merge_gap_s=c.merge_gap_s
    )
