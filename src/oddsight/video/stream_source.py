"""A live stream (rtsp/rtmp/http/udp/srt URL) or a V4L2 camera read as a :class:`FrameSource` (``detect`` on a
URL): reopened when it drops, on the stream's own clock."""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator

from oddsight.errors import StreamError
from oddsight.redact import redact_urls
from oddsight.video.frames import (
    DecodedFrame,
    DecodeReport,
    FrameSource,
    VideoInfo,
    _av,
    _decode_tolerant,
    _ffmpeg_reason,
    _Pairs,
    _Skipped,
    open_stream,
)
from oddsight.video.sampling import Sampling

log = logging.getLogger(__name__)


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
        try:
            container = open_stream(self.url, self.open_timeout_s, 10.0)
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
