"""``DetectionResult`` (scores and events of one video) and the scores -> events tail every method shares."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from oddsight.config import DetectConfig
from oddsight.temporal.events import Event, find_events
from oddsight.temporal.scores import interpolate_to_frames, smooth
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


def scores_to_events(
    config: DetectConfig,
    raw: np.ndarray,
    indices: np.ndarray,
    times: np.ndarray,
    n_frames: int,
    fps: float,
    default_threshold: float,
) -> tuple[np.ndarray, np.ndarray, float, list[Event]]:
    """The tail every method shares: smooth the sampled scores over ``config.effective_smooth_s`` seconds,
    interpolate them to all ``n_frames``, and threshold with hysteresis into events.
    Returns (smoothed, frame_scores, threshold, events)."""
    c = config
    smoothed = smooth(raw, times, c.effective_smooth_s)
    frame_scores = interpolate_to_frames(indices, smoothed, n_frames)
    threshold = c.threshold if c.threshold is not None else default_threshold
    return smoothed, frame_scores, float(threshold), events_at(config, frame_scores, fps, threshold)


def events_at(config: DetectConfig, frame_scores: np.ndarray, fps: float, threshold: float) -> list[Event]:
    """Events in every-frame scores at ``threshold``, with ``config``'s hysteresis, minimum length and merge gap."""
    c = config
    return find_events(
        frame_scores, fps, threshold, hysteresis=c.hysteresis, min_duration_s=c.min_event_s, merge_gap_s=c.merge_gap_s
    )
