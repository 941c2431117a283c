"""Real servers the live tests start on 127.0.0.1: GStreamer's RTSP server (Debian's gir1.2-gst-rtsp-server-1.0,
under Debian's own Python), Mosquitto (Debian) and an HTTP receiver of webhooks. Their fixtures are registered in
conftest.py."""

from __future__ import annotations

import http.server
import json
import os
import shutil
import socket
import subprocess
import threading
import time
from pathlib import Path
from typing import ClassVar

import pytest

from oddsight.live.alerts import SIGNATURE_HEADER
from tests.conftest import shared_data
from tests.server_process import free_port

FIGHT = "ucf_crime/videos/Fighting033_x264.mp4"  # 37 s; the fight is frames 570-840 (19-28 s)
SYSTEM_PYTHON = "/usr/bin/python3"
SERVER_SCRIPT = Path(__file__).with_name("rtsp_server.py")


def need(condition: bool, what: str) -> None:
    if not condition:
        if os.environ.get("CI") == "true":
            pytest.fail(f"{what} is missing: scripts/install.sh all installs it")
        pytest.skip(f"{what} is not installed")


class RtspServer:
    def __init__(self, video: Path, port: int | None = None) -> None:
        self.video, self.port = video, port or free_port()
        self.url = f"rtsp://127.0.0.1:{self.port}/cam"
        self.proc: subprocess.Popen | None = None

    def start(self) -> RtspServer:
        self.proc = subprocess.Popen(
            [SYSTEM_PYTHON, str(SERVER_SCRIPT), str(self.port), str(self.video)],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        line = self.proc.stdout.readline()  # printed once it listens (the first GStreamer start scans plugins)
        assert line.startswith("rtsp://"), line
        return self

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)


@pytest.fixture
def rtsp():
    need(
        Path(SYSTEM_PYTHON).exists()
        and subprocess.run(
            [SYSTEM_PYTHON, "-c", "import gi; gi.require_version('GstRtspServer', '1.0')"], capture_output=True
        ).returncode
        == 0,
        "Debian's GStreamer RTSP server (gir1.2-gst-rtsp-server-1.0, python3-gi)",
    )
    server = RtspServer(shared_data() / FIGHT).start()
    yield server
    server.stop()


@pytest.fixture
def mosquitto(tmp_path):
    exe = shutil.which("mosquitto") or "/usr/sbin/mosquitto"
    need(Path(exe).exists(), "Mosquitto")
    port = free_port()
    conf = tmp_path / "mosquitto.conf"
    conf.write_text(f"listener {port} 127.0.0.1\nallow_anonymous true\npersistence false\n")
    proc = subprocess.Popen([exe, "-c", str(conf)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                break
        time.sleep(0.1)
    yield port
    proc.kill()
    proc.wait(5)


class Receiver(http.server.BaseHTTPRequestHandler):
    got: ClassVar[list[tuple[dict, str | None, bytes]]] = []

    def do_POST(self) -> None:
        data = self.rfile.read(int(self.headers["Content-Length"]))
        Receiver.got.append((json.loads(data), self.headers.get(SIGNATURE_HEADER), data))
        self.send_response(204)
        self.end_headers()

    def log_message(self, *args) -> None:
        return None


@pytest.fixture
def webhook():
    Receiver.got = []
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Receiver)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}/hook", Receiver.got
    server.shutdown()
