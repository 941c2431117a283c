"""A real ``oddsight serve`` in a subprocess on 127.0.0.1, for the API and browser tests."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx


def oddsight(*args: str) -> list[str]:
    """The command line that runs ``oddsight ARGS`` with this Python."""
    return [sys.executable, "-c", "from oddsight.cli import main; main()", *args]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    """``oddsight serve --data DATA --media ... --port P`` as a child process; ``client`` talks to it."""

    def __init__(
        self, data: Path, media: list[Path], *args: str, token: str | None = None, env: dict | None = None
    ) -> None:
        self.data, self.media, self.args, self.token, self.env = data, media, args, token, env or {}
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.proc: subprocess.Popen | None = None
        self.log = data.parent / f"server-{self.port}.log"

    def start(self, timeout: float = 60) -> Server:
        cmd = oddsight("serve", "--port", str(self.port))
        cmd += ["--data", str(self.data), *[a for m in self.media for a in ("--media", str(m))], *self.args]
        env = {**os.environ, "PYTHONUNBUFFERED": "1", "ODDSIGHT_HOME": str(self.data.parent / "home"), **self.env}
        if self.token:
            env["ODDSIGHT_TOKEN"] = self.token
        with open(self.log, "ab") as log:
            self.proc = subprocess.Popen(cmd, stdout=log, stderr=log, env=env, start_new_session=True)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"server exited {self.proc.returncode}: {self.log.read_text()[-2000:]}")
            try:
                if httpx.get(self.url + "/api/v1/health", timeout=1).status_code == 200:
                    return self
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
        raise RuntimeError(f"server did not start: {self.log.read_text()[-2000:]}")

    def client(self, token: str | None = None) -> httpx.Client:
        headers = {"authorization": f"Bearer {token}"} if token else {}
        return httpx.Client(base_url=self.url + "/api/v1", headers=headers, timeout=60)

    def kill9(self) -> None:
        """``kill -9`` of the server process alone (its workers die with it: PR_SET_PDEATHSIG)."""
        assert self.proc is not None
        os.kill(self.proc.pid, signal.SIGKILL)
        self.proc.wait(10)

    def stop(self) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.send_signal(signal.SIGINT)
        try:
            self.proc.wait(20)
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(5)

    def __enter__(self) -> Server:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def wait_job(client: httpx.Client, job_id: str, timeout: float = 300, until=("done", "failed", "cancelled")) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        job = client.get(f"/jobs/{job_id}").json()
        if job["state"] in until:
            return job
        time.sleep(0.3)
    raise AssertionError(f"job {job_id} still {job['state']} after {timeout} s")


def store_one_hour_result(data: Path) -> str:
    """A 60-minute result (108,000 frame scores at 30 fps, 25 one-frame peaks of 5..29) put straight into the
    store at ``data``; returns its id. For the page-drawing test and benchmark."""
    import numpy as np

    from oddsight.server.store import Store

    rng = np.random.default_rng(0)
    scores = np.abs(rng.normal(0.3, 0.1, 108_000))
    scores[rng.choice(len(scores), 25, replace=False)] = 5.0 + np.arange(25)
    document = {
        "schema_version": 1,
        "video": {"source": "one-hour.mp4", "kind": "file", "width": 640, "height": 360, "fps": 30.0},
        "method": "novelty",
        "model": "motion",
        "threshold": 1.0,
        "events": [],
        "warnings": [],
        "frame_scores": [round(float(s), 6) for s in scores],
    }
    return Store(data).add_result(document, {}, None)


def until(what: str, check, timeout: float, every: float = 0.5):
    """``check()``'s first truthy value, asked every ``every`` s; an AssertionError naming ``what`` at ``timeout``."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(every)
    raise AssertionError(f"timed out after {timeout:g} s waiting for {what}")
