"""One writer to the store: a camera process publishes what it reports (events, heartbeats, its state) over a pipe
of its own, as JSON, and the server's :class:`StoreWriter` thread writes it, in order. Camera processes only read
the store (their row: alerting, zones). A process killed mid-message loses only its own pipe, never another's."""

from __future__ import annotations

import json
import logging
import threading
from multiprocessing.connection import Connection, wait
from typing import Any

from oddsight.server.camera_store import CameraStore

log = logging.getLogger("oddsight.server")
WRITES = frozenset({"event_message", "report", "set_state", "close_open_events", "set_alerting", "prune_events"})


class CameraLink:
    """The camera process's view of the store: :meth:`camera` reads it; every write in ``WRITES`` is sent to the
    server instead (same name, same arguments, positional)."""

    def __init__(self, conn: Connection, reader: CameraStore) -> None:
        self.conn, self.reader = conn, reader
        self._lock = threading.Lock()  # the monitor's thread and the heartbeat's both send

    def camera(self, camera_id: str) -> dict | None:
        return self.reader.camera(camera_id)

    def __getattr__(self, name: str):
        if name not in WRITES:
            raise AttributeError(name)
        return lambda *args: self._send(name, args)

    def _send(self, name: str, args: tuple[Any, ...]) -> None:
        data = json.dumps([name, list(args)]).encode()
        with self._lock:
            self.conn.send_bytes(data)


class StoreWriter:
    """The server's thread that applies the camera processes' writes (see the module)."""

    def __init__(self, cameras: CameraStore) -> None:
        self.cameras = cameras
        self._conns: dict[Connection, str] = {}
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="oddsight-store-writer", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def add(self, camera_id: str, conn: Connection) -> None:
        with self._lock:
            self._conns[conn] = camera_id

    def stop(self, timeout: float = 5.0) -> None:
        """After the camera processes have ended: what they sent is written, then the thread ends."""
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout)

    def _run(self) -> None:
        while True:
            with self._lock:
                conns = list(self._conns)
            if not conns:
                if self._stop.wait(0.2):
                    return
                continue
            ready = wait(conns, timeout=0.2)
            for conn in ready:
                self._read(conn)  # type: ignore[arg-type]
            if self._stop.is_set() and not ready:
                return

    def _read(self, conn: Connection) -> None:
        try:
            name, args = json.loads(conn.recv_bytes())
        except (EOFError, OSError, ValueError):  # the process ended (or was killed mid-message): its pipe is done
            with self._lock:
                self._conns.pop(conn, None)
            conn.close()
            return
        self.apply(self._conns.get(conn), name, args)

    def apply(self, camera_id: str | None, name: str, args: list[Any]) -> None:
        """One write a camera sent (by a pipe here, or drained from a Ray actor by ``server/ray_cameras.py``)."""
        if name not in WRITES:
            log.warning("camera %s: unknown write %r ignored", camera_id, name)
            return
        try:
            result = getattr(self.cameras, name)(*args)
        except Exception:  # one bad write (the store busy past its timeout) never stops the others
            log.exception("camera %s: %s not written", camera_id, name)
            return
        if name == "close_open_events" and result:
            log.warning("camera %s: %d event(s) left open by the last run closed", args[0], result)
