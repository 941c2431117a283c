"""What a list of inputs means: files and stream URLs as given, a folder of frames as one video, a folder of
videos (or of frame folders) as each of them."""

from __future__ import annotations

from pathlib import Path

from oddsight.errors import InputError
from oddsight.video.source import IMAGE_SUFFIXES, VIDEO_SUFFIXES, is_stream_url


def is_frame_folder(path: Path) -> bool:
    """Whether ``path`` is a folder holding image frames (one video)."""
    return path.is_dir() and any(e.suffix.lower() in IMAGE_SUFFIXES for e in path.iterdir())


def expand_inputs(paths: list[str]) -> list[str]:
    """Videos to process: files and stream URLs as given; a folder is a frame sequence if it holds
    images, else each video file (or frame sub-folder) inside it."""
    out: list[str] = []
    for spec in paths:
        p = Path(spec)
        if is_stream_url(spec) or not p.is_dir():
            out.append(spec)
            continue
        if is_frame_folder(p):
            out.append(spec)
            continue
        entries = sorted(p.iterdir())
        found = [str(e) for e in entries if e.is_file() and e.suffix.lower() in VIDEO_SUFFIXES]
        found += [str(e) for e in entries if is_frame_folder(e)]
        if not found:
            raise InputError(f"{spec}: folder holds no video files or image frames")
        out.extend(found)
    return out
