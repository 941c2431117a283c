"""``oddsight serve --ray ADDRESS``: each camera's monitor in a Ray actor, spread over the cluster's nodes.

The server stays the one place that stores events, serves the dashboard and sends alerts. An actor runs the same
:class:`~oddsight.server.cameras.CameraRun` as a camera process; what it would write (events, heartbeats, states)
and what it would alert is queued in the actor, and the server's poller long-polls every actor (``drain``), writes
through the one :class:`~oddsight.server.camera_link.StoreWriter` and sends the alerts from its own channels. The
camera's row (alerting, zones) goes to the actor with each poll: actors never open the server's database.

An actor is restarted by Ray (``max_restarts=-1``), on another node when its node dies; the server records an
outage of the camera from its last answer to the restarted actor's first (a camera whose poll goes unanswered for
``OUTAGE_S`` shows as reconnecting meanwhile). Clips,
snapshots and the live picture are written under the server's data folder, which every node must see at the same
path (as ``detect --ray`` needs its videos).
"""

from __future__ import annotations

import json
import logging
import os
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import ray

from oddsight.cluster.ray_runner import connect
from oddsight.errors import ConfigError, OddsightError
from oddsight.live.alerts import Sink
from oddsight.live.policy import AlertPolicy
from oddsight.live.retention import RETENTION_ENV
from oddsight.llm.openai_http import ENDPOINTS_ENV
from oddsight.redact import redact_urls
from oddsight.server.camera_link import WRITES, StoreWriter
from oddsight.server.camera_store import CameraStore
from oddsight.server.cameras import CameraRun, alert_sinks
from oddsight.server.store import Store
from oddsight.threads import THREADS_ENV

log = logging.getLogger("oddsight.server")
CAMERA_CPUS = 0.2  # what Ray reserves per camera actor (about 10 % of a core is measured at 2 fps)
POLL_S = 1.0  # an actor answers a poll at once when it has something, else after this long
OUTAGE_S = 5.0  # a camera that answered before and now not for this long is down (its node lost, restarting)
ROWS_EVERY_S = 1.0  # how often the poller reads the cameras' rows (alerting, zones) to pass on
ALERT = ("alert", "alert_score", "alert_policy")  # what an actor's alert channel queues for the server's sinks
QUEUED_REPORTS = 600  # heartbeats an actor holds for a server that does not poll (10 minutes' worth), at most
Body = Callable[[Any, dict[str, Any], threading.Event], None]  # (link, row, stopped): a camera run (benchmarks)


def _for_actor(row: dict[str, Any] | None) -> dict[str, Any] | None:
    """A camera's row as its actor gets it: without its alert channels (the server sends the alerts)."""
    return None if row is None else {k: v for k, v in row.items() if k != "alerts"}


class _ActorLink:
    """The actor's side of the store: :meth:`camera` is the row the server last sent; every write in ``WRITES``
    and every alert is queued, as JSON, until the server's next poll takes it. Heartbeats are bounded: past
    :data:`QUEUED_REPORTS` waiting, the oldest goes (its outages passed on to the next; its scores, for the chart,
    dropped and counted). Events, states and alerts are never dropped."""

    def __init__(self, row: dict[str, Any], node: str) -> None:
        self.row, self.node = row, node
        self._queue: list[str] = []
        self._reports = 0  # heartbeats in the queue
        self.dropped_reports = 0
        self._ready = threading.Condition()

    def camera(self, camera_id: str) -> dict[str, Any]:
        return self.row

    def __getattr__(self, name: str):
        if name not in WRITES:
            raise AttributeError(name)
        return lambda *args: self.put(name, list(args))

    def put(self, name: str, args: list[Any]) -> None:
        if name == "report":  # the status says where the camera runs
            args[1] = {**args[1], "node": self.node}
        data = json.dumps([name, args])
        with self._ready:
            self._queue.append(data)
            if name == "report":
                self._reports += 1
                if self._reports > QUEUED_REPORTS:
                    self._drop_oldest_report()
            self._ready.notify()

    def _drop_oldest_report(self) -> None:
        first, second = [i for i, data in enumerate(self._queue) if data.startswith('["report"')][:2]
        _, old = json.loads(self._queue[first])
        name, new = json.loads(self._queue[second])
        new[3] = old[3] + new[3]  # report(camera_id, status, scores, outages, state): the outages go on
        self._queue[second] = json.dumps([name, new])
        del self._queue[first]
        self._reports -= 1
        self.dropped_reports += 1
        if self.dropped_reports == 1:
            log.warning("camera %s: the server has not polled for a while; dropping its oldest heartbeats", new[0])

    def wake(self) -> None:
        """A poll waiting for writes returns now (the run ended)."""
        with self._ready:
            self._ready.notify_all()

    def take(self, row: dict[str, Any] | None, wait_s: float) -> list[str]:
        with self._ready:
            if row is not None:
                self.row = row
            if not self._queue:
                self._ready.wait(wait_s)
            taken, self._queue, self._reports = self._queue, [], 0
        return taken


class _ForwardSink(Sink):
    """The actor's one alert channel: what the dispatcher alerts goes to the server, which sends it."""

    def __init__(self, link: _ActorLink) -> None:
        self.link = link

    def send(self, payload: dict[str, Any]) -> None:
        self.link.put("alert", [payload])

    def score(self, value: float) -> None:
        self.link.put("alert_score", [value])

    def policy(self, policy: AlertPolicy) -> None:
        self.link.put("alert_policy", [policy.to_dict()])


@ray.remote(max_restarts=-1, max_task_retries=-1, max_concurrency=4)
class CameraActor:
    """One camera on the cluster: started (and, on another node, restarted) by Ray; its run starts at once."""

    def __init__(self, row: dict[str, Any], data: str, env: dict[str, str], body: Body | None = None) -> None:
        os.environ.update(env)
        self.link = _ActorLink(row, ray.get_runtime_context().get_node_id())
        self.incarnation = uuid.uuid4().hex
        self.stopped = threading.Event()
        self.run: CameraRun | None = None
        self.done = False
        self.thread = threading.Thread(target=self._main, args=(row, Path(data), body), daemon=True)
        self.thread.start()

    def _main(self, row: dict[str, Any], data: Path, body: Body | None) -> None:
        try:
            if body is not None:
                body(self.link, row, self.stopped)
            else:
                self.run = CameraRun(self.link, data, row, [_ForwardSink(self.link)])
                if not self.stopped.is_set():
                    self.run.run()
        except Exception as exc:  # a bug: the camera fails with its cause, the actor stays to report it
            log.exception("camera %s: its run failed", row["id"])
            self.link.set_state(row["id"], "failed", redact_urls(f"{type(exc).__name__}: {exc}"))
        finally:
            self.done = True
            self.link.wake()

    def drain(self, row: dict[str, Any] | None, wait_s: float = POLL_S) -> dict[str, Any]:
        """What the camera wrote and alerted since the last poll (waits up to ``wait_s`` for something)."""
        done = self.done
        writes = self.link.take(row, 0.0 if done else wait_s)
        return {"writes": writes, "done": done, "node": self.link.node, "run": self.incarnation}

    def stop(self, timeout: float = 10.0) -> None:
        self.stopped.set()
        if self.run is not None:
            self.run.stop()
        self.thread.join(timeout)


@dataclass
class _Placed:
    """The server's record of one camera actor."""

    actor: Any
    sinks: list[Sink]
    call: Any = None  # the poll in flight
    heard: float = field(default_factory=time.time)  # when the actor last answered
    down: bool = False  # unanswered for OUTAGE_S (shown as reconnecting)
    run: str | None = None  # the actor's incarnation that last answered (a new one: Ray restarted it)


class RayCameras:
    """The supervisor of ``serve --ray``: the interface of :class:`~oddsight.server.cameras.CameraProcesses`
    (``start``, ``launch``, ``stop_camera``, ``stop``), with an actor per camera instead of a process."""

    def __init__(self, store: Store, address: str, *, cpus: float = CAMERA_CPUS, body: Body | None = None) -> None:
        self.store, self.cameras, self.address = store, CameraStore(store), address
        self.cpus, self.body = cpus, body
        self.writer = StoreWriter(self.cameras)  # its ``apply`` only: the poller is the thread that writes
        self._placed: dict[str, _Placed] = {}
        self._rows: dict[str, dict[str, Any]] = {}
        self._rows_at = -1e18
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        connect(self.address)
        for row in self.cameras.cameras():
            if row["state"] != "ended":
                self.launch(row["id"])
        self._thread = threading.Thread(target=self._poll, name="oddsight-ray-cameras", daemon=True)
        self._thread.start()

    def launch(self, camera_id: str) -> None:
        """Place the camera's actor unless it has one."""
        row = self.cameras.camera(camera_id)
        with self._lock:
            if row is None or camera_id in self._placed:
                return
            try:
                sinks = alert_sinks(row)
            except OddsightError as exc:
                self.cameras.set_state(camera_id, "failed", redact_urls(str(exc)))
                return
            for sink in sinks:  # commands on a channel (MQTT's set topic) change the stored policy; the actor follows
                sink.on_command = lambda command, cid=camera_id: self._command(cid, command)
            env = {k: os.environ[k] for k in (RETENTION_ENV, ENDPOINTS_ENV) if k in os.environ}
            env[THREADS_ENV] = os.environ.get(THREADS_ENV, "1")
            options = {"num_cpus": self.cpus, "scheduling_strategy": "SPREAD", "name": None}
            actor = CameraActor.options(**options).remote(_for_actor(row), str(self.store.folder), env, self.body)
            self._placed[camera_id] = _Placed(actor, sinks)
            self._rows[camera_id] = row

    def stop_camera(self, camera_id: str, timeout: float = 10.0) -> None:
        with self._lock:
            placed = self._placed.pop(camera_id, None)
        if placed is not None:
            self._end({camera_id: placed}, timeout)

    def stop(self, timeout: float = 10.0) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)
        with self._lock:
            placed, self._placed = dict(self._placed), {}
        self._end(placed, timeout)

    # --- the poller ---------------------------------------------------------------------------------------------

    def _poll(self) -> None:
        while not self._stop.is_set():
            try:
                self._poll_once()
            except Exception:  # a bug, the store busy: log it and poll again, never stop supervising
                log.exception("ray cameras: a poll failed; trying again")
                self._stop.wait(1.0)

    def _poll_once(self) -> None:
        now = time.time()
        if now - self._rows_at > ROWS_EVERY_S:
            self._rows = {row["id"]: row for row in self.cameras.cameras()}
            self._rows_at = now
        calls: dict[Any, str] = {}
        with self._lock:
            for camera_id, placed in self._placed.items():
                if placed.call is None:
                    placed.call = placed.actor.drain.remote(_for_actor(self._rows.get(camera_id)))
                calls[placed.call] = camera_id
                if placed.run is not None and not placed.down and now - placed.heard > OUTAGE_S:
                    self._down(camera_id, placed)
        if not calls:
            self._stop.wait(0.2)
            return
        ready, _ = ray.wait(list(calls), num_returns=1, timeout=0.5)
        if ready:
            ready, _ = ray.wait(list(calls), num_returns=len(calls), timeout=0)
        for ref in ready:
            self._answer(calls[ref], ref)

    def _answer(self, camera_id: str, ref: Any) -> None:
        with self._lock:
            placed = self._placed.get(camera_id)
            if placed is None or placed.call is not ref:
                return
            placed.call = None
        try:
            reply = ray.get(ref)
        except ray.exceptions.ActorDiedError as exc:  # gone for good (its constructor failed): the camera fails
            with self._lock:
                self._placed.pop(camera_id, None)
            self._close(placed)
            self.cameras.set_state(camera_id, "failed", redact_urls(f"its Ray actor died: {exc}")[:500])
            return
        except ray.exceptions.RayError:  # unreachable for now (its node lost): the next poll waits for the restart
            self._stop.wait(0.2)
            return
        now = time.time()
        restarted = placed.run is not None and reply["run"] != placed.run  # by Ray, after its node or process died
        if placed.down or restarted:  # an outage from its last answer to this one
            outage = {"from": placed.heard, "to": now, "s": round(now - placed.heard, 3)}
            self.cameras.record_outage(camera_id, outage)
            log.warning("camera %s: answering again after %.1f s, on node %s", camera_id, outage["s"], reply["node"])
            placed.down = False
        placed.heard, placed.run = now, reply["run"]
        self._apply(camera_id, placed, reply["writes"])
        if reply["done"]:  # the run ended (a file's end, stopped, failed): its last state is written above
            with self._lock:
                self._placed.pop(camera_id, None)
            self._close(placed)

    def _down(self, camera_id: str, placed: _Placed) -> None:
        placed.down = True
        log.warning("camera %s: no answer from its actor for %.0f s (its node lost?)", camera_id, OUTAGE_S)
        self.cameras.set_state(camera_id, "reconnecting", "no answer from its Ray actor: restarting on another node")

    def _apply(self, camera_id: str, placed: _Placed, writes: list[str]) -> None:
        """The actor's writes into the store and its alerts out of the server's channels, in the order made."""
        for data in writes:
            name, args = json.loads(data)
            if name in ALERT:
                self._alert(placed, name, args[0])
            else:
                self.writer.apply(camera_id, name, args)

    def _alert(self, placed: _Placed, name: str, value: Any) -> None:
        for sink in placed.sinks:
            if name == "alert":
                sink.send(value)
            elif name == "alert_score":
                sink.score(value)
            else:
                sink.policy(AlertPolicy.from_dict(value))

    def _command(self, camera_id: str, command: object) -> None:
        row = self.cameras.camera(camera_id)
        if row is None:
            return
        try:
            policy = AlertPolicy.from_dict(row.get("alerting")).apply(command)
        except ConfigError as exc:
            log.warning("%s: %s", camera_id, exc)
            return
        self.cameras.set_alerting(camera_id, policy.to_dict())
        self._rows_at = -1e18  # the actor gets it with its next poll

    def _end(self, placed: dict[str, _Placed], timeout: float) -> None:
        """Stop the actors at once (each closes its open event and writes its clip), apply what each wrote last,
        then kill them."""
        stops = [one.actor.stop.remote(timeout) for one in placed.values()]
        ray.wait(stops, num_returns=len(stops), timeout=timeout + 5)
        for camera_id, one in placed.items():
            try:
                reply = ray.get(one.actor.drain.remote(None, 0.0), timeout=5)
                self._apply(camera_id, one, reply["writes"])
            except ray.exceptions.RayError as exc:
                log.warning("camera %s: its actor did not stop cleanly (%s)", camera_id, type(exc).__name__)
            self._close(one)

    def _close(self, placed: _Placed) -> None:
        """The actor gone (its CPU share freed), the camera's alert channels closed (after sending what they hold)."""
        ray.kill(placed.actor, no_restart=True)
        for sink in placed.sinks:
            sink.close()
