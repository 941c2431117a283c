"""One camera watched live: its stream, the scoring engine, snapshots and clips; what it says goes out through
its :class:`~oddsight.live.dispatch.Dispatcher` (the event log first, then subscribers and alert channels).
"""

from __future__ import annotations

import logging
import re
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from oddsight.engine import unique_ids
from oddsight.errors import ConfigError
from oddsight.live.alerts import Sink
from oddsight.live.clips import write_clip, write_snapshot
from oddsight.live.dispatch import KEPT, Dispatcher
from oddsight.live.engine import LiveEngine
from oddsight.live.policy import AlertPolicy
from oddsight.live.retention import CHECK_S, Retention
from oddsight.live.stream import LiveFrame, LiveStream
from oddsight.live.tamper import TamperWatch, grey_picture
from oddsight.live.zones import Zones
from oddsight.memory import release_free_memory
from oddsight.redact import redact_urls
from oddsight.temporal.events import Event, Message
from oddsight.video.source import is_stream_url, to_rgb

log = logging.getLogger("oddsight.live")
CLIP_PRE_S = 3.0
CLIP_POST_S = 3.0
RING_S = 120.0  # how far back a camera keeps its packets (a clip spans at most this much)
PACKETS = ".packets"  # under the camera's folder: the packet ring's segments (see oddsight.live.spool)
FEEDBACK_POLL_S = 5.0  # how often a running monitor looks for new false-alarm feedback


def camera_name(url: str) -> str:
    """A file-system-safe name for a camera from its URL (host and path, no credentials) or a file's name."""
    if "://" not in url and not url.startswith("/dev/"):
        url = Path(url).stem  # a file: its name, not its whole path
    text = redact_urls(url).split("://", 1)[-1]
    text = re.sub(r"^[^@/]*@", "", text)
    name = re.sub(r"[^A-Za-z0-9._-]+", "_", text).strip("_.")
    return name[-60:] or "camera"


RECORD_SCHEMES = ("rtsp://", "rtsps://", "http://", "https://")


def check_record_url(url: str) -> None:
    """A camera's main stream, that clips are cut from, is a network stream: :class:`ConfigError` otherwise."""
    if not isinstance(url, str) or not url.lower().startswith(RECORD_SCHEMES) or any(c.isspace() for c in url):
        shown = redact_urls(str(url))[:300]
        raise ConfigError(f"{shown}: a camera's main stream is an rtsp://, rtsps://, http:// or https:// URL")


@dataclass
class _PendingClip:
    message: Message
    ready_at: float  # stream time at which the span after the event is buffered


@dataclass
class Monitor:
    """Watch ``url`` with ``engine``; messages go to ``sinks`` and ``on_message`` (e.g. ``watch --json``)."""

    url: str
    engine: LiveEngine
    fps: float = 2.0
    realtime: bool = False
    out: Path | None = None  # clips, snapshots and the JSONL log, under out/<camera>/
    sinks: list[Sink] = field(default_factory=list)
    on_message: Callable[[dict[str, Any]], None] | None = None
    on_update: Callable[[Any, LiveFrame], None] | None = None
    camera: str | None = None
    cooldown_s: float = 0.0  # per camera: no new `new` alert sooner than this after the last one ended
    on_outage: Callable[[dict[str, float]], None] | None = None  # each outage the stream got over, once
    policy: AlertPolicy | None = None  # when alerts go out (armed, snoozed, schedule); default: always
    on_policy: Callable[[AlertPolicy], None] | None = None  # the policy changed by a command on a channel
    zones: Zones | None = None  # masks that never score, named zones (see oddsight.live.zones)
    retention: Retention | None = None  # the folder's limits per kind of file (default: DEFAULTS)
    record_url: str | None = None  # the camera's main stream: clips are cut from it, ``url`` (a substream) is scored

    def __post_init__(self) -> None:
        self.camera = self.camera or camera_name(self.url)
        self.folder = (self.out / self.camera) if self.out is not None else None
        # the watched stream keeps its packets for clips only where its clips come from it (a folder, no main stream)
        keep = self.folder is not None and not self.record_url
        spool = self.folder / PACKETS if self.folder is not None else None  # their bytes on disk, not in memory
        self.stream = LiveStream(
            self.url, self.fps, realtime=self.realtime, ring_s=RING_S, keep_packets=keep, spool=spool
        )
        self.recorder: LiveStream | None = None  # clips come from the watched stream, or from the main stream:
        if self.record_url:  # read without decoding
            check_record_url(self.record_url)
            self.recorder = LiveStream(self.record_url, ring_s=RING_S, decode=False, spool=spool)
        if self.folder is not None:
            self.folder.mkdir(parents=True, exist_ok=True)
        subscribers = [self.on_message] if self.on_message is not None else []
        self.dispatch = Dispatcher(
            self.camera,
            self.folder,
            self.sinks,
            subscribers,
            cooldown_s=self.cooldown_s,
            on_outage=self.on_outage,
            policy=self.policy,
            on_policy=self.on_policy,
        )
        self._pending: list[_PendingClip] = []
        self._peak_frame: dict[str, Any] = {}
        self.tamper = TamperWatch(self.engine.engine.new_id or unique_ids(self.camera))
        self._last_frame: tuple[int, float] = (0, 0.0)  # the latest sampled frame's index and time
        self._wall_offset = time.time()  # wall time minus stream time, at the latest frame
        self._size = (0, 0)  # the stream's frame size
        self.retention = self.retention or Retention()
        self.disk: dict[str, int] = {}  # bytes per kind of file in the camera's folder, as last enforced
        self._retained_at = -1e18
        self._masked: np.ndarray | None = None  # pixels of the encoder's input under masks (non-cell encoders)
        self.set_zones(self.zones)
        self._outages_logged = 0
        self.timings: dict[str, float] = {}  # seconds spent per stage: resize, encode, score
        self._recent: deque[tuple[float, np.ndarray]] = deque()  # (t, embedding): an ending event's frames
        # the sampled pictures not scored yet (a windowed scorer: a window late, or more), for the peak's snapshot
        self._pictures: deque[tuple[int, Any]] = deque()
        self._normal_seen: tuple | None = None
        self._normal_checked = 0.0
        self._load_feedback()
        # (frame, t, raw, smoothed) and the messages sent, the latest KEPT of each (a camera runs for months)
        self.scores: deque[tuple[int, float, float, float]] = deque(maxlen=KEPT)

    def set_zones(self, zones: Zones | None) -> None:
        """The camera's masks and zones from now on: on cell features a masked cell never scores; on a whole-frame
        encoder the masked pixels are painted grey before encoding."""
        from oddsight.models.registry import cell_grid

        self.zones = zones if zones else None
        grid = cell_grid(self.engine.model_id)
        w, h = getattr(self.engine.encoder, "input_size", (0, 0))
        ignore = self.zones.cell_mask(grid) if self.zones is not None and grid else None
        self.engine.engine.scorer.set_ignore(ignore)
        self._masked = self.zones.pixel_mask(w, h) if self.zones is not None and not grid and w else None
        self.dispatch.zones = self.zones

    @property
    def messages(self) -> deque[dict[str, Any]]:
        """The latest messages sent (the log keeps every one)."""
        return self.dispatch.messages

    @property
    def log_path(self) -> Path | None:
        return self.dispatch.log_path

    def recover(self) -> list[dict[str, Any]]:
        """Events the log shows open (the last run was killed): closed now, in the log, with a note."""
        return self.dispatch.recover()

    def run(self, max_seconds: float | None = None) -> None:
        """Score until the stream ends (a file), :meth:`stop` is called, or ``max_seconds`` of stream time (or as
        long, plus the open timeout, of wall time in which the stream sends no frame)."""
        self.recover()
        # a stream that sends nothing (never connects, stalls) for that long, and the open timeout, stops too
        idle_s = None if max_seconds is None else max_seconds + self.stream.open_timeout_s
        if self.recorder is not None:
            self.recorder.start()
        try:
            for frame in self.stream.frames(idle_s):
                self._score(frame)
                if max_seconds is not None and frame.t >= max_seconds:
                    break
        finally:
            self.stream.stop()
            for message in self.engine.close("the stream ended", self.stream.stats.decoded):
                self._keep_peak(message.event)
                self._emit(message, final=True)
            for message in self.tamper.close(*self._last_frame):
                self._emit(message, final=True)
            for pending in self._pending:
                self._finish(pending.message)
            self._pending = []
            self.stream.close()
            if self.recorder is not None:
                self.recorder.close()

    def stop(self) -> None:
        self.stream.stop()
        if self.recorder is not None:
            self.recorder.stop()

    def _score(self, frame: LiveFrame) -> None:
        if time.monotonic() - self._retained_at > CHECK_S:
            self._retained_at = time.monotonic()
            release_free_memory()  # a camera runs for months: what its threads freed goes back to the system
            if self.folder is not None:
                self.disk = self.retention.enforce(self.folder)
        self._wall_offset = frame.wall - frame.t
        self._size = (frame.frame.width, frame.frame.height)
        self._log_outages(frame)
        self._last_frame = (frame.index, frame.t)
        t0 = time.perf_counter()
        images = self._images(frame)
        t1 = time.perf_counter()
        embedding = self.engine.embed(images)[0]
        t2 = time.perf_counter()
        self._recent.append((frame.t, np.asarray(embedding, np.float32)))
        while self._recent and frame.t - self._recent[0][0] > self.stream.ring_s:
            self._recent.popleft()
        if time.monotonic() - self._normal_checked > FEEDBACK_POLL_S:
            self._load_feedback()
        update = self.engine.push(frame.index, frame.t, embedding, frame.fps, self._size)
        t3 = time.perf_counter()
        for key, seconds in (("resize", t1 - t0), ("encode", t2 - t1), ("score", t3 - t2)):
            self.timings[key] = self.timings.get(key, 0.0) + seconds
        self.scores.append((frame.index, frame.t, update.score, update.smoothed))
        self.dispatch.score(update.smoothed)
        if self.on_update is not None:
            self.on_update(update, frame)
        self._pictures.append((frame.index, frame.frame))
        for message in update.messages:
            self._keep_peak(message.event)
            self._emit(message)
        tracked = self.engine.engine.tracked_event
        if tracked is not None:
            self._keep_peak(tracked)
        for message in self.tamper.push(frame.index, frame.t, grey_picture(frame.frame)):
            self._peak_frame[message.event.id] = frame.frame  # its snapshot: the picture that shows it
            self._emit(message)
        self._forget_scored_pictures(frame.fps)
        for pending in [p for p in self._pending if frame.t >= p.ready_at]:
            self._pending.remove(pending)
            self._finish(pending.message)

    def _forget_scored_pictures(self, fps: float) -> None:
        """Pictures of frames scored more than a second ago: a peak among them is held already."""
        scored = self.engine.engine.scored_frame
        if scored is None:
            return
        while self._pictures and self._pictures[0][0] < scored - fps:
            self._pictures.popleft()

    def _keep_peak(self, ev: Event) -> None:
        """Hold the picture of ``ev``'s peak frame (for its snapshot) while it is among the recent ones."""
        for index, picture in self._pictures:
            if index == ev.peak_frame:
                self._peak_frame[ev.id] = picture
                return

    def _images(self, frame: LiveFrame) -> np.ndarray:
        w, h = self.engine.encoder.input_size
        current = to_rgb(frame.frame, (w, h))
        if self._masked is not None:
            current = current.copy()
            current[self._masked] = 128
        if getattr(self.engine.encoder, "needs_previous", False):
            previous = to_rgb(frame.previous, (w, h))
            return np.stack([np.stack([previous, current])])
        return current[None]

    def _emit(self, message: Message, final: bool = False) -> None:
        ev = message.event
        if self.zones is not None and ev.kind == "anomaly":
            ev.details["zones"] = self.zones.zones_of(ev.box, *self._size)
        if self.realtime or is_stream_url(self.url):  # a camera's event on the wall clock too (a dashboard's)
            ev.details["start_wall"] = round(ev.start_s + self._wall_offset, 3)
            ev.details["end_wall"] = round(ev.end_s + self._wall_offset, 3)
        if message.type in ("new", "update"):
            self._snapshot(ev)
        elif message.type == "end":
            if ev.kind == "anomaly":  # a false alarm's frames teach the scorer; a tamper event's do not
                self._save_embeddings(ev)
            if self.folder is not None and not final:
                self._pending.append(_PendingClip(message, ev.end_s + CLIP_POST_S))
                return  # sent when its clip is written
            if self.folder is not None:
                self._finish(message)
                return
        self.dispatch.publish(message)

    def _load_feedback(self) -> None:
        """The camera's false alarms into the engine's normal memory (again whenever they change)."""
        self._normal_checked = time.monotonic()
        if self.folder is None:
            return
        from oddsight.live.feedback import normal_memory

        files = sorted((self.folder / "normal").glob("*.npy"))
        seen = tuple((p.name, p.stat().st_mtime_ns) for p in files)
        if seen == self._normal_seen:
            return
        self._normal_seen = seen
        try:
            self.engine.scorer.set_normal(normal_memory(self.folder))
        except ValueError as exc:  # frames kept under another method or encoder
            log.warning("%s: false-alarm feedback not applied (given under another method: %s)", self.camera, exc)

    def _save_embeddings(self, ev: Event) -> None:
        from oddsight.live.feedback import save_event_embeddings

        rows = [(t, e) for t, e in self._recent if ev.start_s - 1.0 <= t <= ev.end_s]
        if self.folder is None or not rows:
            return
        save_event_embeddings(self.folder, ev.id, np.stack([e for _, e in rows]), np.array([t for t, _ in rows]))

    def _snapshot(self, ev: Event) -> None:
        frame = self._peak_frame.get(ev.id)
        if self.folder is None or frame is None:
            return
        path = self.folder / f"{ev.id}.jpg"
        try:
            write_snapshot(frame, path, box=ev.box)
            ev.snapshot = str(path)
        except Exception as exc:
            log.warning("%s: snapshot not written (%s)", self.camera, exc)

    def _finish(self, message: Message) -> None:
        ev = message.event
        path = self.folder / f"{ev.id}.mp4"
        source, shift = (self.stream, 0.0) if self.recorder is None else (self.recorder, self._wall_offset)
        packets = source.packets_between(ev.start_s - CLIP_PRE_S + shift, ev.end_s + CLIP_POST_S + shift)
        try:
            with source.holding_template() as template:
                write_clip(packets, template, path)
            ev.clip = str(path)
        except Exception as exc:
            log.warning("%s: clip not written (%s)", self.camera, exc)
        self._peak_frame.pop(ev.id, None)
        self.dispatch.publish(message)

    def _log_outages(self, frame: LiveFrame) -> None:
        """Each outage the stream got over, once, to the dispatcher, and as an ``offline`` tamper event."""
        outages = self.stream.stats.outages
        while self._outages_logged < len(outages):
            self._outages_logged += 1
            outage = outages[self._outages_logged - 1]
            self.dispatch.outage(outage)
            for message in self.tamper.outage(frame.index, frame.t, float(outage.get("s", 0.0))):
                self._peak_frame[message.event.id] = frame.frame
                self._emit(message, final=message.type == "end")

    def status(self) -> dict[str, Any]:
        return {
            "camera": self.camera,
            "url": redact_urls(self.url),
            "calibration": self.engine.calibration.to_dict(),
            "stream": self.stream.stats.to_dict(),
            "record": self.recorder.stats.to_dict() if self.recorder is not None else None,
            "open_event": self.engine.open_event.to_dict() if self.engine.open_event else None,
            "alerting": self.dispatch.policy.to_dict(),
            "zones": self.zones.to_dict() if self.zones is not None else None,
            "disk": self.disk,
        }
