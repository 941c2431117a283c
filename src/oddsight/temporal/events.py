"""Thresholding with hysteresis into events with start, end, peak and mean score."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np


@dataclass
class Event:
    """A span of anomalous frames; ``end_frame`` is inclusive."""

    start_frame: int
    end_frame: int
    start_s: float
    end_s: float
    peak_frame: int
    peak_s: float
    peak_score: float
    mean_score: float
    label: str | None = None  # what it was (e.g. the best-matching prompt), when the method knows
    details: dict[str, Any] = field(default_factory=dict)

    @property
    def duration_s(self) -> float:
        return self.end_s - self.start_s

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["duration_s"] = round(self.duration_s, 3)
        return d


def find_events(
    frame_scores: np.ndarray,
    fps: float,
    threshold: float,
    *,
    hysteresis: float = 0.1,
    min_duration_s: float = 1.0,
    merge_gap_s: float = 2.0,
) -> list[Event]:
    """Events where the per-frame score rises to ``threshold`` and stays above the lower level.

    An event opens at a frame >= ``threshold`` and closes when the score falls below
    ``threshold - hysteresis * |threshold|`` (so noise around the threshold does not split it).
    Events closer than ``merge_gap_s`` are merged; shorter than ``min_duration_s`` are dropped.
    """
    s = np.asarray(frame_scores, dtype=np.float64)
    if len(s) == 0:
        return []
    low = threshold - hysteresis * abs(threshold)
    spans: list[list[int]] = []
    start = None
    for i, v in enumerate(s):
        if start is None and v >= threshold:
            start = i
            # walk back while still above the low level, so the event starts where it rose
            while start > 0 and s[start - 1] >= low and (not spans or start - 1 > spans[-1][1]):
                start -= 1
        elif start is not None and v < low:
            spans.append([start, i - 1])
            start = None
    if start is not None:
        spans.append([start, len(s) - 1])
    merged: list[list[int]] = []
    gap = round(merge_gap_s * fps)
    for span in spans:
        if merged and span[0] - merged[-1][1] - 1 <= gap:
            merged[-1][1] = span[1]
        else:
            merged.append(span)
    events = []
    for a, b in merged:
        if (b - a + 1) / fps < min_duration_s:
            continue
        peak = a + int(np.argmax(s[a : b + 1]))
        events.append(
            Event(
                start_frame=a,
                end_frame=b,
                start_s=round(a / fps, 3),
                end_s=round((b + 1) / fps, 3),
                peak_frame=peak,
                peak_s=round(peak / fps, 3),
                peak_score=float(s[peak]),
                mean_score=float(s[a : b + 1].mean()),
            )
        )
    return events
