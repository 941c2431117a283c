"""Where event messages go: JSON lines, a webhook (signed, retried, never blocking scoring) and MQTT.

Every channel gets the same body::

    {"type": "new" | "update" | "end", "camera": NAME, "time": UNIX_SECONDS,
     "event": {"id", "start_frame", "end_frame", "start_s", "end_s", "peak_s", "peak_score", "label", "reason",
               "box", "snapshot", "clip"}}
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import queue
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from oddsight.errors import ConfigError
from oddsight.live.policy import AlertPolicy
from oddsight.redact import redact_urls
from oddsight.temporal.events import Message

log = logging.getLogger("oddsight.live")
SIGNATURE_HEADER = "X-Oddsight-Signature"  # "sha256=" + hex HMAC-SHA256 of the raw body with the secret


def body(message: Message, camera: str) -> dict[str, Any]:
    return {"type": message.type, "camera": camera, "time": round(time.time(), 3), "event": message.event.to_dict()}


def sign(secret: str, data: bytes) -> str:
    return "sha256=" + hmac.new(secret.encode(), data, hashlib.sha256).hexdigest()


class Sink:
    """A channel; ``send`` must return at once (slow work goes to the channel's own thread)."""

    def send(self, payload: dict[str, Any]) -> None:  # pragma: no cover - interface
        raise NotImplementedError

    on_command: Callable[[object], None] | None = None  # set by the dispatcher: where commands received go

    def score(self, value: float) -> None:
        """The camera's latest smoothed score (every few seconds), for a channel that shows it."""
        return None

    def policy(self, policy: AlertPolicy) -> None:
        """The camera's alerting policy now (armed, snoozed ...), for a channel that shows it."""
        return None

    def close(self) -> None:
        return None


class QueuedSink(Sink):
    """A bounded queue and one thread: a channel that is down or slow drops its oldest messages (counted),
    and scoring never waits for it."""

    def __init__(self, name: str, maxsize: int = 100) -> None:
        self.name = name
        self.dropped = 0
        self.delivered = 0
        self.failed = 0
        self._queue: queue.Queue[dict | None] = queue.Queue(maxsize=maxsize)
        self._thread = threading.Thread(target=self._loop, name=f"oddsight-{name}", daemon=True)
        self._thread.start()

    def send(self, payload: dict[str, Any]) -> None:
        while True:
            try:
                self._queue.put_nowait(payload)
                return
            except queue.Full:
                try:
                    self._queue.get_nowait()
                    self.dropped += 1
                except queue.Empty:
                    pass

    def _loop(self) -> None:
        while True:
            payload = self._queue.get()
            if payload is None:
                return
            try:
                self.deliver(payload)
                self.delivered += 1
            except Exception as exc:
                self.failed += 1
                log.warning("%s: message not delivered (%s)", self.name, redact_urls(str(exc)))

    def deliver(self, payload: dict[str, Any]) -> None:  # pragma: no cover - interface
        raise NotImplementedError

    def close(self, timeout: float = 5.0) -> None:
        try:
            self._queue.put(None, timeout=timeout)
        except queue.Full:
            return
        self._thread.join(timeout)


class WebhookSink(QueuedSink):
    """POST each message as JSON to ``url``; signed with HMAC-SHA256 when a secret is set; retried with
    exponential backoff (``retries`` times) on connection errors and 5xx replies."""

    def __init__(self, url: str, secret: str | None = None, timeout_s: float = 5.0, retries: int = 3) -> None:
        if urlsplit(url).scheme not in ("http", "https"):
            raise ConfigError(f"--alert webhook: needs an http(s) URL, got {redact_urls(url)!r}")
        self.url, self.secret, self.timeout_s, self.retries = url, secret, timeout_s, retries
        super().__init__(f"webhook {redact_urls(url)}")

    def deliver(self, payload: dict[str, Any]) -> None:
        data = json.dumps(payload).encode()
        headers = {"Content-Type": "application/json", "User-Agent": "oddsight"}
        if self.secret:
            headers[SIGNATURE_HEADER] = sign(self.secret, data)
        for attempt in range(self.retries + 1):
            try:
                request = urllib.request.Request(self.url, data=data, headers=headers, method="POST")
                with urllib.request.urlopen(request, timeout=self.timeout_s) as reply:
                    reply.read()
                return
            except urllib.error.HTTPError as exc:
                if exc.code < 500 or attempt == self.retries:
                    raise
            except (urllib.error.URLError, OSError):
                if attempt == self.retries:
                    raise
            time.sleep(min(0.5 * 2**attempt, 8.0))


def discovery(prefix: str, camera: str, availability: str, topic_root: str = "homeassistant") -> list[tuple[str, dict]]:
    """Home Assistant MQTT discovery for one camera: a binary sensor "anomaly" (on while an event is open), a binary
    sensor "tamper" (device class tamper), a sensor with the last score; one device, one availability topic."""
    device = {"identifiers": [f"oddsight_{camera}"], "name": f"oddsight {camera}", "manufacturer": "oddsight"}
    base = {"availability_topic": availability, "device": device}
    node = f"oddsight_{camera}".replace(".", "_")
    return [
        (
            f"{topic_root}/binary_sensor/{node}/anomaly/config",
            base
            | {
                "name": "Anomaly",
                "unique_id": f"{node}_anomaly",
                "state_topic": f"{prefix}/{camera}/anomaly",
                "json_attributes_topic": f"{prefix}/{camera}/events",
                "device_class": "problem",
            },
        ),
        (
            f"{topic_root}/binary_sensor/{node}/tamper/config",
            base
            | {
                "name": "Tamper",
                "unique_id": f"{node}_tamper",
                "state_topic": f"{prefix}/{camera}/tamper",
                "device_class": "tamper",
            },
        ),
        (
            f"{topic_root}/switch/{node}/armed/config",
            base
            | {
                "name": "Alerts armed",
                "unique_id": f"{node}_armed",
                "state_topic": f"{prefix}/{camera}/armed",
                "command_topic": f"{prefix}/{camera}/set",
                "payload_on": "ARM",
                "payload_off": "DISARM",
                "state_on": "ON",
                "state_off": "OFF",
            },
        ),
        (
            f"{topic_root}/sensor/{node}/score/config",
            base
            | {
                "name": "Anomaly score",
                "unique_id": f"{node}_score",
                "state_topic": f"{prefix}/{camera}/score",
                "state_class": "measurement",
            },
        ),
    ]


class MqttSink(QueuedSink):
    """Publish to ``mqtt://[user:pass@]host[:port]/prefix[?discovery=homeassistant|off]``: each message on
    ``prefix/<camera>/events`` (and the type on ``prefix/<camera>/events/<type>``), a retained
    ``prefix/<camera>/availability`` of online/offline, retained ``ON``/``OFF`` states on ``prefix/<camera>/anomaly``
    and ``.../tamper``, the last score on ``.../score``, and Home Assistant discovery (:func:`discovery`)."""

    def __init__(self, url: str, camera: str) -> None:
        from oddsight.extras import require_extra

        require_extra("live", "--alert mqtt://", ("paho",))
        import paho.mqtt.client as mqtt

        parts = urlsplit(url)
        if parts.scheme != "mqtt" or not parts.hostname:
            raise ConfigError(f"--alert mqtt: expected mqtt://host[:port]/prefix, got {redact_urls(url)!r}")
        self.prefix = parts.path.strip("/") or "oddsight"
        self.camera = camera
        self.availability = f"{self.prefix}/{camera}/availability"
        topic_root = dict(parse_qsl(parts.query)).get("discovery", "homeassistant")
        self.discovery = [] if topic_root == "off" else discovery(self.prefix, camera, self.availability, topic_root)
        self.client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=f"oddsight-{camera}")
        if parts.username:
            self.client.username_pw_set(parts.username, parts.password)
        self.client.will_set(self.availability, "offline", qos=1, retain=True)
        self.client.connect_async(parts.hostname, parts.port or 1883, keepalive=30)
        self.client.on_connect = self._connected
        self.client.on_message = self._command
        self._armed: str | None = None
        self.client.loop_start()
        super().__init__(f"mqtt {redact_urls(url)}")

    def _connected(self, client, *_: Any) -> None:
        """(Re)connected: the discovery configs and "online", retained, so Home Assistant finds the camera; the
        command topic subscribed."""
        for topic, config in self.discovery:
            client.publish(topic, json.dumps(config), qos=1, retain=True)
        client.publish(self.availability, "online", qos=1, retain=True)
        if self._armed is not None:
            client.publish(f"{self.prefix}/{self.camera}/armed", self._armed, qos=1, retain=True)
        client.subscribe(f"{self.prefix}/{self.camera}/set", qos=1)

    def _command(self, client, userdata, message) -> None:
        if self.on_command is not None and len(message.payload) <= 4096:
            self.on_command(message.payload)

    def policy(self, policy: AlertPolicy) -> None:
        self._armed = "ON" if policy.armed else "OFF"
        if self.client.is_connected():
            self.client.publish(f"{self.prefix}/{self.camera}/armed", self._armed, qos=1, retain=True)

    def deliver(self, payload: dict[str, Any]) -> None:
        deadline = time.monotonic() + 10
        while not self.client.is_connected():  # the broker may still be starting, or back from a restart
            if time.monotonic() > deadline:
                raise ConnectionError("broker not connected")
            time.sleep(0.1)
        data = json.dumps(payload)
        topic = f"{self.prefix}/{self.camera}/events"
        self.client.publish(topic, data, qos=1).wait_for_publish(10)
        self.client.publish(f"{topic}/{payload['type']}", data, qos=1)
        state = "OFF" if payload["type"] == "end" else "ON"
        kind = "tamper" if payload["event"].get("kind") == "tamper" else "anomaly"
        self.client.publish(f"{self.prefix}/{self.camera}/{kind}", state, qos=1, retain=True)

    def score(self, value: float) -> None:
        if self.client.is_connected():
            self.client.publish(f"{self.prefix}/{self.camera}/score", f"{value:.4f}", qos=0, retain=True)

    def close(self, timeout: float = 5.0) -> None:
        super().close(timeout)
        if self.client.is_connected():
            self.client.publish(self.availability, "offline", qos=1, retain=True).wait_for_publish(timeout)
        self.client.loop_stop()
        self.client.disconnect()


def check_alert(spec: str) -> str:
    """``spec`` if it names an alert channel (``webhook:http(s)://...`` or ``mqtt://host[:port]/prefix``)."""
    if not isinstance(spec, str) or not (
        (spec.startswith(("webhook:http://", "webhook:https://")) and urlsplit(spec[len("webhook:") :]).hostname)
        or (spec.startswith("mqtt://") and urlsplit(spec).hostname)
    ):
        raise ConfigError(f"--alert takes webhook:URL or mqtt://host[:port]/prefix, got {redact_urls(str(spec))!r}")
    return spec


def make_sink(spec: str, camera: str, secret: str | None = None) -> Sink:
    """``webhook:https://host/hook`` or ``mqtt://broker:1883/prefix``."""
    if check_alert(spec).startswith("webhook:"):
        return WebhookSink(spec[len("webhook:") :], secret)
    return MqttSink(spec, camera)
