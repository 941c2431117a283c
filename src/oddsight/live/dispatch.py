"""Everything that leaves a camera's engine, in one place and one order (in the spirit of Frigate's ``comms/``):
the camera's JSONL log first (fsynced, so a ``kill -9`` loses no reported event), the monitor's recent record, the
subscribers (``watch --json``, the server's store), then the alert channels (webhook, MQTT), which a cooldown can
hold back. Outages go the same way, to ``outages.jsonl`` and the subscribers.
"""

from __future__ import annotations

import json
import logging
import os
import time
from collections import deque
from collections.abc import Callable
from pathlib import Path
from typing import Any

from oddsight.errors import ConfigError
from oddsight.live.alerts import Sink, body
from oddsight.live.policy import AlertPolicy
from oddsight.live.zones import Zones
from oddsight.temporal.events import Event, Message

log = logging.getLogger("oddsight.live")
KEPT = 20_000  # messages kept in memory (about 3 hours of a busy camera); the log keeps every one
SCORE_EVERY_S = 5.0  # the last score goes to channels that show it (MQTT) at most this often
Subscriber = Callable[[dict[str, Any]], None]


class Dispatcher:
    """One camera's outbound messages: ``publish`` each, in order, to the log, the subscribers and the sinks."""

    def __init__(
        self,
        camera: str,
        folder: Path | None,
        sinks: list[Sink],
        subscribers: list[Subscriber],
        *,
        cooldown_s: float = 0.0,
        on_outage: Callable[[dict[str, float]], None] | None = None,
        policy: AlertPolicy | None = None,
        on_policy: Callable[[AlertPolicy], None] | None = None,
    ) -> None:
        self.camera, self.folder, self.sinks, self.subscribers = camera, folder, sinks, subscribers
        self.cooldown_s, self.on_outage, self.on_policy = cooldown_s, on_outage, on_policy
        self.policy = policy or AlertPolicy()
        for sink in sinks:  # channels that take commands (MQTT's <prefix>/<camera>/set) change the policy
            sink.on_command = self.command
            sink.policy(self.policy)
        self.messages: deque[dict[str, Any]] = deque(maxlen=KEPT)
        self._silenced: set[str] = set()
        self._waiting: set[str] = set()  # events outside the alert zones so far
        self.zones: Zones | None = None  # a camera's zones (alert zones, zone thresholds)
        self._last_end_wall = -1e18
        self._score_sent = -1e18

    @property
    def log_path(self) -> Path | None:
        return self.folder / "events.jsonl" if self.folder is not None else None

    def publish(self, message: Message) -> None:
        """A message out: logged first, then to every subscriber, then alerted (see :meth:`_alert_type`)."""
        alert = self._alert_type(message)
        if message.type == "end":
            self._last_end_wall = time.time()
        payload = body(message, self.camera)
        self._append(payload)
        self.messages.append(payload)
        for subscriber in self.subscribers:
            subscriber(payload)
        if alert is not None:
            sent = payload if alert == payload["type"] else {**payload, "type": alert}
            for sink in self.sinks:
                sink.send(sent)

    def _alert_type(self, message: Message) -> str | None:
        """What the channels get of ``message``: nothing for an event that started within the cooldown after the
        last one, while disarmed, snoozed or off schedule; an event outside the alert zones (or under its zones'
        thresholds) waits, and is alerted as ``new`` by the update that brings it into them."""
        ev, kind = message.event, message.type
        if kind == "new":
            if time.time() - self._last_end_wall < self.cooldown_s or not self.policy.allows():
                self._silenced.add(ev.id)
                return None
            if not self._zones_allow(ev):
                self._waiting.add(ev.id)
                return None
            return "new"
        if ev.id in self._waiting:
            if kind == "update" and self._zones_allow(ev):
                self._waiting.discard(ev.id)
                return "new"
            if kind == "end":
                self._waiting.discard(ev.id)
            return None
        if ev.id in self._silenced:
            if kind == "end":
                self._silenced.discard(ev.id)
            return None
        return kind

    def _zones_allow(self, ev: Event) -> bool:
        return (
            self.zones is None
            or ev.kind != "anomaly"
            or self.zones.alertable(ev.details.get("zones", []), ev.peak_score)
        )

    def command(self, command: object) -> None:
        """An alerting command (ARM, DISARM, SNOOZE n, or JSON; see :mod:`oddsight.live.policy`), from a channel
        or the server; a bad one is logged and changes nothing."""
        try:
            self.set_policy(self.policy.apply(command))
        except ConfigError as exc:
            log.warning("%s: %s", self.camera, exc)

    def set_policy(self, policy: AlertPolicy, tell: bool = True) -> None:
        """A new alerting policy: shown on the channels, and (``tell``) passed to ``on_policy``."""
        self.policy = policy
        for sink in self.sinks:
            sink.policy(policy)
        if tell and self.on_policy is not None:
            self.on_policy(policy)

    def score(self, value: float) -> None:
        """The latest smoothed score, passed to the sinks every ``SCORE_EVERY_S`` seconds at most."""
        now = time.monotonic()
        if now - self._score_sent < SCORE_EVERY_S:
            return
        self._score_sent = now
        for sink in self.sinks:
            sink.score(value)

    def outage(self, outage: dict[str, float]) -> None:
        """An outage the stream got over: logged, in ``outages.jsonl``, and to ``on_outage``."""
        log.warning("%s: stream was down %.1f s", self.camera, outage["s"])
        if self.on_outage is not None:
            self.on_outage(outage)
        if self.folder is not None:
            self._append({"type": "outage", "camera": self.camera, **outage}, self.folder / "outages.jsonl")

    def recover(self) -> list[dict[str, Any]]:
        """Events the log shows open (the last run was killed): closed now, in the log, with a note."""
        path = self.log_path
        if path is None or not path.exists():
            return []
        text = path.read_text()
        if text and not text.endswith("\n"):
            with open(path, "a") as f:  # the kill cut the last line: end it, so what follows is a line of its own
                f.write("\n")
        open_events: dict[str, dict] = {}
        for line in text.splitlines():
            try:
                record = json.loads(line)
            except json.JSONDecodeError:
                continue  # a line cut off by the kill
            ev = record.get("event", {})
            if record.get("type") in ("new", "update"):
                open_events[ev.get("id")] = record
            elif record.get("type") == "end":
                open_events.pop(ev.get("id"), None)
        closed = []
        for record in open_events.values():
            ending = {**record, "type": "end", "time": round(time.time(), 3)}
            ending["event"] = {**record["event"], "note": "closed on restart: the monitor stopped while it was open"}
            self._append(ending)
            closed.append(ending)
        return closed

    def close(self) -> None:
        """The alert channels' threads end (after sending what they hold)."""
        for sink in self.sinks:
            sink.close()

    def _append(self, payload: dict[str, Any], path: Path | None = None) -> None:
        path = path or self.log_path
        if path is None:
            return
        with open(path, "a") as f:
            f.write(json.dumps(payload) + "\n")
            f.flush()
            os.fsync(f.fileno())
