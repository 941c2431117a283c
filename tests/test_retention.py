"""Bounded disk: a camera's clips, snapshots, kept frames and logs held under size and age limits while it runs
(the oldest go first), and a server's camera events by age."""

from __future__ import annotations

import os
import shutil
import time

import pytest

from oddsight.errors import ConfigError
from oddsight.live.engine import make_engine
from oddsight.live.monitor import Monitor
from oddsight.live.retention import Limit, Retention
from oddsight.options import DetectOptions
from tests.conftest import make_video


def _old_clips(folder, source, n: int) -> list:
    """``n`` real clips (copies of ``source``) in ``folder``, the first the oldest (a day apart)."""
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for i in range(n):
        path = folder / f"yard-old-{i}.mp4"
        shutil.copy(source, path)
        stamp = time.time() - (n - i) * 86400
        os.utime(path, (stamp, stamp))
        paths.append(path)
    return paths


def test_the_oldest_clips_go_under_a_size_cap_while_the_camera_runs(tmp_path):
    video = make_video(tmp_path / "cam.mp4", 300, fps=10, size=(160, 120), anomaly=range(200, 225), codec="libx264")
    size = video.stat().st_size
    old = _old_clips(tmp_path / "clips" / "yard", video, 6)
    cap = int(3.5 * size)  # room for three of them
    limits = Retention.parse(f"clips={cap}B/0")
    engine = make_engine(DetectOptions.parse({"threshold": 1.5}).to_config(), warmup_s=0, camera="yard")
    monitor = Monitor(str(video), engine, 2.0, out=tmp_path / "clips", camera="yard", retention=limits)
    monitor.run()
    assert [p.exists() for p in old] == [False, False, False, True, True, True]  # oldest first
    assert monitor.disk["clips"] <= cap and monitor.status()["disk"]["total"] >= monitor.disk["clips"]
    # the event's own clip is written after the check that ran at the start: the next check holds the cap again
    clips = sorted((tmp_path / "clips" / "yard").glob("*.mp4"))
    assert any(not p.name.startswith("yard-old") for p in clips)
    usage = limits.enforce(tmp_path / "clips" / "yard")
    assert usage["clips"] <= cap


def test_age_limits_and_a_log_over_its_cap_keeps_its_newest_lines(tmp_path):
    folder = tmp_path / "cam"
    folder.mkdir()
    old, new = folder / "a.jpg", folder / "b.jpg"
    for path, age_d in ((old, 10), (new, 1)):
        path.write_bytes(b"\xff\xd8" + b"x" * 1000)
        stamp = time.time() - age_d * 86400
        os.utime(path, (stamp, stamp))
    (folder / "live.jpg").write_bytes(b"\xff\xd8")  # the live picture is never retention's
    log = folder / "events.jsonl"
    log.write_text("".join(f'{{"n": {i}}}\n' for i in range(10_000)))
    usage = Retention.parse("snapshots=0/5d,logs=20KB").enforce(folder)
    assert not old.exists() and new.exists() and (folder / "live.jpg").exists()
    lines = log.read_text().splitlines()
    assert lines[-1] == '{"n": 9999}' and lines[0].startswith('{"n": ') and 5_000 < log.stat().st_size <= 10_000
    assert usage["logs"] == log.stat().st_size and usage["snapshots"] == new.stat().st_size


def test_retention_specs_are_checked():
    spec = Retention.parse("clips=1.5GB/7d,logs=0")
    assert spec.limits["clips"] == Limit(1.5e9, 7 * 86400) and spec.limits["logs"] == Limit(None, None)
    assert spec.limits["snapshots"] == Retention().limits["snapshots"]  # not named: its default
    for bad in ("movies=1GB", "clips=lots", "clips=", "clips=1GB/7 weeks"):
        with pytest.raises(ConfigError):
            Retention.parse(bad)


def test_a_servers_old_camera_events_are_pruned(tmp_path):
    from oddsight.server.camera_store import CameraStore
    from oddsight.server.store import Store

    cams = CameraStore(Store(tmp_path))
    cams.add({"id": "yard", "name": "yard", "url": "rtsp://h/c", "options": {}, "fps": 2.0, "warmup_s": 0.0})
    ev = {"id": "yard-1", "start_frame": 1, "end_frame": 2, "start_s": 0.0, "end_s": 1.0, "peak_s": 0.5}
    ev |= {"peak_score": 2.0}
    cams.event_message("yard", {"type": "end", "time": time.time() - 100 * 86400, "event": ev})
    cams.event_message("yard", {"type": "end", "time": time.time(), "event": {**ev, "id": "yard-2"}})
    assert cams.prune_events("yard", time.time() - 90 * 86400) == 1
    assert [e["id"] for e in cams.events("yard")] == ["yard-2"]


def test_a_servers_uploads_over_their_cap_and_old_results_are_swept(tmp_path):
    from oddsight.server.cleanup import sweep
    from oddsight.server.store import Store
    from tests.test_server_store import DOC

    store = Store(tmp_path / "data")
    uploads = []
    for i in range(3):
        path = tmp_path / f"up{i}.mp4"
        path.write_bytes(b"x" * 1000)
        uploads.append(store.add_video(f"up{i}.mp4", str(path), "upload", {"fps": 10.0}, 1000))
        time.sleep(0.01)  # created one after the other
    kept = tmp_path / "registered.mp4"
    kept.write_bytes(b"x" * 5000)
    store.add_video("registered.mp4", str(kept), "media", {"fps": 10.0}, 5000)  # the operator's: never swept
    store.add_result(DOC, {}, uploads[2]["id"])
    removed = sweep(store, Retention.parse("uploads=2500B"))
    assert removed == {"uploads": 1, "results": 0}
    assert not (tmp_path / "up0.mp4").exists() and (tmp_path / "up1.mp4").exists() and kept.exists()
    assert sorted(v["name"] for v in store.videos() if v["origin"] == "upload") == ["up1.mp4", "up2.mp4"]
    assert sweep(store, Retention.parse("results=180d"), now=time.time() + 200 * 86400)["results"] == 1
    assert store.results() == [] and store.events() == []
