"""What every source shares: the frame and video types, the source contract, and the decode primitives (the
tolerant packet decoder, frame pairing for motion, the one RGB conversion), used by files, folders and streams."""

from __future__ import annotations

import threading
from abc import ABC, abstractmethod
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

from oddsight.video.sampling import Sampling

VIDEO_SUFFIXES = {".mp4", ".avi", ".mov", ".mkv", ".webm", ".m4v", ".mpg", ".mpeg", ".ts", ".flv", ".wmv"}
IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff"}
STREAM_PREFIXES = ("rtsp://", "rtsps://", "rtmp://", "http://", "https://", "udp://", "tcp://", "srt://")
DEFAULT_FOLDER_FPS = 25.0


@dataclass(frozen=True)
class VideoInfo:
    """What is known about a source before (and, for ``frame_count``, after) decoding."""

    source: str
    kind: str  # "file" | "frames" | "stream"
    width: int
    height: int
    fps: float
    frame_count: int | None
    duration_s: float | None
    codec: str | None = None


@dataclass
class DecodedFrame:
    index: int
    t: float
    image: np.ndarray  # (H, W, 3) uint8 RGB
    previous: np.ndarray | None = None  # when asked for: the frame decoded just before (after, for the first)


@dataclass
class DecodeReport:
    """Filled while iterating: how many frames were decoded, and what went wrong on the way."""

    frames_decoded: int = 0
    warnings: list[str] = field(default_factory=list)


class FrameSource(ABC):
    """A source of frames; iterate with :meth:`frames`. ``report`` is filled as frames are read."""

    info: VideoInfo

    def __init__(self) -> None:
        self.report = DecodeReport()

    @abstractmethod
    def frames(
        self, sampling: Sampling | None = None, size: tuple[int, int] | None = None, *, previous: bool = False
    ) -> Iterator[DecodedFrame]:
        """Yield the kept frames as RGB arrays, resized to ``size=(width, height)`` when given.

        With ``previous``, each kept frame also carries the frame decoded just before it (motion features
        compare the two); only kept frames and their predecessors are converted.
        """

    def span(self, start_s: float, end_s: float | None = None) -> Iterator[DecodedFrame]:
        """Every frame from ``start_s`` to ``end_s`` (seconds on the clock :meth:`frames` gives them: 0 at the first
        frame), for a thumbnail or a clip; a file seeks instead of decoding from its start."""
        yield from self.frames(Sampling(fps=None, stride=1, start_s=max(0.0, start_s), end_s=end_s))

    @property
    def is_live(self) -> bool:
        return self.info.kind == "stream"


def is_stream_url(spec: str) -> bool:
    return spec.lower().startswith(STREAM_PREFIXES) or spec.startswith("/dev/video")


def _av():
    import av

    return av


@dataclass
class _Skipped:
    """How many packets the decoder refused (corrupt data it could not conceal)."""

    count: int = 0


# What FFmpeg may open beneath each kind of source: a stream never reaches files, pipes or a listening socket
# through a playlist, a redirect or an SDP it was handed (the same rule for files read as streams, cameras and the
# server's camera processes).
_PROTOCOLS = {
    "rtsp": "rtsp,rtsps,rtp,srtp,udp,tcp,tls",
    "rtmp": "rtmp,rtmps,rtmpt,rtmpts,tcp,tls",
    "http": "http,https,tcp,tls,crypto,httpproxy",
    "udp": "udp,rtp",
    "tcp": "tcp",
    "srt": "srt",
}


def open_stream(url: str, timeout_s: float, read_timeout_s: float | None = None):
    """Open a network stream or a ``/dev/videoN`` device with the one set of options every reader uses: RTSP
    over TCP, open and read timeouts, and a protocol allow-list for what the source may open in turn."""
    av = _av()
    kwargs: dict = {"timeout": (timeout_s, read_timeout_s or timeout_s)}
    lower = url.lower()
    if url.startswith("/dev/video"):
        kwargs["format"] = "v4l2"
        return av.open(url, **kwargs)
    family = lower.split("://", 1)[0].rstrip("s") if "://" in lower else ""  # rtsps -> rtsp, https -> http
    options = {"rtsp_transport": "tcp", "stimeout": str(int(timeout_s * 1e6))} if family == "rtsp" else {}
    if family in _PROTOCOLS:
        options["protocol_whitelist"] = _PROTOCOLS[family]
    return av.open(url, options=options, **kwargs)


def _decode_tolerant(container, stream, skipped: _Skipped) -> Iterator:
    """Decoded frames of ``stream``, packet by packet: a corrupt packet is skipped (and counted) and decoding goes
    on, as FFmpeg can from the next keyframe, instead of stopping the whole video at the first bad byte. Errors
    reading the container itself (a truncated file, a dropped connection) still end it."""
    av = _av()
    for packet in container.demux(stream):
        try:
            frames = packet.decode()
        except av.error.FFmpegError:
            skipped.count += 1
            continue
        yield from frames


class _Pairs:
    """Turns decoded frames into :class:`DecodedFrame` values, each kept frame with the frame decoded before it
    when ``enabled`` (motion compares the two). The very first frame has none before it: it waits for the frame
    after it instead (motion magnitude reads the same either way), so no sample is lost."""

    def __init__(self, size: tuple[int, int] | None, enabled: bool) -> None:
        self.size = size
        self.enabled = enabled
        self.last = None
        self.pending: DecodedFrame | None = None

    def step(self, index: int, t: float, frame, keep: bool) -> list[DecodedFrame]:
        out = []
        if self.pending is not None:
            out.append(replace(self.pending, previous=to_rgb(frame, self.size)))
            self.pending = None
        if keep:
            image = to_rgb(frame, self.size)
            if not self.enabled:
                out.append(DecodedFrame(index, t, image))
            elif self.last is None:
                self.pending = DecodedFrame(index, t, image)
            else:
                out.append(DecodedFrame(index, t, image, to_rgb(self.last, self.size)))
        self.last = frame if self.enabled else None
        return out

    def flush(self) -> list[DecodedFrame]:
        """The first frame of a one-frame video, still without a partner (previous stays None)."""
        out = [self.pending] if self.pending is not None else []
        self.pending = None
        return out


_scalers = threading.local()
KEPT_SCALERS = 8  # scalers one thread keeps, one per output (size and format)


def reformat(frame: Any, **options: Any) -> Any:
    """``frame`` (an av.VideoFrame) converted by ``VideoFrame.reformat``'s ``options``, on a scaler kept per thread
    and output, single-threaded. A frame's own ``reformat`` builds a scaler (and its slice threads) for each new
    frame and frees it after: at 2 fps on a camera that was most of the conversion's cost (1.5 ms of CPU for a
    320x240 RGB picture of a 378x280 frame, 0.4 ms on a kept scaler, measured here). The pixels are the same."""
    kept = _scalers.__dict__.setdefault("by_output", {})
    key = tuple(sorted(options.items()))
    if key not in kept:
        if len(kept) >= KEPT_SCALERS:  # outputs of many sizes (snapshots of many cameras): start afresh
            kept.clear()
        from av.video.reformatter import VideoReformatter

        kept[key] = VideoReformatter()
    return kept[key].reformat(frame, threads=1, **options)


def to_rgb(frame, size: tuple[int, int] | None) -> np.ndarray:
    """A decoded frame as RGB, resized with area averaging: the one conversion of every source and stream."""
    if size is None:
        return reformat(frame, format="rgb24").to_ndarray()
    return reformat(frame, width=size[0], height=size[1], format="rgb24", interpolation="AREA").to_ndarray()


def _ffmpeg_reason(exc: Exception) -> str:
    text = getattr(exc, "strerror", None) or str(exc)
    return str(text).split(":")[0].strip() or type(exc).__name__
