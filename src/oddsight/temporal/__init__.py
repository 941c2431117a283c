"""From sampled-frame scores to a score for every frame and to events."""

from oddsight.temporal.events import Event, find_events
from oddsight.temporal.scores import interpolate_to_frames, smooth

__all__ = ["Event", "find_events", "interpolate_to_frames", "smooth"]
