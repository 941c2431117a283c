"""A camera, stream or file read live in a thread: every packet into a ring buffer (for clips, remuxed later),
sampled frames (with the frame decoded before each, for motion) into a small queue the scorer takes from.

The queue holds ``LAG_BUDGET_S`` of sampled frames: a scorer that falls behind for a moment (many cameras sharing
the cores) catches up without losing a frame; one that stays behind has the queue drop its oldest frame
(counted), so decoding never falls behind without bound and no frame is scored later than about that budget.

A stream that drops is reopened with backoff, forever (a camera rebooting is normal), and each outage is
recorded. A file ends at its end; with ``realtime`` it is delivered at its own frame rate.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections import deque
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from fractions import Fraction
from pathlib import Path
from typing import Any

from oddsight.errors import StreamError, VideoDecodeError
from oddsight.live.spool import PacketSpool
from oddsight.memory import release_free_memory
from oddsight.redact import redact_urls
from oddsight.threads import set_decoder_threads
from oddsight.video.frames import open_stream
from oddsight.video.sampling import Sampling
from oddsight.video.source import is_stream_url

log = logging.getLogger("oddsight.live")
WALLCLOCK_FORMATS = {"mpjpeg", "mjpeg", "image2pipe"}
BACKOFF_S = (0.5, 1.0, 2.0, 4.0, 8.0, 15.0, 30.0)
LAG_BUDGET_S = 1.5  # how far behind the stream the scorer may fall before frames are dropped (real time: < 2 s)
# what a stream may do (refuse to open, drop, send garbage): reconnect; anything else is a bug and is raised


def _stream_failures() -> tuple[type[BaseException], ...]:
    import av

    return (av.error.FFmpegError, OSError, EOFError, StreamError, VideoDecodeError)


@dataclass
class LiveFrame:
    index: int  # decoded frames since the monitor started (across reconnects)
    t: float  # seconds of the stream's own clock since it started (continued across reconnects)
    frame: Any  # av.VideoFrame
    previous: Any  # av.VideoFrame decoded just before (for the very first, the one after it, as from a file)
    wall: float  # time.time() when it was decoded
    fps: float = 25.0  # the stream's frame rate


@dataclass
class StoredPacket:
    data: bytes  # empty while the bytes are in the stream's spool on disk (``spooled``)
    pts: int | None
    dts: int | None
    duration: int | None
    keyframe: bool
    t: float
    connection: int = 0  # which connection it came on: timestamps (and codec settings) are each connection's own
    spooled: tuple[int, int, int] | None = None  # (segment, offset, size) in the spool


@dataclass
class StreamStats:
    decoded: int = 0
    sampled: int = 0
    dropped: int = 0
    reconnects: int = 0
    outages: list[dict] = field(default_factory=list)
    connected: bool = False
    lag_s: float = 0.0  # from a frame's decoding to the scorer taking it
    worst_lag_s: float = 0.0  # the largest lag_s since the monitor started
    behind_s: float = 0.0  # how far decoding is behind the stream's own clock (a live stream only)
    decode_s: float = 0.0  # CPU seconds spent demuxing and decoding
    last_error: str | None = None  # why the stream last failed to open or dropped (credentials hidden)

    def to_dict(self) -> dict[str, Any]:
        return {
            "decoded": self.decoded,
            "sampled": self.sampled,
            "dropped": self.dropped,
            "reconnects": self.reconnects,
            "outages": self.outages[-20:],
            "outage_count": len(self.outages),
            "connected": self.connected,
            "lag_s": round(self.lag_s, 3),
            "worst_lag_s": round(self.worst_lag_s, 3),
            "behind_s": round(self.behind_s, 3),
            "decode_s": round(self.decode_s, 3),
            "last_error": self.last_error,
        }


class LiveStream:
    """Read ``url`` in a background thread; iterate :meth:`frames` for the sampled frames. ``decode=False`` keeps
    the packets only (a camera's main stream that clips are cut from while a low-resolution substream is watched:
    no decoding cost), each stamped with the wall time it came at; ``keep_packets=False`` keeps none (no clip is
    cut from this stream). With ``spool`` (a folder) the kept packets' bytes are on disk there, not in memory."""

    def __init__(
        self,
        url: str,
        fps: float = 2.0,
        *,
        realtime: bool = False,
        ring_s: float = 30.0,
        queue_size: int | None = None,
        reconnect: bool | None = None,
        open_timeout_s: float = 10.0,
        decode: bool = True,
        keep_packets: bool = True,
        spool: Path | None = None,
    ) -> None:
        self.url, self.fps, self.realtime, self.ring_s, self.decode = url, fps, realtime, ring_s, decode
        self.keep_packets = keep_packets
        self.spool = PacketSpool(spool) if spool is not None and keep_packets else None
        self._spool_failed = False
        self.shown = redact_urls(url)
        self.live = is_stream_url(url)
        self.reconnect = self.live if reconnect is None else reconnect
        self.open_timeout_s = open_timeout_s
        self.stats = StreamStats()
        size = queue_size or max(2, round(fps * LAG_BUDGET_S))  # 3 frames at 2 fps
        self._queue: queue.Queue[LiveFrame | BaseException | None] = queue.Queue(maxsize=size)
        self._stop = threading.Event()
        self._ring: deque[StoredPacket] = deque()
        self._ring_lock = threading.Lock()
        self._template_lock = threading.Lock()
        self.template: dict[str, Any] | None = None  # the video stream's codec parameters, for remuxing
        self._container = None
        self._connection = 0
        self._thread = threading.Thread(target=self._run, name=f"oddsight-live-{self.shown[:30]}", daemon=True)
        self._started = False

    # --- the reader thread ---------------------------------------------------------------------------

    def start(self) -> LiveStream:
        if not self._started:
            self._started = True
            self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()

    def _use(self, container, stream, time_base) -> None:
        """A new connection's stream becomes the template clips are remuxed with, and the connection before it is
        closed at once (kept open through the next connection, it held about 7 MB a 720p camera): the swap waits
        for a clip being written with the old template (:meth:`holding_template`)."""
        with self._template_lock:
            old, self._container = self._container, container
            self.template = {"stream": stream, "time_base": time_base}
            self._connection += 1
        if old is not None and old is not container:
            old.close()
            release_free_memory()  # its demuxer's and decoder's buffers, now (not at the monitor's next minute)

    @contextmanager
    def holding_template(self) -> Iterator[dict[str, Any] | None]:
        """The current connection's codec template (None before the first), kept open while the caller remuxes."""
        with self._template_lock:
            yield self.template

    def close(self) -> None:
        """Stop reading and release the last connection (after the last clip is written)."""
        self.stop()
        if self._started:
            self._thread.join(5)
        with self._template_lock:
            container, self._container, self.template = self._container, None, None
        if container is not None:
            container.close()
        if self.spool is not None:
            with self._ring_lock:
                self._ring.clear()
                self.spool.close()

    def _open(self):
        return open_stream(self.url, self.open_timeout_s)

    def _run(self) -> None:
        try:
            self._reconnecting()
        except BaseException as exc:  # not a stream's failure (a bug): the consumer raises it, no endless retry
            self._put(exc)

    def _reconnecting(self) -> None:
        attempt = 0
        index = 0
        base_t = 0.0
        last_t: float | None = None
        outage_since: float | None = None
        first_open = True
        while not self._stop.is_set():
            try:
                container = self._open()
            except _stream_failures() as exc:
                reason = redact_urls(str(exc)) or type(exc).__name__
                if first_open and not self.reconnect:
                    self._put(VideoDecodeError(f"{self.shown}: cannot be opened ({reason})"))
                    return
                self._failed(reason, attempt)
                outage_since = outage_since or time.time()
                self._wait(BACKOFF_S[min(attempt, len(BACKOFF_S) - 1)])
                attempt += 1
                continue
            if outage_since is not None:
                self.stats.outages.append({"from": outage_since, "to": time.time(), "s": time.time() - outage_since})
                self.stats.reconnects += 1
                log.warning("%s: reconnected after %.1f s", self.shown, time.time() - outage_since)
                outage_since = None
            first_open, attempt = False, 0
            self.stats.connected = True
            try:
                index, last_t = self._read(container, index, base_t)
            except _stream_failures() as exc:
                self.stats.last_error = redact_urls(str(exc)) or type(exc).__name__
                log.warning("%s: stream lost (%s)", self.shown, self.stats.last_error)
            finally:
                self.stats.connected = False
                if container is not self._container:  # never used (no video stream): nothing remuxes with it
                    container.close()
            if not self.reconnect:
                break
            outage_since = time.time()
            base_t = (last_t or base_t) + 1.0 / max(self.fps, 1.0)
            self._wait(BACKOFF_S[0])
        self._put(None)

    def _failed(self, reason: str, attempt: int) -> None:
        """A connection attempt failed: said once at first, then about every few minutes (the backoff's top)."""
        self.stats.last_error = reason
        if attempt == 0 or attempt % 10 == 0:
            log.warning("%s: cannot connect (%s); retrying", self.shown, reason)

    def _read(self, container, index: int, base_t: float) -> tuple[int, float | None]:
        if not container.streams.video:
            raise StreamError(f"{self.shown}: no video stream")
        stream = container.streams.video[0]
        set_decoder_threads(stream)  # one thread a camera under serve: see oddsight.threads
        tb = stream.time_base or Fraction(1, 90000)
        rate = stream.average_rate or stream.guessed_rate
        fps = float(rate) if rate else 25.0
        self._use(container, stream, tb)
        first_pts: int | None = None
        selector = Sampling(fps=self.fps).selector()  # the same sampling as a file's
        previous = None
        waiting: LiveFrame | None = None  # the very first sampled frame waits for the frame after it
        last_t: float | None = None
        wall0 = time.monotonic()
        # MJPEG over HTTP carries no timestamps (FFmpeg numbers its frames at 25 fps): its clock is the wall's
        wallclock = container.format.name in WALLCLOCK_FORMATS
        tick = time.thread_time()
        for packet in container.demux(stream):
            if self._stop.is_set():
                break
            if not self.decode:
                if packet.size:
                    self._keep(packet, time.time())
                continue
            if packet.size and self.keep_packets:  # (an empty packet ends the stream: it flushes the decoder)
                pts = packet.pts if packet.pts is not None else packet.dts
                origin = first_pts if first_pts is not None else pts
                t_packet = base_t + float((pts - origin) * tb) if pts is not None else (last_t or base_t)
                self._keep(packet, t_packet)
            for frame in packet.decode():
                if frame.pts is not None and first_pts is None:
                    first_pts = frame.pts  # the first frame shown is time 0 (B-frames make packet order differ)
                if wallclock:
                    t = base_t + time.monotonic() - wall0
                elif frame.pts is not None:
                    t = base_t + float((frame.pts - first_pts) * tb)
                else:
                    t = last_t or base_t
                index += 1
                self.stats.decoded += 1
                if self.realtime:
                    ahead = (t - base_t) - (time.monotonic() - wall0)
                    if ahead > 0:
                        self._wait(ahead)
                self.stats.decode_s += time.thread_time() - tick  # CPU only: waiting for the network is not counted
                if self.live:
                    self.stats.behind_s = max(0.0, (time.monotonic() - wall0) - (t - base_t))
                if waiting is not None:
                    waiting.previous, waiting.wall = frame, time.time()
                    self._offer(waiting)
                    waiting = None
                if selector.keep(index - 1, t):
                    sampled = LiveFrame(index - 1, t, frame, previous, time.time(), fps)
                    if previous is None:
                        waiting = sampled
                    else:
                        self._offer(sampled)
                previous = frame
                last_t = t
                tick = time.thread_time()
        if waiting is not None:  # a one-frame stream: the frame is its own partner
            waiting.previous = waiting.frame
            self._offer(waiting)
        return index, last_t

    def _keep(self, packet, t: float) -> None:
        keyframe = bool(packet.is_keyframe)
        stored = StoredPacket(bytes(packet), packet.pts, packet.dts, packet.duration, keyframe, t, self._connection)
        with self._ring_lock:
            if self.spool is not None:
                self._to_spool(stored)
            self._ring.append(stored)
            while self._ring and t - self._ring[0].t > self.ring_s:
                self._ring.popleft()
            if self.spool is not None and self._ring[0].spooled is not None:
                self.spool.drop_before(self._ring[0].spooled[0])

    def _to_spool(self, stored: StoredPacket) -> None:
        """The packet's bytes to the spool (the caller holds ``_ring_lock``); kept in memory if the disk fails."""
        assert self.spool is not None
        try:
            segment, offset = self.spool.write(stored.data, stored.t)
        except OSError as exc:
            if not self._spool_failed:
                log.warning("%s: packets kept in memory: the spool cannot be written (%s)", self.shown, exc)
            self._spool_failed = True
            return
        stored.spooled, stored.data = (segment, offset, len(stored.data)), b""

    def _offer(self, frame: LiveFrame) -> None:
        self.stats.sampled += 1
        if not (self.live or self.realtime):
            self._put(frame)  # a file read as fast as it scores: wait for the scorer, drop nothing
            return
        while True:
            try:
                self._queue.put_nowait(frame)
                return
            except queue.Full:
                try:
                    self._queue.get_nowait()  # the oldest waiting frame: scoring is behind
                    self.stats.dropped += 1
                except queue.Empty:
                    pass

    def _put(self, item) -> None:
        while not self._stop.is_set():
            try:
                self._queue.put(item, timeout=0.2)
                return
            except queue.Full:
                continue

    def _wait(self, seconds: float) -> None:
        self._stop.wait(seconds)

    # --- the consumer ------------------------------------------------------------------------------

    def frames(self, idle_s: float | None = None):
        """The sampled frames, as they come; ends when the file ends, :meth:`stop` is called, or when no frame has
        come for ``idle_s`` seconds of wall time (a camera that never connects); once frames have come, an outage
        may last the longest reconnect backoff more before it ends the stream."""
        self.start()
        last = time.monotonic()
        allowed = idle_s
        while True:
            try:
                item = self._queue.get(timeout=0.5)
            except queue.Empty:
                if self._stop.is_set() or not self._thread.is_alive():
                    return
                if allowed is not None and time.monotonic() - last >= allowed:
                    self.stop()
                    return
                continue
            if item is None:
                return
            if isinstance(item, BaseException):
                raise item
            last = time.monotonic()
            allowed = None if idle_s is None else idle_s + BACKOFF_S[-1]
            self.stats.lag_s = max(0.0, time.time() - item.wall)
            self.stats.worst_lag_s = max(self.stats.worst_lag_s, self.stats.lag_s)
            yield item

    def packets_between(self, start_s: float, end_s: float) -> list[StoredPacket]:
        """Packets from the last keyframe at or before ``start_s`` up to ``end_s`` (what a clip remuxes), all of one
        connection: the latest in the span (a span across a reconnect keeps what came after it; packets of two
        connections, each with its own timestamps, cannot be muxed into one file)."""
        with self._ring_lock:
            span = [p for p in self._ring if p.t <= end_s]
            if not span:
                return []
            span = [p for p in span if p.connection == span[-1].connection]
            first = None
            for i, p in enumerate(span):
                if p.t > start_s and first is not None:
                    break
                if p.keyframe:
                    first = i
            return [] if first is None else self._loaded(span[first:])

    def _loaded(self, packets: list[StoredPacket]) -> list[StoredPacket]:
        """``packets`` with their bytes (read back from the spool; the caller holds ``_ring_lock``)."""
        if self.spool is None:
            return packets
        try:
            data = iter(self.spool.read([p.spooled for p in packets if p.spooled is not None]))
            return [replace(p, data=next(data)) if p.spooled is not None else p for p in packets]
        except OSError as exc:
            log.warning("%s: the spooled packets cannot be read (%s)", self.shown, exc)
            return []
