"""Open a video file, a folder of frames, or a live stream, and iterate its (sampled) frames.

Every source yields :class:`DecodedFrame` values with the frame's index in the source and its
timestamp in seconds from the first frame. Only frames kept by the sampler are converted to RGB
and resized; the rest are decoded (to keep indices exact) and dropped at once, so memory does not
grow with the video's length.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np

from oddsight.errors import InputError, VideoDecodeError
from oddsight.threads import set_decoder_threads
from oddsight.video.frames import (  # noqa: F401  (re-exported: the rest of the package imports them from here)
    DEFAULT_FOLDER_FPS,
    IMAGE_SUFFIXES,
    STREAM_PREFIXES,
    VIDEO_SUFFIXES,
    DecodedFrame,
    DecodeReport,
    FrameSource,
    VideoInfo,
    _av,
    _decode_tolerant,
    _ffmpeg_reason,
    _Pairs,
    _Skipped,
    is_stream_url,
    to_rgb,
)
from oddsight.video.sampling import Sampling
from oddsight.video.stream_source import StreamSource

log = logging.getLogger(__name__)


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

    def _open(self):
        """The file's container (a context manager); one VideoDecodeError when FFmpeg cannot open it."""
        av = _av()
        try:
            return av.open(str(self.path))
        except av.error.FFmpegError as exc:
            raise VideoDecodeError(f"{self.path}: cannot open ({_ffmpeg_reason(exc)})") from None

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
        with self._open() as container:
            stream = container.streams.video[0]
            set_decoder_threads(stream)
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

    def span(self, start_s: float, end_s: float | None = None) -> Iterator[DecodedFrame]:
        """As :meth:`FrameSource.span`, seeking to the keyframe before ``start_s``: t = 0 is still the first frame
        (read first), so a thumbnail at an event's peak shows the frame `detect` scored there."""
        if start_s <= 1.0:
            yield from super().span(start_s, end_s)
            return
        av = _av()
        with self._open() as container:
            stream = container.streams.video[0]
            base = float(stream.time_base) if stream.time_base else 1 / 90000
            try:
                first = next((f.time for f in container.decode(stream) if f.time is not None), None)
                if first is None:
                    raise VideoDecodeError(f"{self.path}: no frame could be decoded")
                container.seek(int((first + start_s) / base), stream=stream, backward=True)
                for frame in container.decode(stream):
                    if frame.time is None:
                        continue
                    t = frame.time - first
                    if t < start_s - 1e-6:
                        continue
                    if end_s is not None and t > end_s:
                        break
                    yield DecodedFrame(-1, t, frame.to_ndarray(format="rgb24"))
            except av.error.FFmpegError as exc:
                raise VideoDecodeError(
                    f"{self.path.name}: decoding stopped near {start_s:.1f} s ({_ffmpeg_reason(exc)})"
                ) from None


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


def _natural_key(path: Path) -> list[object]:
    return [int(part) if part.isdigit() else part.lower() for part in re.split(r"(\d+)", path.name)]
