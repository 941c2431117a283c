"""Captions of a video: what each span of frames shows, in words.

Users can bring their own (made by any VLM elsewhere) in the formats of ``../shared/data``:
- a text file with one description per frame (line ``i`` describes frame ``i``);
- JSONL with one segment per line: ``{"start_frame", "end_frame", "text"}`` (end inclusive), or
  ``{"start_s", "end_s", "text"}`` in seconds; an optional ``"video"`` field lets one file carry
  many videos (the one named like the input video is used).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from oddsight.errors import InputError


@dataclass
class TextSegment:
    """A description of frames ``start..end`` (inclusive)."""

    start: int
    end: int
    text: str

    @property
    def mid(self) -> float:
        return (self.start + self.end) / 2


def read_captions(path: Path, *, fps: float, video: str | None = None) -> list[TextSegment]:
    """Captions from ``path`` (.txt per frame, or .jsonl segments); ``fps`` converts seconds."""
    if not path.is_file():
        raise InputError(f"{path}: no such captions file")
    if path.suffix.lower() in (".jsonl", ".json"):
        segments = _read_jsonl(path, fps, video)
    elif path.suffix.lower() == ".txt":
        lines = path.read_text(errors="replace").splitlines()
        segments = [TextSegment(i, i, line.strip()) for i, line in enumerate(lines) if line.strip()]
    else:
        raise InputError(f"{path}: captions must be a .txt (one line per frame) or .jsonl (segments) file")
    if not segments:
        raise InputError(f"{path}: no captions" + (f" for video {video!r}" if video else ""))
    return sorted(segments, key=lambda s: (s.start, s.end))


def _read_jsonl(path: Path, fps: float, video: str | None) -> list[TextSegment]:
    segments: list[TextSegment] = []
    names: set[str] = set()
    with open(path, errors="replace") as f:
        for n, line in enumerate(f, 1):
            if not line.strip():
                continue
            try:
                d = json.loads(line)
                if "start_frame" in d:
                    start, end = int(d["start_frame"]), int(d["end_frame"])
                else:
                    start = int(float(d["start_s"]) * fps)
                    end = max(start, int(float(d["end_s"]) * fps) - 1)
                text = str(d["text"]).strip()
            except (ValueError, KeyError, TypeError, AttributeError) as exc:
                raise InputError(f"{path} line {n}: not a caption segment ({type(exc).__name__}: {exc})") from None
            if start < 0 or end < start:
                raise InputError(f"{path} line {n}: bad frame span {start}..{end}")
            name = d.get("video")
            if name is not None:
                names.add(str(name))
            if name is None or video is None or _same_video(str(name), video):
                segments.append(TextSegment(start, end, text))
    if names and video is not None and not segments:
        raise InputError(f"{path}: no captions for video {video!r} (it has {len(names)} other videos)")
    if len(names) > 1 and video is None:
        raise InputError(f"{path}: captions of {len(names)} videos; say which video they are for")
    return segments


def _same_video(name: str, video: str) -> bool:
    return Path(name).stem == Path(video).stem or name == video
