"""Cameras inside ``oddsight serve``: a real RTSP camera (GStreamer's server serving a real UCF-Crime fight)
watched by the server's own camera process, with its picture, scores, events, clips, feedback and outages in the
store and the API; a ``kill -9`` of the server with an event open, and the restart that closes it.

The RTSP test runs in real time (about 90 s).
"""

from __future__ import annotations

import io
import itertools
import json
import math
import shutil
import time

import av
import httpx
import pytest
from PIL import Image

from oddsight.server.camera_store import CameraStore
from oddsight.server.cameras import RESTART_NOTE, process_alive
from oddsight.server.store import Store
from tests.conftest import shared_data
from tests.live_servers import FIGHT
from tests.server_process import Server, until


def _jpeg(data: bytes) -> tuple[int, int]:
    assert data[:2] == b"\xff\xd8"
    return Image.open(io.BytesIO(data)).size


def test_rtsp_camera_in_serve_events_clips_feedback_kill9_and_outage(rtsp, tmp_path):
    data = tmp_path / "data"
    srv = Server(data, [], "--workers", "0").start()
    try:
        c = srv.client()
        r = c.post("/cameras", json={"url": rtsp.url, "name": "door", "threshold": 1.0})
        assert r.status_code == 201, r.text
        assert r.json()["id"] == "door" and r.json()["options"]["threshold"] == 1.0

        cam = until("frames scored", lambda: _scored(c, 4), 60)
        assert cam["state"] == "running" and cam["responding"]
        assert cam["status"]["calibration"]["source"] == "given" and cam["status"]["calibration"]["threshold"] == 1.0
        picture = c.get("/cameras/door/live.jpg")
        assert picture.status_code == 200 and 100 < _jpeg(picture.content)[0] <= 640
        with c.stream("GET", "/cameras/door/live.mjpg") as stream:  # the same picture as an MJPEG stream
            assert stream.headers["content-type"].startswith("multipart/x-mixed-replace")
            first = next(stream.iter_bytes())
        assert first.startswith(b"--oddsight-frame") and b"\xff\xd8" in first
        scores = c.get("/cameras/door/scores").json()
        assert len(scores) >= 4 and all(a["wall"] < b["wall"] for a, b in itertools.pairwise(scores))
        later = c.get("/cameras/door/scores", params={"since": scores[-1]["wall"]}).json()
        assert all(s["wall"] > scores[-1]["wall"] for s in later)

        # the fight (19-28 s of the stream) opens an event while it happens
        opened = until("an open event", lambda: [e for e in c.get("/cameras/door/events").json()], 60)[0]
        assert opened["state"] == "open" and 15 <= opened["start_s"] <= 30, opened
        # the status comes with the next heartbeat (each second), the event row at once
        shown = until("the open event in the status", lambda: c.get("/cameras/door").json()["status"]["open_event"], 5)
        assert shown["id"] == opened["id"]
        assert c.patch(f"/camera-events/{opened['id']}", json={"review": "false_alarm"}).status_code == 409

        # kill -9 of the server while the event is open: the camera process (forked from the fork server) dies with
        # it; the restart closes the event
        camera_pid = CameraStore(Store(data)).camera("door")["worker_pid"]
        assert camera_pid and process_alive(camera_pid)
        srv.kill9()
        until("the camera process gone with the server", lambda: not process_alive(camera_pid), 2)
        srv = Server(data, [], "--workers", "0").start()
        c = srv.client()
        closed = until("the open event closed", lambda: _ended(c, opened["id"]), 30)
        assert closed["note"] == RESTART_NOTE
        assert c.patch(f"/camera-events/{opened['id']}", json={"review": "false_alarm"}).status_code == 409

        # the camera is watched again after the restart (the RTSP client starts over): the fight again, to its end
        event = until("an ended event with its clip", lambda: _with_clip(c, opened["id"]), 90)
        assert 15 <= event["start_s"] <= 30 and event["end_s"] <= 40, event
        snapshot = c.get(f"/camera-events/{event['id']}/snapshot.jpg")
        assert snapshot.status_code == 200 and _jpeg(snapshot.content)
        clip = c.get(f"/camera-events/{event['id']}/clip.mp4")
        assert clip.status_code == 200
        (tmp_path / "clip.mp4").write_bytes(clip.content)
        with av.open(str(tmp_path / "clip.mp4")) as f:  # remuxed from the camera's packets: h264, spans the event
            assert f.streams.video[0].codec_context.name == "h264"
            times = [float(fr.time) for fr in f.decode(f.streams.video[0])]
        assert times[-1] - times[0] >= event["end_s"] - event["start_s"]

        # feedback: a false alarm puts the event's frames into the camera's normal memory
        r = c.patch(f"/camera-events/{event['id']}", json={"review": "false_alarm"})
        assert r.status_code == 200 and r.json()["review"] == "false_alarm"
        assert (data / "cameras" / "door" / "normal" / f"{event['id']}.npy").exists()
        r = c.patch(f"/camera-events/{event['id']}", json={"review": "confirmed"})
        assert r.json()["review"] == "confirmed"
        assert not (data / "cameras" / "door" / "normal" / f"{event['id']}.npy").exists()

        # the camera goes away for a while: the outage is in the API once it is back
        rtsp.stop()
        time.sleep(6)
        rtsp.start()
        outages = until("an outage", lambda: c.get("/cameras/door").json()["outages"], 60)
        assert outages[0]["s"] >= 3 and outages[0]["ended"] > outages[0]["started"]
        health = until(
            "an offline event",
            lambda: [e for e in c.get("/cameras/door/events").json() if e["kind"] == "tamper"] or None,
            30,
        )
        assert health[0]["label"] == "offline" and health[0]["state"] == "ended"
        until("scoring after the outage", lambda: c.get("/cameras/door").json()["state"] == "running", 30)

        assert c.delete("/cameras/door").status_code == 204
        assert c.get("/cameras/door").status_code == 404 and not (data / "cameras" / "door").exists()
    finally:
        srv.stop()


def _scored(c: httpx.Client, n: int) -> dict | None:
    cam = c.get("/cameras/door").json()
    return cam if cam["status"] and cam["status"]["stream"]["sampled"] >= n else None


def _ended(c: httpx.Client, event_id: str) -> dict | None:
    event = c.get(f"/camera-events/{event_id}").json()
    return event if event["state"] == "ended" else None


def _with_clip(c: httpx.Client, not_id: str) -> dict | None:
    events = [e for e in c.get("/cameras/door/events").json() if e["id"] != not_id]
    return next((e for e in events if e["state"] == "ended" and e["has_clip"]), None)


BAD_CAMERAS = [
    ({}, 422, "url is required"),
    ({"url": "ftp://host/cam"}, 422, "not a camera source this server opens: rtsp://, rtsps://, http(s)://"),
    ({"url": "/dev/videoX"}, 422, "not a camera device"),
    ({"url": "/etc/passwd"}, 403, "outside every --media folder"),
    ({"url": "rtsp://h/cam", "name": "../up"}, 422, "name"),
    ({"url": "rtsp://h/cam", "alerts": ["smtp://x"]}, 422, "webhook:URL or mqtt://"),
    ({"url": "rtsp://h/cam", "alerts": "mqtt://x/y"}, 422, "alerts is a list"),
    ({"url": "rtsp://h/cam", "method": "lavad"}, 422, "needs --captioner"),
    ({"url": "rtsp://h/cam", "method": "text-sim"}, 422, "unknown method 'text-sim'"),
    ({"url": "rtsp://h/cam", "threshold": math.nan}, 422, "threshold"),
    ({"url": "rtsp://h/cam", "warmup": -1}, 422, "warmup"),
    ({"url": "rtsp://h/cam", "fps": 0}, 422, "fps"),
    ({"url": "rtsp://h/cam", "bogus": 1}, 422, "bogus"),
    ({"url": "rtsp://h/cam", "record_url": "/etc/passwd"}, 422, "main stream is an rtsp://"),
    ({"url": "rtsp://h/cam", "record_url": "file:///etc/passwd"}, 422, "main stream is an rtsp://"),
    ({"url": "rtsp://h/cam", "record_url": "rtsp://h/main?listen=1"}, 422, "may not make the server listen"),
    ({"url": "rtsp://h/cam", "record_url": 7}, 422, "record_url"),
]


@pytest.fixture(scope="module")
def quiet_server(tmp_path_factory):
    root = tmp_path_factory.mktemp("cams")
    media = root / "media"
    media.mkdir()
    with Server(root / "data", [media], "--workers", "0") as srv:
        yield srv


@pytest.mark.parametrize(("body", "status", "words"), BAD_CAMERAS)
def test_bad_camera_is_one_clear_4xx_and_nothing_stored(quiet_server, body, status, words):
    with quiet_server.client() as c:
        # json.dumps writes NaN as NaN, as a careless client would
        r = c.post("/cameras", content=json.dumps(body), headers={"content-type": "application/json"})
        assert r.status_code == status, r.text
        assert words in r.json()["detail"], r.json()
        assert c.get("/cameras").json() == []


def test_camera_credentials_never_shown_and_a_dead_camera_reconnects(quiet_server):
    port = 9  # the discard port: nothing listens
    url = f"rtsp://admin:s3cret-pass@127.0.0.1:{port}/cam"
    with quiet_server.client() as c:
        main = f"rtsp://admin:s3cret-pass@127.0.0.1:{port}/main"
        r = c.post("/cameras", json={"url": url, "threshold": 1.0, "record_url": main})
        assert r.status_code == 201, r.text
        cam = r.json()
        assert "s3cret" not in r.text and cam["url"] == f"rtsp://***@127.0.0.1:{port}/cam"
        assert cam["record_url"] == f"rtsp://***@127.0.0.1:{port}/main"
        assert "admin" not in cam["id"] and cam["id"] == f"127.0.0.1_{port}_cam"
        twice = c.post("/cameras", json={"url": url, "threshold": 1.0})  # the same source twice: refused
        assert twice.status_code == 409 and cam["id"] in twice.json()["detail"] and "s3cret" not in twice.text
        other = f"rtsp://viewer:other@127.0.0.1:{port}/cam"  # another login to it: its own camera and name
        again = c.post("/cameras", json={"url": other, "threshold": 1.0}).json()
        assert again["id"] == f"{cam['id']}-2"
        assert c.post("/cameras", json={"url": url + "?x=1", "name": cam["id"]}).status_code == 409
        state = until(
            "reconnecting", lambda: c.get(f"/cameras/{cam['id']}").json()["state"] == "reconnecting" or None, 60
        )
        assert state
        assert c.get(f"/cameras/{cam['id']}/live.jpg").status_code == 404
        listing = c.get("/cameras").text
        assert "s3cret" not in listing
        for camera_id in (cam["id"], again["id"]):
            assert c.delete(f"/cameras/{camera_id}").status_code == 204
    assert "s3cret" not in quiet_server.log.read_text()


def test_a_file_under_media_plays_as_a_camera_in_real_time(quiet_server, tmp_path):
    media = quiet_server.media[0]
    shutil.copy(shared_data() / FIGHT, media / "fight.mp4")  # a copy: a symlink out of --media is refused
    with quiet_server.client() as c:
        r = c.post("/cameras", json={"url": "fight.mp4", "threshold": 1.0})
        assert r.status_code == 201, r.text
        cam = r.json()
        assert cam["id"] == "fight" and cam["realtime"] is True
        t0 = time.monotonic()
        until("a few frames", lambda: _scored_id(c, cam["id"], 6), 60)
        status = c.get(f"/cameras/{cam['id']}").json()["status"]
        # played at its own frame rate: after ~3 s of stream, not the whole 37 s file
        assert status["stream"]["sampled"] < 2 * (time.monotonic() - t0) + 8
        _read_metrics_as_prometheus_does(quiet_server, cam["id"])
        # alerting: snoozed from the API (as the dashboard does); the running camera process picks it up
        alerting = f"/cameras/{cam['id']}/alerting"
        r = c.patch(alerting, json={"snooze_min": 30, "schedule": ["daily 00:00-24:00"]})
        assert r.status_code == 200 and r.json()["alerting"]["state"] == "snoozed", r.text
        until("the process snoozed", lambda: _status(c, cam["id"]).get("alerting", {}).get("state") == "snoozed", 15)
        assert c.patch(alerting, json={"schedule": ["someday 9-5"]}).status_code == 422
        assert c.patch(alerting, json={"bogus": 1}).status_code == 422
        assert c.get(f"/cameras/{cam['id']}").json()["alerting"]["schedule"] == ["daily 00:00-24:00"]
        # masks and zones: stored, and picked up by the running camera process
        floor = {"name": "floor", "polygon": [[0, 0.5], [1, 0.5], [1, 1]]}
        areas = {"masks": [[[0, 0], [0.3, 0], [0.3, 0.3]]], "zones": [floor]}
        r = c.put(f"/cameras/{cam['id']}/zones", json=areas)
        assert r.status_code == 200 and r.json()["zones"]["zones"][0]["name"] == "floor", r.text
        until("the process zoned", lambda: (_status(c, cam["id"]).get("zones") or {}).get("masks"), 15)
        bad = {"zones": [{"name": "x", "polygon": [[0, 0], [2, 2], [0, 1]]}]}
        assert c.put(f"/cameras/{cam['id']}/zones", json=bad).status_code == 422
        assert c.delete(f"/cameras/{cam['id']}").status_code == 204


def _read_metrics_as_prometheus_does(server, camera_id: str) -> None:
    """/metrics (and /api/v1/metrics) parsed by the Prometheus client's own parser: the camera's figures."""
    from prometheus_client.parser import text_string_to_metric_families

    reply = httpx.get(f"{server.url}/metrics", timeout=10)
    assert reply.status_code == 200 and reply.headers["content-type"].startswith("text/plain; version=0.0.4")
    samples = {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(reply.text)
        for s in family.samples
    }
    cam = (("camera", camera_id),)
    assert samples[("oddsight_camera_up", cam)] == 1.0
    assert samples[("oddsight_camera_frames_scored_total", cam)] >= 6
    assert samples[("oddsight_camera_worst_lag_seconds", cam)] >= samples[("oddsight_camera_lag_seconds", cam)]
    assert samples[("oddsight_camera_threshold", cam)] == 1.0
    assert samples[("oddsight_camera_events_total", (("camera", camera_id), ("kind", "tamper")))] == 0
    with server.client() as c:
        assert c.get("/metrics").text.count("oddsight_camera_up{") == 1


def _status(c: httpx.Client, camera_id: str) -> dict:
    return c.get(f"/cameras/{camera_id}").json()["status"] or {}


def _scored_id(c: httpx.Client, camera_id: str, n: int) -> bool:
    status = c.get(f"/cameras/{camera_id}").json()["status"]
    return bool(status and status["stream"]["sampled"] >= n)


# --- the supervisor itself, with stand-in processes ----------------------------------------------------------


class _FakeProcess:
    """A camera process that never runs: ``exitcode`` says whether it has ended."""

    def __init__(self, target, args, daemon) -> None:
        self.camera_id, self.exitcode, self.pid = args[1], None, None

    def start(self) -> None:
        pass

    def terminate(self) -> None:
        self.exitcode = -15

    def kill(self) -> None:
        self.exitcode = -9

    def join(self, timeout=None) -> None:
        pass


class _FakeContext:
    def __init__(self) -> None:
        self.started: list[_FakeProcess] = []

    def Process(self, target, args, daemon):  # multiprocessing's name
        proc = _FakeProcess(target, args, daemon)
        self.started.append(proc)
        return proc

    def count(self, camera_id: str) -> int:
        return sum(p.camera_id == camera_id for p in self.started)


@pytest.fixture
def supervisor(tmp_path, monkeypatch):
    from oddsight.server import cameras as cameras_module
    from oddsight.server.camera_store import CameraStore
    from oddsight.server.store import Store

    monkeypatch.setattr(cameras_module, "RESTART_BACKOFF_S", (0.0,))  # due as soon as it is found dead
    store = Store(tmp_path / "data")
    for name in ("a", "b"):
        row = {"id": name, "name": name, "url": f"rtsp://h/{name}", "options": {}, "fps": 2.0, "warmup_s": 0.0}
        CameraStore(store).add(row)
    sup = cameras_module.CameraProcesses(store)
    sup._ctx = _FakeContext()
    for name in ("a", "b"):
        sup.launch(name)
    yield sup
    sup.stop(timeout=0)


def _kill_all(sup) -> None:
    for proc in sup._ctx.started:
        proc.exitcode = 1


def test_a_camera_deleted_while_due_to_restart_leaves_the_others_restarting(supervisor, caplog):
    """``stop_camera`` (a delete) lands while the supervisor is deciding camera a's restart: a is gone, b still
    restarts, and nothing fails (it used to raise KeyError out of the supervisor's thread, ending every restart)."""
    import threading

    sup = supervisor
    _kill_all(sup)
    sup.check()  # both found dead: due at once
    assert set(sup._due) == {"a", "b"}

    deleting: list[threading.Thread] = []

    class RacyDue(dict):
        def get(self, key, default=None):
            value = super().get(key, default)
            if key == "a" and not deleting:  # the delete arrives now, from a request thread
                deleting.append(threading.Thread(target=sup.stop_camera, args=("a", 0)))
                deleting[0].start()
                deleting[0].join(0.3)
            return value

    sup._due = RacyDue(sup._due)
    with caplog.at_level("ERROR", logger="oddsight.server"):
        sup.check()
        deleting[0].join(5)
    assert not [r for r in caplog.records if r.levelname == "ERROR"], caplog.text
    assert "a" not in sup._procs and "a" not in sup._due
    assert sup._ctx.count("b") == 2 and sup._procs["b"].exitcode is None  # b restarted

    _kill_all(sup)  # and the supervisor goes on: b dies again and comes back again
    sup.check()
    sup.check()
    assert sup._ctx.count("b") == 3 and sup._ctx.count("a") <= 2 and "a" not in sup._procs


def test_the_supervisor_loop_survives_an_exception(supervisor, monkeypatch):
    """A check that raises (the store locked, a bug) is logged and the loop goes on; one camera whose check
    raises does not keep the others from restarting."""
    import threading

    sup = supervisor
    real_camera = sup.cameras.camera

    def camera(camera_id):
        if camera_id == "a":
            raise RuntimeError("database is locked")
        return real_camera(camera_id)

    monkeypatch.setattr(sup.cameras, "camera", camera)
    real_check, failures = sup.check, [RuntimeError("boom")] * 2

    def flaky_check():
        if failures:
            raise failures.pop()
        real_check()

    sup.check = flaky_check
    sup.watch_s = 0.01
    _kill_all(sup)
    sup._thread = threading.Thread(target=sup._watch, daemon=True)
    sup._thread.start()
    until("b restarted", lambda: sup._ctx.count("b") >= 2, 5, 0.02)
    assert sup._thread.is_alive() and not failures
    sup._stop.set()
    sup._thread.join(2)
