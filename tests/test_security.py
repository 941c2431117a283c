"""Issue #20, against a real ``oddsight serve`` on 127.0.0.1: what the server trusts and what it refuses.

An "attacker's host" is a real HTTP listener on 127.0.0.1 that records every request and its headers.
"""

from __future__ import annotations

import csv
import io
import json
import os
import subprocess
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx
import pytest

from oddsight.redact import redact_urls, redact_value
from tests.conftest import make_video
from tests.server_process import Server, free_port, oddsight

SERVER_KEY = "sk-server-only-4f9a"
CHAT_REPLY = {"choices": [{"message": {"content": "Score: 1"}}]}


class Listener:
    """An HTTP server on 127.0.0.1 that answers every POST with a chat completion and records what came."""

    def __init__(self) -> None:
        self.requests: list[tuple[str, dict[str, str]]] = []
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                self.rfile.read(int(self.headers.get("content-length") or 0))
                outer.requests.append((self.path, {k.lower(): v for k, v in self.headers.items()}))
                body = json.dumps(CHAT_REPLY).encode()
                self.send_response(200)
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            do_GET = do_POST

            def log_message(self, *args: object) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/v1"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.httpd.shutdown()


@pytest.fixture(scope="module")
def attacker():
    listener = Listener()
    yield listener
    listener.close()


@pytest.fixture(scope="module")
def operator_llm():
    listener = Listener()
    yield listener
    listener.close()


@pytest.fixture(scope="module")
def media(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("media")
    make_video(root / "clip.mp4", n_frames=30, fps=10)
    return root


@pytest.fixture(scope="module")
def outside(tmp_path_factory) -> Path:
    """A folder outside --media with a real video in it (what an attacker would like served)."""
    folder = tmp_path_factory.mktemp("outside")
    make_video(folder / "private.mp4", n_frames=30, fps=10)
    return folder


@pytest.fixture(scope="module")
def server(tmp_path_factory, media, operator_llm):
    data = tmp_path_factory.mktemp("server") / "data"
    args = ("--workers", "0", "--llm-endpoint", operator_llm.url, "--allowed-host", "oddsight.lan")
    with Server(data, [media], *args, env={"OPENAI_API_KEY": SERVER_KEY, "ODDSIGHT_API_KEY": ""}) as srv:
        yield srv


@pytest.fixture
def api(server):
    with server.client() as client:
        yield client


@pytest.fixture(scope="module")
def video_id(server, media) -> str:
    with server.client() as c:
        reply = c.post("/videos/register", json={"path": "clip.mp4"})
        assert reply.status_code == 201, reply.text
        return reply.json()["id"]


# --- 1. a URL a client names never receives the server's own secrets ---------------------------------------


@pytest.mark.parametrize("option", ["llm", "captioner"])
def test_a_client_named_llm_url_is_refused_and_gets_no_key(api, attacker, video_id, option):
    spec = f"openai:{attacker.url}#m"
    for path, body in (
        ("/analyses", {"video_id": video_id, "method": "judge", option: spec}),
        ("/evaluations", {"dataset": "frame-labels", "root": ".", option: spec}),
        ("/cameras", {"url": "rtsp://127.0.0.1:9/cam", option: spec}),
    ):
        reply = api.post(path, json=body)
        assert reply.status_code == 403, (path, reply.text)
        assert "--llm-endpoint" in reply.json()["detail"]
    assert attacker.requests == []
    assert api.get("/jobs").json() == [] and api.get("/cameras").json() == []


def test_an_operator_endpoint_is_accepted(api, operator_llm, video_id):
    base = operator_llm.url.removesuffix("/v1")  # the same endpoint, written without /v1 and with a '/'
    reply = api.post("/analyses", json={"video_id": video_id, "model": "motion", "llm": f"openai:{base}/#m"})
    assert reply.status_code == 202, reply.text
    assert api.post(f"/jobs/{reply.json()['job_id']}/cancel").status_code == 200


def test_the_key_from_the_environment_goes_only_to_listed_endpoints(monkeypatch, attacker, operator_llm):
    from oddsight.llm.openai_http import ENDPOINTS_ENV, OpenAIChat

    monkeypatch.setenv("OPENAI_API_KEY", SERVER_KEY)
    monkeypatch.delenv("ODDSIGHT_API_KEY", raising=False)
    monkeypatch.setenv(ENDPOINTS_ENV, operator_llm.url)
    OpenAIChat(attacker.url, "m", retries=0).post("/chat/completions", {})
    OpenAIChat(operator_llm.url + "/", "m", retries=0).post("/chat/completions", {})
    assert "authorization" not in attacker.requests[-1][1]
    assert operator_llm.requests[-1][1]["authorization"] == f"Bearer {SERVER_KEY}"
    monkeypatch.delenv(ENDPOINTS_ENV)  # the CLI's user names the endpoint themself: it gets the key
    OpenAIChat(attacker.url, "m", retries=0).post("/chat/completions", {})
    assert attacker.requests[-1][1]["authorization"] == f"Bearer {SERVER_KEY}"
    attacker.requests.clear()


# --- 2. pages on other sites cannot drive the server ----------------------------------------------------------


SECURITY_HEADERS = {
    "x-frame-options": "DENY",
    "x-content-type-options": "nosniff",
    "referrer-policy": "same-origin",
}


@pytest.mark.parametrize("host", ["evil.example", "evil.example:80", "127.0.0.1.evil.example", "localhost.evil"])
def test_a_foreign_host_header_is_refused(server, host):
    reply = httpx.get(server.url + "/api/v1/videos", headers={"host": host})
    assert reply.status_code == 421, reply.text
    assert "Host" in reply.json()["detail"]
    assert reply.headers["x-frame-options"] == "DENY"


@pytest.mark.parametrize("host", ["127.0.0.1", "localhost", "[::1]", "oddsight.lan", "LOCALHOST:1234"])
def test_the_servers_own_names_are_accepted(server, host):
    assert httpx.get(server.url + "/api/v1/videos", headers={"host": host}).status_code == 200


def _cross_site(server) -> list[tuple[str, str, dict]]:
    evil = "http://evil.example"
    return [
        ("POST", "/api/v1/analyses", {"origin": evil}),
        ("POST", "/api/v1/analyses", {"origin": "null"}),
        ("POST", "/api/v1/analyses", {"origin": server.url.replace("127.0.0.1", "localhost")}),
        ("POST", "/api/v1/videos/register", {"referer": evil + "/page"}),
        ("DELETE", "/api/v1/videos/nope", {"origin": evil}),
        ("PATCH", "/api/v1/events/nope", {"origin": evil}),
        ("POST", "/api/v1/imports", {"sec-fetch-site": "cross-site"}),
        ("POST", "/api/v1/imports", {"sec-fetch-site": "same-site"}),
        ("POST", "/login", {"origin": evil}),
    ]


def test_state_changing_requests_from_other_origins_are_refused(server, api):
    jobs = len(api.get("/jobs").json())
    for method, path, headers in _cross_site(server):
        reply = httpx.request(method, server.url + path, headers=headers, json={})
        assert reply.status_code == 403, (method, path, headers, reply.text)
        assert "own pages" in reply.json()["detail"]
    assert len(api.get("/jobs").json()) == jobs


def test_a_cross_site_multipart_upload_without_origin_is_refused(server, api, media):
    before = len(api.get("/videos").json())
    with open(media / "clip.mp4", "rb") as f:
        reply = httpx.post(
            server.url + "/api/v1/videos",
            files={"file": ("x.mp4", f, "video/mp4")},
            headers={"sec-fetch-site": "cross-site", "sec-fetch-mode": "no-cors"},
        )
    assert reply.status_code == 403, reply.text
    assert len(api.get("/videos").json()) == before


def test_same_origin_and_non_browser_requests_pass(server, api, video_id):
    own = {"origin": server.url, "sec-fetch-site": "same-origin"}
    reply = httpx.post(server.url + "/api/v1/videos/register", json={"path": "clip.mp4"}, headers=own)
    assert reply.status_code == 200 and reply.json()["id"] == video_id
    referer = {"referer": server.url + "/#videos"}
    assert httpx.post(server.url + "/api/v1/jobs/nope/cancel", headers=referer).status_code == 404
    assert api.post("/jobs/nope/cancel").status_code == 404  # no Origin, no Referer: curl, scripts


@pytest.mark.parametrize("path", ["/", "/api/v1/health", "/api/v1/videos/nope", "/static/app.js", "/docs"])
def test_every_reply_carries_the_security_headers(server, path):
    reply = httpx.get(server.url + path)
    for name, value in SECURITY_HEADERS.items():
        assert reply.headers.get(name) == value, (path, name)
    assert "frame-ancestors 'none'" in reply.headers["content-security-policy"]


@pytest.fixture(scope="module")
def token_server(tmp_path_factory, media):
    data = tmp_path_factory.mktemp("token") / "data"
    with Server(data, [media], "--workers", "0", token="pässwörd-ü") as srv:
        yield srv


def _login(srv: Server, token: str, client: str = "127.0.0.1") -> httpx.Response:
    return httpx.post(srv.url + "/login", data={"token": token}, follow_redirects=False)


def test_a_non_ascii_token_works_as_a_bearer_header(token_server):
    good = {"authorization": "Bearer pässwörd-ü".encode()}
    assert httpx.get(token_server.url + "/api/v1/videos", headers=good).status_code == 200
    latin = {"authorization": "Bearer pässwörd-ü".encode("latin-1")}
    assert httpx.get(token_server.url + "/api/v1/videos", headers=latin).status_code == 401


def test_sessions_are_random_expire_on_logout_and_are_strict(token_server):
    first, second = _login(token_server, "pässwörd-ü"), _login(token_server, "pässwörd-ü")
    assert first.status_code == second.status_code == 303
    cookie = first.headers["set-cookie"].lower()
    assert "httponly" in cookie and "samesite=strict" in cookie and "max-age=43200" in cookie
    one, two = first.cookies["oddsight_session"], second.cookies["oddsight_session"]
    assert one != two and len(one) >= 40
    videos = token_server.url + "/api/v1/videos"
    assert httpx.get(videos, cookies={"oddsight_session": one}).status_code == 200
    out = httpx.post(token_server.url + "/logout", cookies={"oddsight_session": one}, follow_redirects=False)
    assert out.status_code == 303 and 'oddsight_session=""' in out.headers["set-cookie"]
    assert httpx.get(videos, cookies={"oddsight_session": one}).status_code == 401
    assert httpx.get(videos, cookies={"oddsight_session": two}).status_code == 200
    assert httpx.get(videos, cookies={"oddsight_session": "forged"}).status_code == 401


def test_wrong_tokens_are_throttled(tmp_path, media):
    with Server(tmp_path / "data", [media], "--workers", "0", token="right-token") as srv:
        for _ in range(5):
            assert _login(srv, "wrong").status_code == 401
        assert _login(srv, "wrong").status_code == 429
        assert _login(srv, "right-token").status_code == 429  # even the right one, for a minute
        bad = {"authorization": "Bearer wrong"}
        assert httpx.get(srv.url + "/api/v1/videos", headers=bad).status_code == 429
        assert httpx.get(srv.url + "/api/v1/health").status_code == 200


@pytest.mark.parametrize(("token", "words"), [("", "is empty"), ("   ", "is empty"), ("a\nb", "control")])
def test_an_unusable_token_is_refused_at_start(tmp_path, token, words):
    cmd = oddsight("serve", "--port", str(free_port()), "--data", str(tmp_path / "data"), "--token", token)
    run = subprocess.run(cmd, capture_output=True, text=True, timeout=60, env={**os.environ, "PYTHONUNBUFFERED": "1"})
    assert run.returncode != 0 and words in run.stderr and "Traceback" not in run.stderr, run.stderr
    assert run.stderr.count("\n") <= 2


# --- 3. every server-side path is held to --media -----------------------------------------------------------


def _result_document(source: str) -> dict:
    event = {"start_frame": 0, "end_frame": 5, "start_s": 0.0, "end_s": 0.5, "peak_frame": 2, "peak_s": 0.2}
    return {
        "schema_version": 1,
        "video": {"source": source, "kind": "file", "width": 96, "height": 64, "fps": 10.0},
        "method": "novelty",
        "model": "motion",
        "threshold": 1.0,
        "events": [{**event, "peak_score": 2.0, "mean_score": 1.5}],
        "warnings": [],
        "frame_scores": [0.5] * 30,
    }


def test_an_imported_result_cannot_register_or_serve_a_file_outside_media(api, media, outside):
    folder = media / "imported"
    folder.mkdir()
    (folder / "r.json").write_text(json.dumps(_result_document(str(outside / "private.mp4"))))
    reply = api.post("/imports", json={"path": "imported"})
    assert reply.status_code == 200 and reply.json()["imported"] == 1, reply.text
    assert all("private" not in v["name"] for v in api.get("/videos").json())
    result_id = reply.json()["result_ids"][0]
    assert api.get(f"/results/{result_id}").json()["video"]["source"].endswith("private.mp4")
    event = api.get("/events", params={"result_id": result_id}).json()[0]
    assert event["video_id"] is None
    for what in ("thumbnail.jpg", "clip.mp4"):
        assert api.get(f"/events/{event['id']}/{what}").status_code == 403


def test_outside_paths_get_one_answer_whether_or_not_they_exist(api, outside):
    replies = []
    for path in (str(outside / "private.mp4"), str(outside / "missing.mp4"), "/etc/passwd", "/etc/nothing-here"):
        reply = api.post("/videos/register", json={"path": path})
        replies.append((reply.status_code, reply.json()["detail"].replace(path, "PATH")))
    assert len(set(replies)) == 1 and replies[0] == (403, "PATH: outside every --media folder"), replies


@pytest.mark.parametrize(
    "option",
    [{"captioner": "hf:/etc"}, {"captioner": "hf:../../x"}, {"captioner": "hf:./models/blip"}, {"captions": "/etc/x"}],
)
def test_model_folders_and_files_are_held_to_media(api, video_id, option):
    reply = api.post("/analyses", json={"video_id": video_id, "method": "lavad", **option})
    assert reply.status_code in (403, 404), reply.text
    assert "--media" in reply.json()["detail"]


def test_a_path_longer_than_4096_is_a_4xx(api):
    reply = api.post("/videos/register", json={"path": "a/" * 3000})
    assert reply.status_code == 422 and "4096" in reply.json()["detail"]


# --- 4. credentials in URLs are never shown --------------------------------------------------------------


@pytest.mark.parametrize(
    "param", ["pwd", "password", "passwd", "token", "key", "apikey", "auth", "secret", "sig", "PASSWORD", "api_key"]
)
def test_secret_query_parameters_are_redacted(param):
    text = f"cannot open rtsp://cam/stream?user=admin&{param}=hunter2x&channel=1 (timeout)"
    shown = redact_urls(text)
    assert "hunter2x" not in shown and "admin" not in shown and "channel=1" in shown, shown
    assert redact_urls("mqtt://u:p4ss@broker/x") == "mqtt://***@broker/x"
    assert redact_value({"a": ["webhook:https://h/x?token=t0k"], "n": 1}) == {
        "a": ["webhook:https://h/x?token=***"],
        "n": 1,
    }


def test_a_camera_url_with_a_password_in_its_query_is_never_shown(server, api):
    url = "rtsp://127.0.0.1:9/stream?user=admin&pwd=hunter2x"
    alerts = ["mqtt://bob:mqttpass9@127.0.0.1:9/site", "webhook:http://127.0.0.1:9/hook?token=hooktok7"]
    reply = api.post("/cameras", json={"url": url, "alerts": alerts, "model": "motion", "threshold": 1.0})
    assert reply.status_code == 201, reply.text
    camera = reply.json()
    assert camera["id"] == camera["name"] and camera["id"].startswith("127.0.0.1_9_stream")
    deadline = time.monotonic() + 30  # until the camera's process has tried (port 9: nothing listens) and reported
    while time.monotonic() < deadline and api.get(f"/cameras/{camera['id']}").json()["state"] == "starting":
        time.sleep(0.3)
    texts = (reply.text, api.get("/cameras").text, api.get(f"/cameras/{camera['id']}").text, server.log.read_text())
    for text in texts:
        for secret in ("hunter2x", "mqttpass9", "hooktok7", "admin"):
            assert secret not in text, text
    assert [p.name for p in (server.data / "cameras").iterdir()] == [camera["id"]]
    assert api.delete(f"/cameras/{camera['id']}").status_code == 204


# --- 5. cameras open only the documented sources ----------------------------------------------------------


@pytest.mark.parametrize(
    "url",
    [
        "tcp://127.0.0.1:9",
        "udp://127.0.0.1:9",
        "rtmp://127.0.0.1/live/x",
        "srt://127.0.0.1:9",
        "file:/etc/passwd",
        "file:///etc/passwd",
        "concat:/etc/passwd|/etc/hosts",
        "subfile,,start,0,end,0,,:/etc/passwd",
        "data:text/plain,hello",
        "ftp://h/cam",
        "http://127.0.0.1:9/cam.mjpg?listen=1",
        "rtsp://127.0.0.1:9/cam?listen=1",
        "rtsp:///cam",
        "/dev/video0x",
        "/dev/sda",
    ],
)
def test_camera_sources_outside_the_documented_schemes_are_refused(api, url):
    reply = api.post("/cameras", json={"url": url, "model": "motion"})
    assert reply.status_code in (403, 404, 422), (url, reply.text)
    detail = reply.json()["detail"]
    assert (
        "rtsp://, rtsps://, http(s)://" in detail
        or "listen" in detail
        or "--media" in detail
        or "/dev/videoN" in detail
    )
    assert api.get("/cameras").json() == []


SDP = (
    "v=0\no=- 0 0 IN IP4 127.0.0.1\ns=x\nc=IN IP4 127.0.0.1\nt=0 0\nm=video {port} RTP/AVP 96\na=rtpmap:96 H264/90000\n"
)


@pytest.mark.parametrize("reader", ["file reader", "camera reader"])
def test_an_allowed_scheme_cannot_lead_ffmpeg_to_other_protocols(reader):
    """An http:// camera URL is allowed, but what it serves may not open more: an SDP file would make FFmpeg bind
    a UDP port and listen (it does without the protocol allow-list)."""
    from oddsight.errors import StreamError
    from oddsight.live.stream import LiveStream
    from oddsight.video.sampling import Sampling
    from oddsight.video.source import open_source

    udp_port = free_port()
    body = SDP.format(port=udp_port).encode()

    class Sdp(BaseHTTPRequestHandler):
        def do_GET(self):
            self.send_response(200)
            self.send_header("Content-Type", "application/sdp")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    http = ThreadingHTTPServer(("127.0.0.1", 0), Sdp)
    threading.Thread(target=http.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{http.server_port}/cam.sdp"
    try:
        if reader == "file reader":
            with pytest.raises(StreamError, match="cannot open stream"):
                next(iter(open_source(url).frames(Sampling(fps=2.0))))
        else:
            import av

            with pytest.raises(av.error.FFmpegError):  # without the allow-list: an open sdp container
                LiveStream(url, open_timeout_s=3.0)._open()
    finally:
        http.shutdown()


# --- 8. CSV exports open safely in a spreadsheet -----------------------------------------------------------

FORMULAS = ['=HYPERLINK("http://evil")', "+1+2", "-2+3", "@SUM(A1)", "\tx", "\rx"]


@pytest.mark.parametrize("note", FORMULAS)
def test_exported_csv_cells_never_start_a_formula(api, media, note):
    index = FORMULAS.index(note)
    folder = media / f"formula-{index}"
    folder.mkdir()
    document = {**_result_document(str(media / "clip.mp4")), "threshold": 1.0 + index}  # not a duplicate
    (folder / "r.json").write_text(json.dumps(document))
    result_id = api.post("/imports", json={"path": folder.name}).json()["result_ids"][0]
    event = api.get("/events", params={"result_id": result_id}).json()[0]
    assert api.patch(f"/events/{event['id']}", json={"note": note}).status_code == 200
    text = api.get("/events", params={"result_id": result_id, "format": "csv"}).text
    row = next(csv.DictReader(io.StringIO(text, newline="")))
    assert row["note"] == "'" + note and row["peak_score"] == "2.0"


def test_the_cli_events_csv_uses_the_same_guard(tmp_path):
    from oddsight.report.files import EVENT_COLUMNS, csv_row

    row = csv_row({"video": "=cmd|' /C calc'!A0", "event": 1, "peak_score": -1.5, "label": "ok"}, EVENT_COLUMNS)
    assert row["video"] == "'=cmd|' /C calc'!A0" and row["peak_score"] == -1.5 and row["label"] == "ok"
    assert row["reason"] == ""


# --- 6. resource bounds and strict input ---------------------------------------------------------------------


def test_an_upload_with_huge_frames_is_refused_before_decoding(api, server, tmp_path):
    wide = make_video(tmp_path / "wide.mp4", n_frames=2, fps=10, size=(8200, 16), codec="libx264")
    uploads = sorted((server.data / "uploads").iterdir())
    with open(wide, "rb") as f:
        reply = api.post("/videos", files={"file": ("wide.mp4", f, "video/mp4")})
    assert reply.status_code == 400 and "8200x16" in reply.json()["detail"], reply.text
    assert "8192" in reply.json()["detail"]
    assert sorted((server.data / "uploads").iterdir()) == uploads  # no orphan file


@pytest.mark.parametrize(
    ("path", "body", "words"),
    [
        ("/cameras", {"url": "rtsp://127.0.0.1:9/c", "alerts": ["webhook:http://127.0.0.1:9/h"] * 17}, "at most 16"),
        ("/cameras", {"url": "rtsp://127.0.0.1:9/c", "realtime": "no"}, "realtime must be true or false"),
        ("/cameras", {"url": "rtsp://127.0.0.1:9/c", "realtime": 1}, "realtime must be true or false"),
        ("/detectors", {"video_ids": ["x"] * 1001}, "video_ids"),
        ("/detectors", {"video_ids": ["VID"], "model": "no-such-model"}, "no-such-model"),
        ("/evaluations", {"dataset": "csv", "root": ".", "iou": 5}, "iou must be <= 1"),
        ("/evaluations", {"dataset": "csv", "root": ".", "end_exclusive": "no"}, "end_exclusive"),
        ("/evaluations", {"dataset": "csv", "root": ".", "csv_units": "hours"}, "csv_units"),
    ],
)
def test_bad_submissions_are_refused_at_once(api, video_id, path, body, words):
    jobs, cameras = len(api.get("/jobs").json()), api.get("/cameras").json()
    body = json.loads(json.dumps(body).replace("VID", video_id))
    reply = api.post(path, json=body)
    assert 400 <= reply.status_code < 500 and words in reply.json()["detail"], reply.text
    assert len(api.get("/jobs").json()) == jobs and api.get("/cameras").json() == cameras


def test_duplicate_video_ids_count_once(api, video_id):
    reply = api.post("/detectors", json={"video_ids": [video_id] * 5, "model": "motion"})
    assert reply.status_code == 202, reply.text
    job = api.get(f"/jobs/{reply.json()['job_id']}").json()
    assert job["options"]["video_ids"] == [video_id]
    api.post(f"/jobs/{job['id']}/cancel")


def test_out_of_range_numbers_and_bad_text_are_4xx_not_500(api):
    assert api.get("/events", params={"offset": 10**24}).status_code == 422
    assert api.get("/events", params={"limit": -(10**24)}).status_code == 422
    json_header = {"content-type": "application/json"}
    for path, raw in (
        ("/events/x", b'{"note": "\\ud800"}'),
        ("/analyses", b'{"video_id": "\\ud800"}'),
        ("/cameras", b'{"url": "rtsp://127.0.0.1:9/\\ud800", "model": "motion", "name": "s"}'),
        ("/cameras", b'{"url": "\\udcff.mp4"}'),
        ("/videos/register", b'{"path": "\\udcff.mp4"}'),
        ("/evaluations", b'{"dataset": "csv", "root": "\\ud800"}'),
    ):
        reply = api.request("PATCH" if path.startswith("/events") else "POST", path, content=raw, headers=json_header)
        assert 400 <= reply.status_code < 500, (path, reply.text)
    assert api.get("/cameras").json() == []


# --- 7. faults at start ------------------------------------------------------------------------------------------


def _serve(data: Path, *args: str) -> subprocess.CompletedProcess:
    cmd = oddsight("serve", "--port", str(free_port()), "--data", str(data), *args)
    return subprocess.run(cmd, capture_output=True, text=True, timeout=60, env={**os.environ, "PYTHONUNBUFFERED": "1"})


def test_a_second_server_on_the_same_data_folder_stops_with_one_line(server):
    run = _serve(server.data)
    assert run.returncode != 0 and "another oddsight server uses this folder" in run.stderr, run.stderr
    assert "Traceback" not in run.stderr and run.stderr.count("\n") == 1
    assert httpx.get(server.url + "/api/v1/health").status_code == 200  # the first one goes on


def test_a_data_folder_that_cannot_be_made_is_one_line(tmp_path):
    (tmp_path / "afile").write_text("x")
    run = _serve(tmp_path / "afile" / "data")
    assert run.returncode != 0 and "cannot write there" in run.stderr and "Traceback" not in run.stderr, run.stderr
