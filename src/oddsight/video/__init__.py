"""Video input: files, frame folders, streams; sampling by fps or stride; annotated output."""

from oddsight.video.sampling import Sampling
from oddsight.video.source import VideoInfo, open_source

__all__ = ["Sampling", "VideoInfo", "open_source"]
