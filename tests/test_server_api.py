"""The HTTP API against a real ``oddsight serve`` (uvicorn in a subprocess, worker processes) on 127.0.0.1."""

from __future__ import annotations

import json
import os
import subprocess
import time
from pathlib import Path

import av
import httpx
import numpy as np
import pytest

from oddsight.server.cameras import process_alive
from tests.conftest import make_video, shared_data
from tests.server_process import Server, oddsight, wait_job

ARSON = "ucf_crime/videos/Arson009_x264.mp4"


@pytest.fixture(scope="module")
def media(tmp_path_factory) -> Path:
    """A --media root (the server also gets ../shared/data as a second one): a synthetic clip, and a symlink
    that points out of the root."""
    root = tmp_path_factory.mktemp("media")
    make_video(root / "clip.mp4", n_frames=80, fps=10, anomaly=range(40, 50), codec="libx264")
    outside = tmp_path_factory.mktemp("outside")
    (outside / "secret.mp4").write_bytes((root / "clip.mp4").read_bytes())
    (root / "escape.mp4").symlink_to(outside / "secret.mp4")
    return root


@pytest.fixture(scope="module")
def server(tmp_path_factory, media):
    data = tmp_path_factory.mktemp("server") / "data"
    with Server(data, [media, shared_data()], "--max-upload-mb", "8") as srv:
        yield srv


@pytest.fixture
def api(server):
    with server.client() as client:
        yield client


def _upload(api: httpx.Client, path: Path, name: str | None = None) -> httpx.Response:
    with open(path, "rb") as f:
        return api.post("/videos", files={"file": (name or path.name, f, "video/mp4")})


def _analyse(api: httpx.Client, video_id: str, **options) -> dict:
    reply = api.post("/analyses", json={"video_id": video_id, **options})
    assert reply.status_code == 202, reply.text
    job = wait_job(api, reply.json()["job_id"])
    assert job["state"] == "done", job
    return job


def test_health_and_openapi_name_the_routes(api, server):
    health = api.get("/health").json()
    assert health["status"] == "ok" and health["version"]
    paths = httpx.get(server.url + "/openapi.json").json()["paths"]
    for route in (
        "/api/v1/health",
        "/api/v1/videos",
        "/api/v1/videos/register",
        "/api/v1/videos/{video_id}",
        "/api/v1/analyses",
        "/api/v1/jobs/{job_id}",
        "/api/v1/jobs/{job_id}/cancel",
        "/api/v1/results/{result_id}",
        "/api/v1/events",
        "/api/v1/events/{event_id}",
        "/api/v1/events/{event_id}/thumbnail.jpg",
        "/api/v1/events/{event_id}/clip.mp4",
        "/api/v1/detectors",
        "/api/v1/models",
    ):
        assert route in paths, route
    assert "delete" in paths["/api/v1/videos/{video_id}"] and "patch" in paths["/api/v1/events/{event_id}"]


def test_upload_analyse_equals_the_cli(api, tmp_path, server):
    video = shared_data() / ARSON
    reply = _upload(api, video)
    assert reply.status_code == 201, reply.text
    video_id = reply.json()["id"]
    assert reply.json()["frame_count"] == 743 and "path" not in reply.json()
    job = _analyse(api, video_id)
    assert job["progress"] == 1 and job["error"] is None
    document = api.get(f"/results/{job['result_id']}").json()

    cli = subprocess.run(
        oddsight("detect", str(video), "--json", "--no-cache", "--out", str(tmp_path / "out")),
        capture_output=True,
        text=True,
        env={**os.environ, "ODDSIGHT_HOME": str(tmp_path / "home")},
        timeout=300,
    )
    assert cli.returncode == 0, cli.stderr
    expected = json.loads(cli.stdout)["results"][0]
    assert document["method"] == expected["method"] == "novelty"
    assert document["threshold"] == expected["threshold"]
    np.testing.assert_allclose(document["frame_scores"], expected["frame_scores"], atol=1e-5)
    assert [(e["start_frame"], e["end_frame"]) for e in document["events"]] == [
        (e["start_frame"], e["end_frame"]) for e in expected["events"]
    ]
    assert document["events"], "Arson009 has an event on the CLI"
    assert document["video"]["source"] == "Arson009_x264.mp4"  # not the server's own path

    events = api.get("/events", params={"video_id": video_id}).json()
    assert len(events) == len(document["events"])
    first = events[0]
    assert {"id", "video_id", "start_frame", "end_frame", "start_s", "end_s", "peak_s", "peak_score"} <= set(first)
    assert first["review"] == "new" and first["label"] is None


def test_events_review_filters_thumbnail_and_clip(api, media):
    video_id = api.post("/videos/register", json={"path": "clip.mp4"}).json()["id"]
    result_id = _analyse(api, video_id, threshold=0.5)["result_id"]
    events = api.get("/events", params={"result_id": result_id}).json()
    assert events, "the synthetic clip's blob is an event at 0.5"
    event = events[0]

    thumb = api.get(f"/events/{event['id']}/thumbnail.jpg")
    assert thumb.status_code == 200 and thumb.headers["content-type"] == "image/jpeg"
    assert thumb.content[:2] == b"\xff\xd8"
    clip = api.get(f"/events/{event['id']}/clip.mp4")
    assert clip.status_code == 200 and clip.headers["content-type"] == "video/mp4"
    path = media.parent / "clip-check.mp4"
    path.write_bytes(clip.content)
    with av.open(str(path)) as c:
        stream = c.streams.video[0]
        assert stream.codec_context.name == "h264"
        n = sum(1 for _ in c.decode(stream))
    span = event["end_s"] - event["start_s"]
    assert n >= int(span * 10)  # the whole event, and up to 3 s each side

    patched = api.patch(f"/events/{event['id']}", json={"review": "false_alarm", "note": "a shadow"}).json()
    assert patched["review"] == "false_alarm" and patched["note"] == "a shadow"
    alarms = api.get("/events", params={"review": "false_alarm"}).json()
    assert event["id"] in [e["id"] for e in alarms]
    assert api.get("/events", params={"review": "confirmed", "result_id": result_id}).json() == []
    high = api.get("/events", params={"min_score": 1e9}).json()
    assert high == []
    csv_text = api.get("/events", params={"result_id": result_id, "format": "csv"}).text
    assert csv_text.splitlines()[0].startswith("id,result_id,video_id") and event["id"] in csv_text
    assert api.patch(f"/events/{event['id']}", json={"review": "maybe"}).status_code == 422

    # the threshold moved: events recomputed from the stored scores, nothing stored
    lower = api.get(f"/results/{result_id}/events", params={"threshold": 0.01}).json()
    higher = api.get(f"/results/{result_id}/events", params={"threshold": 1e6}).json()
    assert higher == [] and len(lower) >= 1
    assert len(api.get("/events", params={"result_id": result_id}).json()) == len(events)


def test_fit_a_detector_and_use_it(api):
    video_id = api.post("/videos/register", json={"path": "normal/vtest.avi"}).json()["id"]
    reply = api.post("/detectors", json={"name": "lawn", "video_ids": [video_id], "fps": 1})
    assert reply.status_code == 202, reply.text
    job = wait_job(api, reply.json()["job_id"])
    assert job["state"] == "done", job
    detectors = api.get("/detectors").json()
    lawn = next(d for d in detectors if d["id"] == job["detector_id"])
    assert lawn["name"] == "lawn" and lawn["encoder"] == "motion" and lawn["kind"] == "knn" and lawn["n_train"] > 10
    assert "path" not in lawn
    # fewer frames than the threshold's 99.5th percentile needs (200): the detector says its threshold is rough
    assert lawn["n_train"] < 200 and "too few to estimate it" in lawn["note"]
    done = _analyse(api, video_id, detector_id=lawn["id"], fps=1)
    assert api.get(f"/results/{done['result_id']}").json()["method"] == "oneclass"


def test_cancel_a_running_job(api):
    video_id = api.post("/videos/register", json={"path": "ucf_crime/videos/Normal_Videos_641_x264.mp4"}).json()
    reply = api.post("/analyses", json={"video_id": video_id["id"], "fps": 10, "no_cache": True})
    job_id = reply.json()["job_id"]
    wait_job(api, job_id, until=("running",))
    assert api.post(f"/jobs/{job_id}/cancel").status_code == 200
    job = wait_job(api, job_id, timeout=60)
    assert job["state"] == "cancelled" and job["result_id"] is None
    resumed = api.post(f"/jobs/{job_id}/resume").json()
    assert resumed["state"] == "queued"
    # A worker may pick the resumed job up before this second cancel: then it is asked to stop, not cancelled at once.
    assert api.post(f"/jobs/{job_id}/cancel").json()["state"] in ("cancelled", "running")
    job = wait_job(api, job_id, timeout=60)
    assert job["state"] == "cancelled" and job["result_id"] is None


def test_result_display_keeps_every_peak(api):
    video_id = api.post("/videos/register", json={"path": ARSON}).json()["id"]
    result_id = _analyse(api, video_id)["result_id"]
    full = api.get(f"/results/{result_id}").json()["frame_scores"]
    view = api.get(f"/results/{result_id}/display", params={"points": 100}).json()
    assert len(view["frames"]) <= 102 and view["n_frames"] == len(full)
    assert max(view["scores"]) == pytest.approx(max(full), abs=1e-4)
    assert view["frames"][0] == 0 and view["frames"][-1] == len(full) - 1


def test_register_refuses_paths_outside_media(api, media):
    before = api.get("/videos").json()
    for path, status in (
        ("../outside/secret.mp4", 403),  # outside: 403 whether or not it exists (no existence oracle)
        ("escape.mp4", 403),  # a symlink out of the root
        ("/etc/passwd", 403),
        (str(media / ".." / "x.mp4"), 403),
        ("missing.mp4", 404),  # inside a root, not there
        ("", 422),
    ):
        reply = api.post("/videos/register", json={"path": path})
        assert reply.status_code == status, (path, reply.text)
        assert reply.json()["detail"]
    assert api.get("/videos").json() == before


def test_bad_uploads_are_refused_and_nothing_is_stored(api, tmp_path, server):
    before = api.get("/videos").json()
    uploads = server.data / "uploads"
    files_before = sorted(uploads.iterdir())
    text = tmp_path / "notes.mp4"
    text.write_text("this is not a video\n" * 50)
    empty = tmp_path / "empty.mp4"
    empty.write_bytes(b"")
    big = tmp_path / "big.mp4"
    big.write_bytes(os.urandom(9_000_000))
    for path, name, status, words in (
        (text, None, 400, "notes.mp4"),
        (empty, None, 400, "empty"),
        (big, None, 413, "limit"),
        (text, "notes.txt", 415, "not a video"),
    ):
        reply = _upload(api, path, name)
        assert reply.status_code == status, (name or path.name, reply.text)
        assert words in reply.json()["detail"]
        assert str(server.data) not in reply.json()["detail"]
    assert api.post("/videos", files={"other": ("a.mp4", b"x")}).status_code == 422
    assert api.get("/videos").json() == before
    assert sorted(uploads.iterdir()) == files_before


def test_upload_name_is_never_a_path(api, server, media):
    reply = _upload(api, media / "clip.mp4", name="../../../evil.mp4")
    assert reply.status_code == 201, reply.text
    assert reply.json()["name"] == "evil.mp4"
    assert not (server.data.parent / "evil.mp4").exists() and not (server.data / "evil.mp4").exists()
    assert all(p.parent == server.data / "uploads" for p in (server.data / "uploads").iterdir())


@pytest.mark.parametrize(
    "body, words",
    [
        ({"method": "nope"}, "unknown method"),
        ({"threshold": float("nan")}, "--threshold must be a finite number"),
        ({"fps": -1}, "--fps must be > 0"),
        ({"fps": "fast"}, "--fps"),
        ({"bogus": 1}, "unknown option --bogus"),
        ({"method": "oneclass"}, "needs a detector"),
        ({"detector_id": "missing"}, "no detector missing"),
        ({"detector": "/etc/passwd"}, "outside every --media"),
        ({"model": "no-such-model"}, "no-such-model"),
    ],
)
def test_bad_analysis_options(api, media, body, words):
    video_id = api.post("/videos/register", json={"path": "clip.mp4"}).json()["id"]
    jobs_before = len(api.get("/jobs").json())
    content = json.dumps({"video_id": video_id, **body})  # NaN as JavaScript would send it
    reply = api.post("/analyses", content=content, headers={"content-type": "application/json"})
    assert 400 <= reply.status_code < 500, reply.text
    assert words in reply.json()["detail"]
    assert len(api.get("/jobs").json()) == jobs_before


def test_unknown_ids_are_404(api):
    for path in ("/videos/nope", "/jobs/nope", "/results/nope", "/events/nope/thumbnail.jpg"):
        reply = api.get(path)
        assert reply.status_code == 404 and "nope" in reply.json()["detail"]
    assert api.post("/analyses", json={"video_id": "nope"}).status_code == 404


def test_import_cli_results(api, tmp_path, media):
    out = tmp_path / "out"
    subprocess.run(
        oddsight("detect", str(media / "clip.mp4"), "--out", str(out), "-q", "--threshold", "0.5"),
        check=True,
        env={**os.environ, "ODDSIGHT_HOME": str(tmp_path / "home")},
        timeout=300,
    )
    target = media / "imported"
    target.mkdir(exist_ok=True)
    for f in out.glob("*.json"):
        (target / f.name).write_text(f.read_text())
    first = api.post("/imports", json={"path": "imported"}).json()
    assert first["imported"] == 1
    again = api.post("/imports", json={"path": "imported"}).json()
    assert again["imported"] == 0 and again["skipped"] == 1
    document = api.get(f"/results/{first['result_ids'][0]}").json()
    assert document["threshold"] == 0.5


def test_token_required_off_localhost(tmp_path, media):
    with Server(tmp_path / "data", [media], "--workers", "0", token="s3cret-token") as srv:
        assert httpx.get(srv.url + "/api/v1/health").status_code == 200  # liveness stays open
        missing = httpx.get(srv.url + "/api/v1/videos")
        assert missing.status_code == 401 and "token" in missing.json()["detail"]
        wrong = httpx.get(srv.url + "/api/v1/videos", headers={"authorization": "Bearer nope"})
        assert wrong.status_code == 401 and wrong.json()["detail"] == "wrong token"
        assert httpx.post(srv.url + "/api/v1/videos", files={"file": ("a.mp4", b"x")}).status_code == 401
        with srv.client("s3cret-token") as ok:
            assert ok.get("/videos").status_code == 200
        page = httpx.get(srv.url + "/", follow_redirects=False)
        assert page.status_code == 303 and page.headers["location"] == "/login"
        bad_login = httpx.post(srv.url + "/login", data={"token": "nope"}, follow_redirects=False)
        assert bad_login.status_code == 401 and "Wrong token" in bad_login.text
        login = httpx.post(srv.url + "/login", data={"token": "s3cret-token"}, follow_redirects=False)
        assert login.status_code == 303
        cookie = login.headers["set-cookie"]
        assert "httponly" in cookie.lower() and "s3cret-token" not in cookie
        session = login.cookies
        assert httpx.get(srv.url + "/", cookies=session).status_code == 200
        assert httpx.get(srv.url + "/api/v1/videos", cookies=session).status_code == 200
    assert "s3cret-token" not in srv.log.read_text()


def test_binding_beyond_localhost_needs_a_token(tmp_path):
    run = subprocess.run(
        oddsight("serve", "--host", "0.0.0.0", "--data", str(tmp_path / "d")),
        capture_output=True,
        text=True,
        env={k: v for k, v in os.environ.items() if k != "ODDSIGHT_TOKEN"},
        timeout=60,
    )
    assert run.returncode == 2 and "token" in run.stderr and "Traceback" not in run.stderr


def test_kill9_while_a_job_runs_then_restart_and_resume(tmp_path, media):
    data = tmp_path / "data"
    srv = Server(data, [media, shared_data()]).start()
    try:
        with srv.client() as api:
            clip = api.post("/videos/register", json={"path": "clip.mp4"}).json()["id"]
            earlier = _analyse(api, clip)["result_id"]
            earlier_doc = api.get(f"/results/{earlier}").json()
            long_id = api.post("/videos/register", json={"path": "ucf_crime/videos/Normal_Videos_641_x264.mp4"})
            job_id = api.post("/analyses", json={"video_id": long_id.json()["id"], "fps": 5}).json()["job_id"]
            wait_job(api, job_id, until=("running",))
            time.sleep(1.0)
            workers = [p for p in _children(srv.proc.pid)]
        srv.kill9()
        deadline = time.monotonic() + 10
        while any(process_alive(p) for p in workers) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert not any(process_alive(p) for p in workers), "workers outlived the server"
    finally:
        srv.stop()
    with Server(data, [media, shared_data()]) as again, again.client() as api:
        job = api.get(f"/jobs/{job_id}").json()
        assert job["state"] == "interrupted" and "stopped" in job["error"]
        assert api.get(f"/results/{earlier}").json() == earlier_doc
        assert api.post(f"/jobs/{job_id}/resume").json()["state"] == "queued"
        done = wait_job(api, job_id)
        assert done["state"] == "done" and done["result_id"]


def _children(pid: int) -> list[int]:
    out = subprocess.run(["ps", "-o", "pid=", "--ppid", str(pid)], capture_output=True, text=True).stdout
    return [int(x) for x in out.split()]


def test_evaluation_through_the_api_equals_the_cli(api, media, tmp_path):
    root = media / "labelled"
    (root / "videos").mkdir(parents=True, exist_ok=True)
    make_video(root / "videos" / "odd.mp4", n_frames=80, fps=10, anomaly=range(40, 52), codec="libx264")
    make_video(root / "videos" / "calm.mp4", n_frames=80, fps=10, codec="libx264")
    (root / "labels.csv").write_text("video,start,end\nodd,40,51\n")
    reply = api.post("/evaluations", json={"dataset": "csv", "root": "labelled", "threshold": 0.5})
    assert reply.status_code == 202, reply.text
    job = wait_job(api, reply.json()["job_id"])
    assert job["state"] == "done", job
    report = job["output"]
    cli = subprocess.run(
        oddsight("eval", "--dataset", "csv", "--root", str(root), "--threshold", "0.5", "--json"),
        capture_output=True,
        text=True,
        env={**os.environ, "ODDSIGHT_HOME": str(tmp_path / "home")},
        timeout=300,
    )
    assert cli.returncode == 0, cli.stderr
    expected = json.loads(cli.stdout)
    assert report["auc"] == pytest.approx(expected["auc"]) and report["auc"] > 0.5
    assert report["n_videos"] == 2 and len(report["per_video"]) == 2
    assert api.post("/evaluations", json={"dataset": "nope", "root": "labelled"}).status_code == 422
    assert api.post("/evaluations", json={"dataset": "csv", "root": "/etc"}).status_code == 403
