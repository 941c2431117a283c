"""Pictures and clips for the dashboard: checking an upload with the decoder, an event's peak-frame JPEG, an
event's MP4 clip, and a browser-playable copy of a video whose codec a browser cannot play."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np

from oddsight.atomic import atomic_file
from oddsight.errors import ConfigError, InputError, VideoDecodeError
from oddsight.video.pictures import draw_box
from oddsight.video.sampling import Sampling
from oddsight.video.source import open_source

CLIP_MARGIN_S = 3.0  # seconds of context before and after an event in its clip
THUMB_WIDTH = 320
BROWSER_CODECS = {"h264", "vp8", "vp9", "av1"}
BROWSER_SUFFIXES = {".mp4", ".m4v", ".webm"}


MAX_SIDE = 8192
MAX_PIXELS = 40_000_000


def check_size(name: str, width: int, height: int) -> None:
    """Refuse frames too large to decode safely (each would take ``width * height * 3`` bytes, and more)."""
    if width > MAX_SIDE or height > MAX_SIDE or width * height > MAX_PIXELS:
        raise InputError(
            f"{name}: frames of {width}x{height} are larger than this server decodes "
            f"(at most {MAX_SIDE} pixels a side and {MAX_PIXELS // 1_000_000} megapixels)"
        )


def probe(path: Path, *, folder_fps: float = 25.0) -> dict[str, Any]:
    """What the decoder says of ``path``, after decoding one frame: a file that does not decode is refused."""
    source = open_source(path, folder_fps=folder_fps)
    check_size(path.name, source.info.width, source.info.height)
    try:
        next(iter(source.frames(Sampling(fps=None, stride=1), (32, 32))))
    except StopIteration:
        raise VideoDecodeError(f"{path.name}: no frame could be decoded") from None
    info = source.info
    return {
        "width": info.width,
        "height": info.height,
        "fps": info.fps,
        "frame_count": info.frame_count,
        "duration_s": info.duration_s,
        "codec": info.codec,
        "kind": info.kind,
    }


def folder_fps(video: dict[str, Any]) -> float | None:
    """A stored frame folder's frame rate (set when it was registered); None for a video file, whose decoder
    knows its own."""
    return float(video.get("fps") or 25.0) if Path(video["path"]).is_dir() else None


def check_folder_fps(video: dict[str, Any], asked: float | None) -> None:
    """A client's ``frames_fps`` for a stored video must agree with the frame rate stored with it: a frame folder's
    rate is a property of the video, set at registration, not an analysis option."""
    fps = folder_fps(video)
    if asked is not None and fps is not None and abs(asked - fps) > 1e-9:
        raise ConfigError(
            f"frames_fps: video {video['id']} is a frame folder registered at {fps:g} fps, not {asked:g}; "
            "leave frames_fps out (its stored rate is used), or register the folder again at that rate"
        )


def browser_playable(path: Path, codec: str | None) -> bool:
    return path.is_file() and path.suffix.lower() in BROWSER_SUFFIXES and (codec or "") in BROWSER_CODECS


def _frames(path: Path, start_s: float, end_s: float | None, folder_fps: float) -> Iterator[tuple[float, np.ndarray]]:
    """(time, RGB frame) from ``start_s`` to ``end_s``, through the one decoder and on its clock (0 at the first
    frame), so an event's thumbnail and clip show what was scored at its times; a file seeks to ``start_s``."""
    for frame in open_source(path, folder_fps=folder_fps).span(start_s, end_s):
        yield frame.t, frame.image


def thumbnail(path: Path, t: float, out: Path, *, folder_fps: float = 25.0, box: list[int] | None = None) -> Path:
    """The frame at ``t`` seconds as a JPEG ``THUMB_WIDTH`` wide, with the event's ``box`` drawn."""
    from PIL import Image

    for _, image in _frames(path, max(0.0, t), None, folder_fps):
        im = Image.fromarray(image)
        im = draw_box(im, box, (im.width, im.height))
        im.thumbnail((THUMB_WIDTH, THUMB_WIDTH * 4))
        with atomic_file(out) as tmp:
            im.save(tmp, format="JPEG", quality=85)
        return out
    raise InputError(f"{path.name}: no frame at {t:.2f} s")


def clip(path: Path, start_s: float, end_s: float, fps: float, out: Path, *, folder_fps: float = 25.0) -> Path:
    """An H.264 MP4 of ``start_s - CLIP_MARGIN_S`` to ``end_s + CLIP_MARGIN_S``, playable in a browser."""
    return _encode(_frames(path, max(0.0, start_s - CLIP_MARGIN_S), end_s + CLIP_MARGIN_S, folder_fps), fps, out)


def preview(path: Path, fps: float, out: Path, *, folder_fps: float = 25.0) -> Path:
    """The whole video as an H.264 MP4 (for a codec or frame folder a browser cannot play)."""
    return _encode(_frames(path, 0.0, None, folder_fps), fps, out)


def _encode(frames: Iterator[tuple[float, np.ndarray]], fps: float, out: Path) -> Path:
    from oddsight.report.annotate import VideoSink

    first = next(frames, None)
    if first is None:
        raise InputError(f"{out.name}: no frames in that span")
    h, w = first[1].shape[:2]
    with atomic_file(out) as tmp, VideoSink(Path(tmp), w, h, fps or 25.0) as sink:
        sink.write(first[1])
        for _, image in frames:
            sink.write(image)
    return out
