"""The control plane of ``serve --ray``: the server's own CPU with N simulated cameras on a real local Ray cluster.

A simulated camera is a camera actor whose run publishes synthetic scores (``--fps`` a second, a heartbeat each
second as a real camera's) and an anomaly event (new, update, end, alerted through a webhook the server posts to a
local receiver) every ``--event-every`` seconds, instead of decoding and scoring video. So what is measured is the
server's side alone: the poller that long-polls every actor, the one store writer (SQLite), the alert channels.

For each N: cameras per node (where Ray placed them), the server process's CPU (its process time over the
window: the poller, the writer, Ray's driver threads), scores written per second, the age of each camera's newest
heartbeat in the store when looked at every 2 s (an actor makes one each second, so up to 1 s is no delay), and
whether every event was alerted exactly once.

    .venv/bin/python benchmarks/bench_ray_cameras.py [--cameras 10,50] [--seconds 60] [--nodes 2]
"""

from __future__ import annotations

import argparse
import collections
import http.server
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any, ClassVar

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
RAY = Path(sys.executable).with_name("ray")

from tests.server_process import free_port  # noqa: E402


def synthetic_camera(link: Any, row: dict[str, Any], stopped: threading.Event) -> None:
    """A camera actor's run that only publishes: scores, heartbeats, and an event every row['event_every'] s."""
    import random

    from oddsight.temporal.events import Event

    camera_id, fps = row["id"], row["fps"]
    every = float(row["options"].get("event_every", 30.0))
    link.set_state(camera_id, "starting", None, os.getpid())
    start, beat, n, scores = time.time(), time.time(), 0, []
    rng = random.Random(camera_id)
    phase = rng.uniform(0, every)
    while not stopped.wait(1.0 / fps):
        now = time.time()
        t = now - start
        scores.append((now, t, rng.random(), rng.random()))
        if now - beat >= 1.0:
            status = {"stream": {"connected": True, "sampled": n}, "made": now}
            link.report(camera_id, status, scores, [], "running")
            beat, scores = now, []
        n += 1
        k = int((t + phase) // every)
        if k > 0 and int((t + phase - 1.0 / fps) // every) < k:  # an event opens, then updates and ends
            ev = Event(n, n + 6, t, t + 3, n + 3, t + 1.5, 2.0, 1.5, id=f"{camera_id}-{k}")
            for kind in ("new", "update", "end"):
                payload = {"type": kind, "camera": camera_id, "time": round(now, 3), "event": ev.to_dict()}
                link.event_message(camera_id, payload)
                link.put("alert", [payload])
    link.set_state(camera_id, "stopped")


class Receiver(http.server.BaseHTTPRequestHandler):
    got: ClassVar[list[dict]] = []

    def do_POST(self) -> None:
        Receiver.got.append(json.loads(self.rfile.read(int(self.headers["Content-Length"]))))
        self.send_response(204)
        self.end_headers()

    def log_message(self, *args: object) -> None:
        return None


def start_cluster(nodes: int, cpus: int) -> tuple[str, dict[str, str]]:
    env = {**os.environ, "RAY_USAGE_STATS_ENABLED": "0"}
    port = free_port()
    common = ["--num-cpus", str(cpus), "--node-ip-address", "127.0.0.1", "--disable-usage-stats"]
    subprocess.run(
        [str(RAY), "start", "--head", "--port", str(port), "--include-dashboard=false", *common],
        check=True,
        capture_output=True,
        env=env,
    )
    for _ in range(nodes - 1):
        subprocess.run([str(RAY), "start", "--address", f"127.0.0.1:{port}", *common], check=True, capture_output=True)
    return f"127.0.0.1:{port}", env


def run(address: str, cameras: int, seconds: float, fps: float, event_every: float, hook: str) -> dict:
    from oddsight.server.camera_store import CameraStore
    from oddsight.server.ray_cameras import RayCameras
    from oddsight.server.store import Store

    Receiver.got = []
    with tempfile.TemporaryDirectory() as tmp:
        store = Store(Path(tmp))
        table = CameraStore(store)
        for i in range(cameras):
            row = {"name": f"sim{i}", "url": f"rtsp://127.0.0.1/sim{i}", "options": {"event_every": event_every}}
            row |= {"fps": fps, "warmup_s": 0.0, "realtime": False, "alerts": [f"webhook:{hook}"], "cooldown_s": 0.0}
            table.add(row)
        supervisor = RayCameras(store, address, cpus=0.01, body=synthetic_camera)
        supervisor.start()
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            if sum(r["state"] == "running" for r in table.cameras()) == cameras:
                break
            time.sleep(0.5)
        with store.read() as con:
            scores0 = con.execute("SELECT COUNT(*) FROM camera_scores").fetchone()[0]
        cpu0, wall0, got0 = time.process_time(), time.monotonic(), len(Receiver.got)
        delays: list[float] = []
        while time.monotonic() - wall0 < seconds:
            time.sleep(2.0)
            now = time.time()
            delays += [now - r["status"]["made"] for r in table.cameras() if r["status"].get("made")]
        cpu, wall = time.process_time() - cpu0, time.monotonic() - wall0
        rows = table.cameras()
        with store.read() as con:
            scores = con.execute("SELECT COUNT(*) FROM camera_scores").fetchone()[0] - scores0
            events = con.execute("SELECT COUNT(*) FROM camera_events").fetchone()[0]
        supervisor.stop()
        time.sleep(1.0)
        nodes = collections.Counter(r["status"].get("node", "?")[:8] for r in rows)
        new = collections.Counter(p["event"]["id"] for p in Receiver.got if p["type"] == "new")
        delays.sort()
        return {
            "cameras": cameras,
            "per_node": sorted(nodes.values(), reverse=True),
            "server_cpu_pct": 100 * cpu / wall,
            "scores_per_s": scores / wall,
            "alerts_per_s": (len(Receiver.got) - got0) / wall,
            "heartbeat_delay_p50": delays[len(delays) // 2] if delays else float("nan"),
            "heartbeat_delay_max": delays[-1] if delays else float("nan"),
            "events": events,
            "alerted_once": bool(new) and max(new.values()) == 1 and len(new) == events,
        }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--cameras", default="10,50", help="camera counts to try, in order")
    parser.add_argument("--seconds", type=float, default=60.0, help="measured seconds per count")
    parser.add_argument("--nodes", type=int, default=2, help="Ray nodes started on this machine")
    parser.add_argument("--fps", type=float, default=2.0, help="scores per second per camera")
    parser.add_argument("--event-every", type=float, default=30.0, help="seconds between a camera's events")
    args = parser.parse_args()
    if not RAY.exists():
        sys.exit("ray is missing: bash scripts/install.sh all")
    address, env = start_cluster(args.nodes, 2)
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Receiver)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    hook = f"http://127.0.0.1:{server.server_address[1]}/hook"
    print(f"{os.cpu_count()} CPUs; Ray at {address}, {args.nodes} node(s); {args.fps:g} scores/s per camera")
    print("cameras | per node | server CPU | scores/s | alerts/s | newest heartbeat age p50 / max | alerted once")
    try:
        for n in [int(x) for x in args.cameras.split(",")]:
            r = run(address, n, args.seconds, args.fps, args.event_every, hook)
            print(
                f"{r['cameras']:7d} | {'/'.join(map(str, r['per_node'])):8s} | {r['server_cpu_pct']:8.1f} % "
                f"| {r['scores_per_s']:8.0f} | {r['alerts_per_s']:8.2f} | "
                f"{r['heartbeat_delay_p50']:.2f} / {r['heartbeat_delay_max']:.2f} s | {r['alerted_once']} "
                f"({r['events']} events)",
                flush=True,
            )
    finally:
        import ray

        ray.shutdown()
        server.shutdown()
        subprocess.run([str(RAY), "stop", "--force"], capture_output=True, env=env)


if __name__ == "__main__":
    main()
