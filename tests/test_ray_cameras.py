"""`serve --ray` against a real two-node Ray cluster started here on 127.0.0.1 (`ray start --head` and a second
`ray start --address`): four RTSP cameras (GStreamer's server, a real UCF-Crime fight) spread over both nodes; a
`kill -9` of the second node's raylet moves its cameras to the head within 30 s with the outage recorded; every
event is stored once and alerted (`new`) once, by the server.

Ray's own defaults decide when the node is dead (measured here: the cameras ran again on the head 16.6 s after
the kill; 5.1 s with health checks each second). Runs in real time: about a minute.
"""

from __future__ import annotations

import collections
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.server_process import Server, free_port, until

RAY = Path(sys.executable).with_name("ray")
CAMERAS = 4


@pytest.fixture
def two_nodes(tmp_path_factory):
    """A head node and a second node (its raylet on a port we know), 2 CPUs each; stopped after the test."""
    if not RAY.exists():
        if os.environ.get("CI") == "true":
            pytest.fail("ray is missing: scripts/install.sh all installs the [ray] extra")
        pytest.skip("ray is not installed")
    port, raylet_port = free_port(), free_port()
    temp = tmp_path_factory.mktemp("ray")  # short: Ray's socket paths live under it
    env = {**os.environ, "RAY_USAGE_STATS_ENABLED": "0"}
    common = ["--num-cpus", "2", "--node-ip-address", "127.0.0.1", "--disable-usage-stats"]
    head = [str(RAY), "start", "--head", "--port", str(port), "--include-dashboard=false", f"--temp-dir={temp}"]
    second = [str(RAY), "start", "--address", f"127.0.0.1:{port}", "--node-manager-port", str(raylet_port)]
    try:
        subprocess.run(head + common, check=True, capture_output=True, env=env, timeout=180)
        subprocess.run(second + common, check=True, capture_output=True, env=env, timeout=180)
        yield f"127.0.0.1:{port}", raylet_port
    finally:
        subprocess.run([str(RAY), "stop", "--force"], capture_output=True, env=env, timeout=120)


def _raylet_pid(raylet_port: int) -> int:
    out = subprocess.run(["pgrep", "-f", f"raylet.*--node_manager_port={raylet_port}"], capture_output=True, text=True)
    pids = [int(p) for p in out.stdout.split()]
    assert len(pids) == 1, f"one raylet on port {raylet_port} expected, found {pids}"
    return pids[0]


def _nodes(c) -> dict[str, str]:
    rows = c.get("/cameras").json()
    return {r["id"]: (r.get("status") or {}).get("node") for r in rows if r["state"] == "running"}


def _all_running(nodes: dict[str, str], on_nodes: int | None = None) -> dict[str, str] | None:
    """camera -> node when every camera runs (on ``on_nodes`` nodes, if given)."""
    if len(nodes) != CAMERAS or on_nodes not in (None, len(set(nodes.values()))):
        return None
    return nodes


def _anomalies(c, camera_id: str, state: str | None = None) -> list[dict]:
    events = c.get(f"/cameras/{camera_id}/events").json()
    return [e for e in events if e["kind"] == "anomaly" and state in (None, e["state"])]


def test_cameras_spread_over_a_ray_cluster_and_move_when_a_node_dies(two_nodes, rtsp, webhook, tmp_path):
    address, raylet_port = two_nodes
    hook, got = webhook
    srv = Server(tmp_path / "data", [], "--workers", "0", "--ray", address).start(timeout=120)
    try:
        c = srv.client()
        for i in range(CAMERAS):  # one source each (another login to the same server), alerts to our receiver
            url = rtsp.url.replace("rtsp://", f"rtsp://viewer{i}:x@")
            body = {"url": url, "name": f"cam{i}", "threshold": 1.0, "alerts": [f"webhook:{hook}"]}
            assert c.post("/cameras", json=body).status_code == 201
        placed = until("all cameras running", lambda: _all_running(_nodes(c)), 120)
        assert len(set(placed.values())) == 2, f"the cameras should use both nodes: {placed}"

        # kill -9 of the second node's raylet: its cameras come back on the head within 30 s, the gap an outage
        os.kill(_raylet_pid(raylet_port), signal.SIGKILL)
        killed_at = time.monotonic()
        moved = until("every camera running on one node", lambda: _all_running(_nodes(c), on_nodes=1), 60)
        took = time.monotonic() - killed_at
        survivor = next(iter(moved.values()))
        lost = [cid for cid, node in placed.items() if node != survivor]
        assert lost
        print(f"cameras {lost} moved in {took:.1f} s")
        assert took < 30, f"the cameras took {took:.1f} s to move"
        for cid in lost:
            outages = c.get(f"/cameras/{cid}").json()["outages"]
            assert outages and outages[0]["s"] > 0, f"{cid}: no outage recorded"
        for cid in set(placed) - set(lost):
            assert c.get(f"/cameras/{cid}").json()["outages"] == []

        # the fight (19-28 s of the stream, which starts over for a camera that reconnects): every camera's events
        until("an ended anomaly on every camera", lambda: all(_anomalies(c, cid, "ended") for cid in placed), 120, 2)
        time.sleep(3)  # alerts go out from the server's channels: let the last ones arrive
        stored = {e["id"] for cid in placed for e in _anomalies(c, cid)}
        ended = {e["id"] for cid in placed for e in _anomalies(c, cid, "ended")}
        new = collections.Counter(p["event"]["id"] for p, _, _ in got if p["type"] == "new")
        assert new and max(new.values()) == 1, f"an event alerted twice: {new}"
        assert set(new) <= stored, "an alert for an event the store does not have"
        assert ended <= set(new), "an anomaly stored but never alerted"
        assert {p["camera"] for p, _, _ in got} <= set(placed)

        # a camera deleted: its actor stopped (its state written last) and gone; the others go on
        assert c.delete("/cameras/cam0").status_code == 204
        assert c.get("/cameras/cam0").status_code == 404
        assert set(until("three cameras running", lambda: _nodes(c) if len(_nodes(c)) == 3 else None, 30)) == {
            "cam1",
            "cam2",
            "cam3",
        }
    finally:
        srv.stop()


def test_an_actor_holds_a_bounded_number_of_heartbeats_for_a_server_that_does_not_poll(monkeypatch):
    """Heartbeats past the bound go, oldest first, their outages carried on to the next; events and states stay."""
    from oddsight.server import ray_cameras

    monkeypatch.setattr(ray_cameras, "QUEUED_REPORTS", 5)
    link = ray_cameras._ActorLink({"id": "cam"}, "node-1")
    link.event_message("cam", {"type": "new"})
    for beat in range(12):
        outages = [{"from": beat, "to": beat + 1, "s": 1.0}] if beat in (0, 3) else []
        link.report("cam", {"beat": beat}, [[beat, 0.0, 0.1, 0.1]], outages, "running")
    link.set_state("cam", "failed", "gone")
    taken = [json.loads(data) for data in link.take(None, 0.0)]
    reports = [args for name, args in taken if name == "report"]
    assert [r[1]["beat"] for r in reports] == [7, 8, 9, 10, 11] and link.dropped_reports == 7
    assert [o["from"] for o in reports[0][3]] == [0, 3]  # the dropped ones' outages, on the oldest kept
    assert reports[0][1]["node"] == "node-1"
    assert [name for name, _ in taken if name != "report"] == ["event_message", "set_state"]
    link.report("cam", {"beat": 12}, [], [], "running")  # the count starts over once the server polls
    assert len(link.take(None, 0.0)) == 1 and link.dropped_reports == 7
