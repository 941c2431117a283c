"""Cameras watched inside ``oddsight serve``: one spawned process per camera runs the same
:class:`~oddsight.live.monitor.Monitor` as ``oddsight watch``, and reports into the server's store.

Each process reports its events (every new/update/end message), a heartbeat each second (status, the scores
since the last one, outages) to the server's one store writer (``camera_link``), and writes the latest picture
(``cameras/<id>/live.jpg``); snapshots, clips, the JSONL
log and the camera's false-alarm memory live under ``cameras/<id>/`` as with ``watch --clips``.
``CameraProcesses`` (in the server) starts one per camera, restarts one that dies, and stops one on delete.

Camera processes are forked from one fork server that has imported what a camera needs (NumPy, OpenCV, PyAV,
oddsight's live path) once: those pages are shared by every camera instead of each camera importing its own copy
(16 cameras in ``benchmarks/bench_live.py --serve``: 67 MB of private memory each instead of 81, PSS 73 MB instead
of 86). Each process still gets the server's environment as it is at launch, as a spawned one would.
"""

from __future__ import annotations

import logging
import multiprocessing
import os
import select
import signal
import threading
import time
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

from oddsight.errors import OddsightError
from oddsight.live.alerts import make_sink
from oddsight.live.policy import AlertPolicy
from oddsight.live.retention import CHECK_S, RETENTION_ENV, Retention
from oddsight.live.zones import Zones
from oddsight.redact import redact_urls
from oddsight.server.camera_link import CameraLink, StoreWriter
from oddsight.server.camera_store import CameraStore
from oddsight.server.store import Store
from oddsight.threads import THREADS_ENV

log = logging.getLogger("oddsight.server")
HEARTBEAT_S = 1.0
RESTART_BACKOFF_S = (1.0, 2.0, 5.0, 10.0, 30.0)
WATCH_S = 1.0  # how often the supervisor looks at the camera processes
STABLE_S = 60.0  # a process that ran this long before it died starts the backoff over
# imported once in the fork server the camera processes are forked from (see the module): what `camera_main` and
# the default method's engine import before the first frame
CAMERA_PRELOAD = (
    "oddsight.server.cameras",
    "oddsight.live.monitor",
    "oddsight.live.engine",
    "oddsight.live.feedback",
    "oddsight.pipeline",
    "oddsight.models.loader",
    "oddsight.models.motion",
    "numpy.random",
    "cv2",
    "av",
)
LIVE_PICTURE = "live.jpg"
RESTART_NOTE = "closed on restart: the camera's monitor stopped while it was open"


def camera_folder(data: Path, camera_id: str) -> Path:
    """Where a camera's clips, snapshots, log and live picture live, under the server's data folder."""
    return data / "cameras" / camera_id


class _Reporter:
    """The camera process's link to the store: messages as they come, a heartbeat each second."""

    def __init__(self, cameras: CameraStore | CameraLink, camera_id: str, folder: Path) -> None:
        self.cameras, self.camera_id, self.folder = cameras, camera_id, folder
        self.monitor: Any = None
        self._lock = threading.Lock()
        self._scores: list[tuple[float, float, float, float]] = []
        self._frame: Any = None
        self._outages: list[dict[str, float]] = []
        self._picture_at: float | None = None
        self._pruned_at = -1e18
        self._stop = threading.Event()

    def on_message(self, payload: dict[str, Any]) -> None:
        self.cameras.event_message(self.camera_id, payload)

    def on_outage(self, outage: dict[str, float]) -> None:
        with self._lock:
            self._outages.append(outage)

    def on_update(self, update: Any, frame: Any) -> None:
        with self._lock:
            self._scores.append((frame.wall, update.t, update.score, update.smoothed))
            self._frame = frame.frame

    def run(self) -> None:
        while not self._stop.wait(HEARTBEAT_S):
            try:
                self.beat()
            except Exception as exc:  # the store busy or the disk full: the next beat tries again
                log.warning("camera %s: heartbeat failed (%s)", self.camera_id, exc)

    def beat(self, state: str | None = None) -> None:
        from oddsight.live.clips import write_snapshot

        with self._lock:
            scores, self._scores = self._scores, []
            frame, self._frame = self._frame, None
            outages, self._outages = self._outages, []
        if frame is not None:
            write_snapshot(frame, self.folder / LIVE_PICTURE)
            self._picture_at = time.time()
        row = self.cameras.camera(self.camera_id)
        policy = AlertPolicy.from_dict(row and row.get("alerting"))
        if row is not None and policy != self.monitor.dispatch.policy:
            self.monitor.dispatch.set_policy(policy, tell=False)  # changed from the API or the dashboard
        zones = Zones.parse(row and row.get("zones"))
        if row is not None and zones != (self.monitor.zones or Zones()):
            self.monitor.set_zones(zones)
        if time.monotonic() - self._pruned_at > CHECK_S:  # the store's rows of old events go too
            self._pruned_at = time.monotonic()
            max_age = self.monitor.retention.limits["events"].max_age_s
            if max_age is not None:
                self.cameras.prune_events(self.camera_id, time.time() - max_age)
        status = self.monitor.status()
        status["picture_at"] = self._picture_at
        status["timings"] = {k: round(v, 3) for k, v in self.monitor.timings.items()}
        if state is None:
            state = "running" if status["stream"]["connected"] else "reconnecting"
        self.cameras.report(self.camera_id, status, scores, outages, state)

    def stop(self) -> None:
        self._stop.set()


def camera_context() -> multiprocessing.context.BaseContext:
    """How camera processes start: forked from a fork server that has imported :data:`CAMERA_PRELOAD` (spawned,
    importing everything anew, where there is no fork server)."""
    if "forkserver" not in multiprocessing.get_all_start_methods():
        return multiprocessing.get_context("spawn")
    ctx = multiprocessing.get_context("forkserver")
    ctx.set_forkserver_preload(list(CAMERA_PRELOAD))
    return ctx


def camera_main(
    folder: str, camera_id: str, parent: int, conn: Connection | None = None, environ: dict[str, str] | None = None
) -> None:
    """A camera's process: watch it until SIGTERM, the server's end, or (a file) the end of the footage. With
    ``conn`` (as the server starts it) its writes go to the server's one writer; without, to the store itself.
    ``environ``: the server's environment at launch (a fork server's own is as it was when the fork server began)."""
    # ends with the server: its parent is the fork server (which outlives the server while it has children), so
    # the kernel's parent-death signal would tie it to the fork server instead
    die_with(parent)
    if environ is not None:
        os.environ.clear()
        os.environ.update(environ)
    os.environ.setdefault(THREADS_ENV, "1")  # one encoder thread per camera: many cameras share the cores
    store = Store(Path(folder))
    cameras: Any = CameraStore(store) if conn is None else CameraLink(conn, CameraStore(store))
    row = cameras.camera(camera_id)
    if row is None:
        return
    try:
        sinks = alert_sinks(row)
    except OddsightError as exc:
        cameras.set_state(camera_id, "failed", redact_urls(str(exc)))
        return
    run = CameraRun(cameras, store.folder, row, sinks)
    signal.signal(signal.SIGTERM, lambda *_: run.stop())
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C reaches the server, which stops us
    run.run()


def die_with(pid: int) -> None:
    """SIGKILL this process the moment process ``pid`` ends (as ``PR_SET_PDEATHSIG`` does for a parent), from a
    thread that waits on the process (a pidfd; where there is none, a look each second). Already gone: at once."""

    def wait() -> None:
        try:
            handle = os.pidfd_open(pid)
        except ProcessLookupError:
            handle = None
        except (AttributeError, OSError):  # no pidfd here (not Linux 5.3+): look each second
            while process_alive(pid):
                time.sleep(1.0)
            handle = None
        if handle is not None:
            select.select([handle], [], [])  # readable once the process has ended
        os.kill(os.getpid(), signal.SIGKILL)

    threading.Thread(target=wait, name="oddsight-die-with-server", daemon=True).start()


def process_alive(pid: int) -> bool:
    """Whether process ``pid`` is still running (a zombie, dead but not yet reaped, is not)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:  # no /proc: os.kill found it
        return True


def alert_sinks(row: dict[str, Any]) -> list[Any]:
    """The camera's alert channels (webhooks signed with $ODDSIGHT_WEBHOOK_SECRET, MQTT)."""
    secret = os.environ.get("ODDSIGHT_WEBHOOK_SECRET")
    return [make_sink(spec, row["id"], secret) for spec in row["alerts"]]


class CameraRun:
    """One camera watched until its monitor stops: the body of a camera's process (``camera_main``) and of its Ray
    actor (``server/ray_cameras.py``). ``cameras`` is where its writes go (the store, or a link to the server's
    writer) and where it reads its row (alerting, zones) each heartbeat; ``sinks`` its alert channels."""

    def __init__(self, cameras: Any, data: Path, row: dict[str, Any], sinks: list[Any]) -> None:
        self.cameras, self.data, self.row, self.sinks = cameras, data, row, sinks
        self.stopped = threading.Event()
        self.monitor: Any = None

    def stop(self) -> None:
        """End the run (from a signal handler or another thread): the monitor closes its open event and clip."""
        self.stopped.set()
        if self.monitor is not None:
            self.monitor.stop()

    def run(self) -> None:
        camera_id = self.row["id"]
        try:
            monitor, reporter = _build(self.data, self.cameras, self.row, self.sinks)
        except OddsightError as exc:
            for sink in self.sinks:
                sink.close()
            self.cameras.set_state(camera_id, "failed", redact_urls(str(exc)))
            return
        self.monitor = monitor
        if self.stopped.is_set():  # stopped while it was being built
            monitor.stop()
        self.cameras.close_open_events(camera_id, RESTART_NOTE)  # (the writer logs how many)
        self.cameras.set_state(camera_id, "starting", None, os.getpid())
        beat = threading.Thread(target=reporter.run, name=f"camera-{camera_id}-beat", daemon=True)
        beat.start()
        try:
            monitor.run()
        except OddsightError as exc:
            reporter.stop()
            self.cameras.set_state(camera_id, "failed", redact_urls(str(exc)))
            return
        finally:
            for sink in monitor.sinks:
                sink.close()
        reporter.stop()
        beat.join(5)
        reporter.beat("stopped" if self.stopped.is_set() else "ended")


def _build(data: Path, cameras: Any, row: dict[str, Any], sinks: list[Any]) -> tuple[Any, _Reporter]:
    from oddsight.live.engine import LIVE_METHODS, make_engine
    from oddsight.live.monitor import Monitor
    from oddsight.options import DetectOptions

    camera_id = row["id"]
    config = DetectOptions.parse(row["options"]).to_config(progress=False, methods=LIVE_METHODS)
    warmup = 0.0 if config.threshold is not None else row["warmup_s"]
    engine = make_engine(config, warmup_s=warmup, camera=camera_id)
    folder = camera_folder(data, camera_id)
    reporter = _Reporter(cameras, camera_id, folder)
    monitor = Monitor(
        row["url"],
        engine,
        row["fps"],
        row["realtime"],
        out=folder.parent,
        sinks=sinks,
        on_message=reporter.on_message,
        on_update=reporter.on_update,
        on_outage=reporter.on_outage,
        camera=camera_id,
        cooldown_s=row["cooldown_s"],
        policy=AlertPolicy.from_dict(row.get("alerting")),
        zones=Zones.parse(row.get("zones")),
        retention=Retention.parse(os.environ.get(RETENTION_ENV)),
        on_policy=lambda policy: cameras.set_alerting(camera_id, policy.to_dict()),  # from MQTT's set topic
        record_url=row.get("record_url"),
    )
    reporter.monitor = monitor
    return monitor, reporter


class CameraProcesses:
    """One process per camera in the store (see :func:`camera_context`), kept alive (with backoff) while the server
    runs."""

    def __init__(self, store: Store) -> None:
        self.store, self.cameras = store, CameraStore(store)
        self.writer = StoreWriter(self.cameras)  # the one writer of what the camera processes report
        self._ctx = camera_context()
        self._procs: dict[str, multiprocessing.process.BaseProcess] = {}
        self._started: dict[str, float] = {}  # camera -> when its process started
        self._failures: dict[str, int] = {}  # camera -> its processes that died in a row
        self._due: dict[str, float] = {}  # camera -> when its dead process is started again
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.watch_s = WATCH_S

    def start(self) -> None:
        self.writer.start()
        for row in self.cameras.cameras():
            if row["state"] != "ended":  # a file played to its end stays ended; a failed one gets another try
                self.launch(row["id"])
        self._thread = threading.Thread(target=self._watch, name="oddsight-cameras", daemon=True)
        self._thread.start()

    def launch(self, camera_id: str) -> None:
        with self._lock:
            self._launch(camera_id)

    def _launch(self, camera_id: str) -> None:
        """Start the camera's process unless one runs; the caller holds ``_lock``."""
        old = self._procs.get(camera_id)
        if old is not None and old.exitcode is None:
            return
        reader, sender = multiprocessing.Pipe(duplex=False)
        args = (str(self.store.folder), camera_id, os.getpid(), sender, dict(os.environ))
        proc = self._ctx.Process(target=camera_main, args=args, daemon=True)
        proc.start()
        sender.close()  # the child holds it now: when the child ends, the reader sees EOF
        self.writer.add(camera_id, reader)
        self._procs[camera_id] = proc
        self._started[camera_id] = time.monotonic()

    def stop_camera(self, camera_id: str, timeout: float = 10.0) -> None:
        with self._lock:
            proc = self._procs.pop(camera_id, None)
            self._failures.pop(camera_id, None)
            self._due.pop(camera_id, None)
            self._started.pop(camera_id, None)
        if proc is not None:
            _end(proc, timeout)

    def _watch(self) -> None:
        while not self._stop.wait(self.watch_s):
            try:
                self.check()
            except Exception:  # the store busy, a bug: log it and look again next time, never stop supervising
                log.exception("camera supervisor: a check failed; trying again")

    def check(self) -> None:
        """One look at every camera process: a dead one is restarted once its backoff has passed. All the
        supervisor's shared state (processes, due times, failure counts) is read and written under ``_lock``, so a
        camera deleted meanwhile (``stop_camera``) is simply gone; one camera's failure never stops the others'."""
        with self._lock:
            dead = [(c, p) for c, p in self._procs.items() if p.exitcode is not None]
        for camera_id, proc in dead:
            try:
                self._check_dead(camera_id, proc)
            except Exception:
                log.exception("camera %s: restarting it failed; trying again", camera_id)

    def _check_dead(self, camera_id: str, proc: multiprocessing.process.BaseProcess) -> None:
        row = self.cameras.camera(camera_id)  # the store, outside the lock
        with self._lock:
            if self._procs.get(camera_id) is not proc:  # deleted or started again meanwhile
                return
            if row is None or row["state"] in ("ended", "failed"):  # done, or fails the same way each time
                self._procs.pop(camera_id, None)
                self._due.pop(camera_id, None)
                return
            now = time.monotonic()
            due = self._due.get(camera_id)
            if due is None:  # just found dead: wait the backoff, then start it again
                if now - self._started.get(camera_id, 0.0) > STABLE_S:
                    self._failures[camera_id] = 0  # it had run a good while: a fresh failure, not a crash loop
                failures = self._failures.get(camera_id, 0)
                delay = RESTART_BACKOFF_S[min(failures, len(RESTART_BACKOFF_S) - 1)]
                self._failures[camera_id] = failures + 1
                self._due[camera_id] = now + delay
                log.warning("camera %s: its process ended (exit %s); restart in %g s", camera_id, proc.exitcode, delay)
            elif now >= due:
                self._due.pop(camera_id, None)
                self._procs.pop(camera_id, None)
                self._launch(camera_id)

    def stop(self, timeout: float = 10.0) -> None:
        self._stop.set()
        with self._lock:
            procs, self._procs = list(self._procs.values()), {}
        for proc in procs:
            proc.terminate()
        for proc in procs:
            _end(proc, timeout)
        self.writer.stop()  # what the ended processes sent last (their final state) is written first


def _end(proc: multiprocessing.process.BaseProcess, timeout: float) -> None:
    """SIGTERM (the monitor closes its open event and writes its clip), then SIGKILL if it does not stop."""
    if proc.exitcode is None:
        proc.terminate()
    proc.join(timeout)
    if proc.exitcode is None:
        proc.kill()
        proc.join(2)
