"""Open a video file, a folder of frames, or a live stream, and iterate its (sampled) frames.

Every source yields :class:`DecodedFrame` values with the frame's index in the source and its
timestamp in seconds from the first frame. Only frames kept by the sampler are converted to RGB
and resized; the rest are decoded (to keep indices exact) and dropped at once, so memory does not
grow with the video's length.
"""

from __future__ import annotations

import logging
import re
import time
from abc import ABC, abstractmethod
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np

from oddsight.errors import InputError, StreamError, VideoDecodeError
from oddsight.redact import redact_urls
from oddsight.video.sampling import Sampling

log = logging.getLogger(__name__)

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

    @property
    def is_live(self) -> bool:
        return self.info.kind == "stream"


def is_stream_url(spec: str) -> bool:
    return spec.lower().startswith(STREAM_PREFIXES) or spec.startswith("/dev/video")


def open_source(spec: str | Path, *, folder_fps: float = DEFAULT_FOLDER_FPS, reconnects: int = 3) -> FrameSource:
    """Open ``spec`` (a video file, a folder of frames, a stream URL or ``/dev/videoN``)."""
    text = str(spec)
    if is_stream_url(text):
        return StreamSource(text, reconnects=reconnects)
    path = Path(text)
    if not path.exists():
        raise InputError(f"{text}: no such file or folder")
    if path.is_dir():
        return FolderSource(path, fps=folder_fps)
    return FileSource(path)


def _av():
    import av

    return av


def _frame_time(frame, index: int, fps: float, t0: float | None) -> tuple[float, float | None]:
    t = frame.time
    if t is None:
        return index / fps, t0
    if t0 is None:
        t0 = t
    return t - t0, t0


class FileSource(FrameSource):
    """A video file FFmpeg can read (mp4, avi, mov, mkv, webm, ...), decoded with PyAV."""

    def __init__(self, path: Path) -> None:
        super().__init__()
        self.path = path
        if path.stat().st_size == 0:
            raise VideoDecodeError(f"{path}: file is empty (0 bytes)")
        av = _av()
        try:
            with av.open(str(path)) as container:
                if not container.streams.video:
                    raise VideoDecodeError(f"{path}: no video stream in this file")
                stream = container.streams.video[0]
                rate = stream.average_rate or stream.guessed_rate
                fps = float(rate) if rate else 0.0
                duration = None
                if stream.duration is not None and stream.time_base is not None:
                    duration = float(stream.duration * stream.time_base)
                elif container.duration is not None:
                    duration = container.duration / 1_000_000
                frames = int(stream.frames) or None
                if frames is None and duration and fps:
                    frames = round(duration * fps)
                width, height = stream.codec_context.width, stream.codec_context.height
                codec = stream.codec_context.name
        except av.error.FFmpegError as exc:
            raise VideoDecodeError(f"{path}: not a video FFmpeg can read ({_ffmpeg_reason(exc)})") from None
        if not width or not height:
            raise VideoDecodeError(f"{path}: video stream has no frame size")
        if not fps:
            fps = 25.0
            self.report.warnings.append(f"{path.name}: no frame rate in the file; assuming {fps:g} fps")
        self.info = VideoInfo(str(path), "file", width, height, fps, frames, duration, codec)

    def frames(
        self, sampling: Sampling | None = None, size: tuple[int, int] | None = None, *, previous: bool = False
    ) -> Iterator[DecodedFrame]:
        av = _av()
        selector = sampling.selector() if sampling else None
        report = self.report = DecodeReport(warnings=list(self.report.warnings))
        pairs = _Pairs(size, previous)
        index = 0
        t0: float | None = None
        stopped = False
        try:
            container = av.open(str(self.path))
        except av.error.FFmpegError as exc:
            raise VideoDecodeError(f"{self.path}: cannot open ({_ffmpeg_reason(exc)})") from None
        with container:
            stream = container.streams.video[0]
            stream.thread_type = "AUTO"
            skipped = _Skipped()
            try:
                for frame in _decode_tolerant(container, stream, skipped):
                    t, t0 = _frame_time(frame, index, self.info.fps, t0)
                    if selector is not None and selector.past_end(t):
                        break
                    yield from pairs.step(index, t, frame, selector is None or selector.keep(index, t))
                    index += 1
                yield from pairs.flush()
            except av.error.FFmpegError as exc:
                stopped = True
                report.warnings.append(
                    f"{self.path.name}: decoding stopped at frame {index} ({_ffmpeg_reason(exc)}); "
                    f"kept the {index} frames decoded before it"
                )
            finally:
                report.frames_decoded = index
                if skipped.count:
                    report.warnings.append(
                        f"{self.path.name}: {skipped.count} corrupt packet(s) skipped; decoding went on past them"
                    )
        if index == 0:
            raise VideoDecodeError(f"{self.path}: no frame could be decoded")
        expected = self.info.frame_count
        read_to_end = sampling is None or sampling.end_s is None
        if expected and read_to_end and index < expected * 0.98 and not stopped:
            report.warnings.append(
                f"{self.path.name}: only {index} of {expected} frames decoded; the file looks truncated"
            )


class FolderSource(FrameSource):
    """A folder of still frames (jpg/png/...), in natural sort order, played at ``fps``."""

    def __init__(self, path: Path, fps: float = DEFAULT_FOLDER_FPS) -> None:
        super().__init__()
        self.path = path
        self.files = sorted((p for p in path.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES), key=_natural_key)
        if not self.files:
            raise InputError(f"{path}: folder holds no video files or image frames")
        from PIL import Image

        with _readable(self.files[0]), Image.open(self.files[0]) as im:
            width, height = im.size
        n = len(self.files)
        self.info = VideoInfo(str(path), "frames", width, height, fps, n, n / fps, "images")

    def frames(
        self, sampling: Sampling | None = None, size: tuple[int, int] | None = None, *, previous: bool = False
    ) -> Iterator[DecodedFrame]:
        selector = sampling.selector() if sampling else None
        report = self.report = DecodeReport()
        last: tuple[int, np.ndarray] | None = None  # the image read last: with pairs, often the next one's partner

        def read(i: int) -> np.ndarray:
            nonlocal last
            if last is None or last[0] != i:
                last = (i, _read_image(self.files[i], size))
            return last[1]

        for index in range(len(self.files)):
            t = index / self.info.fps
            if selector is not None and selector.past_end(t):
                break
            report.frames_decoded = index + 1
            if selector is not None and not selector.keep(index, t):
                continue
            partner = index - 1 if index else 1  # the first frame pairs with the one after it
            before = read(partner) if previous and partner < len(self.files) else None
            yield DecodedFrame(index, t, read(index), before)


class StreamSource(FrameSource):
    """A live stream (rtsp/rtmp/http/udp/srt URL) or a V4L2 camera, reopened when it drops."""

    def __init__(self, url: str, *, reconnects: int = 3, open_timeout_s: float = 10.0) -> None:
        super().__init__()
        self.url = url
        self.reconnects = reconnects
        self.open_timeout_s = open_timeout_s
        container = self._open()
        with container:
            stream = container.streams.video[0]
            rate = stream.average_rate or stream.guessed_rate
            fps = float(rate) if rate else 25.0
            self.info = VideoInfo(
                redact_urls(url),
                "stream",
                stream.codec_context.width,
                stream.codec_context.height,
                fps,
                None,
                None,
                stream.codec_context.name,
            )

    def _open(self):
        av = _av()
        options = {"rtsp_transport": "tcp"} if self.url.startswith(("rtsp://", "rtsps://")) else {}
        fmt = "v4l2" if self.url.startswith("/dev/video") else None
        try:
            container = av.open(self.url, format=fmt, options=options, timeout=(self.open_timeout_s, 10.0))
        except av.error.FFmpegError as exc:
            raise StreamError(f"{redact_urls(self.url)}: cannot open stream ({_ffmpeg_reason(exc)})") from None
        if not container.streams.video:
            container.close()
            raise StreamError(f"{redact_urls(self.url)}: stream has no video")
        return container

    def _check_rate(self, sampling: Sampling | None, kept: int, duration: float | None) -> None:
        """Warn when far fewer frames were sampled than ``--fps`` over the stream's length implies."""
        if sampling is None or sampling.fps is None or not duration:
            return
        expected = duration * sampling.fps
        if expected >= 4 and kept < 0.5 * expected:
            self.report.warnings.append(
                f"only {kept} frames sampled over {duration:.1f} s of stream, where --fps {sampling.fps:g} implies "
                f"about {expected:.0f}: the stream delivers fewer frames than its timestamps promise"
            )

    def frames(
        self, sampling: Sampling | None = None, size: tuple[int, int] | None = None, *, previous: bool = False
    ) -> Iterator[DecodedFrame]:
        av = _av()
        selector = sampling.selector() if sampling else None
        report = self.report = DecodeReport()
        index = kept = 0
        clock = _StreamClock(self.info.fps)
        failures = 0
        while True:
            try:
                container = self._open()
            except StreamError:
                failures += 1
                if failures > self.reconnects:
                    raise
                time.sleep(min(2.0**failures, 10.0))
                continue
            with container:
                stream = container.streams.video[0]
                pairs = _Pairs(size, previous)
                skipped = _Skipped()
                try:
                    for frame in _decode_tolerant(container, stream, skipped):
                        failures = 0
                        t = clock(frame)
                        if selector is not None and selector.past_end(t):
                            report.frames_decoded = index
                            yield from pairs.flush()
                            return
                        for decoded in pairs.step(index, t, frame, selector is None or selector.keep(index, t)):
                            kept += 1
                            yield decoded
                        index += 1
                        report.frames_decoded = index
                    yield from pairs.flush()
                    self._check_rate(sampling, kept, clock.last)
                    return  # the stream ended cleanly
                except av.error.FFmpegError as exc:
                    failures += 1
                    report.warnings.append(f"stream dropped at frame {index} ({_ffmpeg_reason(exc)})")
                    if failures > self.reconnects:
                        raise StreamError(
                            f"{redact_urls(self.url)}: stream lost after {self.reconnects} reconnects"
                        ) from None
                    clock.reconnected()
                    time.sleep(min(2.0**failures, 10.0))  # back off before reconnecting
                    log.warning("stream dropped; reconnecting (%d/%d)", failures, self.reconnects)


@dataclass
class _Skipped:
    """How many packets the decoder refused (corrupt data it could not conceal)."""

    count: int = 0


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


class _StreamClock:
    """Seconds since a stream started, from its frames' own presentation times (the wall clock only for frames
    without one), continued across reconnects: a stream delivered faster or slower than real time keeps its
    own timeline, as the same file read from disk does."""

    def __init__(self, fps: float) -> None:
        self.fps = fps or 25.0
        self.start = time.monotonic()
        self.base = 0.0
        self.t0: float | None = None
        self.last: float | None = None

    def __call__(self, frame) -> float:
        if frame.time is None:
            t = time.monotonic() - self.start
        else:
            if self.t0 is None:
                self.t0 = frame.time
            t = self.base + float(frame.time) - self.t0
        self.last = t
        return t

    def reconnected(self) -> None:
        """A new connection starts its timestamps afresh: carry on from where the last one ended."""
        self.base = self.last + 1.0 / self.fps if self.last is not None else 0.0
        self.t0 = None


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


@contextmanager
def _readable(file: Path) -> Iterator[None]:
    """Turn PIL's failures on ``file`` into one VideoDecodeError: unreadable, or a decompression bomb."""
    from PIL import Image, UnidentifiedImageError

    try:
        yield
    except Image.DecompressionBombError:
        raise VideoDecodeError(f"{file}: image too large to be a video frame (a decompression bomb?)") from None
    except (UnidentifiedImageError, OSError) as exc:
        raise VideoDecodeError(f"{file}: not a readable image ({exc})") from None


def _read_image(file: Path, size: tuple[int, int] | None) -> np.ndarray:
    from PIL import Image

    with _readable(file), Image.open(file) as im:
        im = im.convert("RGB")
        if size is not None and im.size != size:
            im = im.resize(size, Image.Resampling.BILINEAR)
        return np.asarray(im)


def to_rgb(frame, size: tuple[int, int] | None) -> np.ndarray:
    """A decoded frame as RGB, resized with area averaging: the one conversion of every source and stream."""
    if size is None:
        return frame.to_ndarray(format="rgb24")
    return frame.to_ndarray(width=size[0], height=size[1], format="rgb24", interpolation="AREA")


def _natural_key(path: Path) -> list[object]:
    return [int(part) if part.isdigit() else part.lower() for part in re.split(r"(\d+)", path.name)]


def _ffmpeg_reason(exc: Exception) -> str:
    text = getattr(exc, "strerror", None) or str(exc)
    return str(text).split(":")[0].strip() or type(exc).__name__
