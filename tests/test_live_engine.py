"""The live engine without a network: the event tracker's rules, causal novelty, calibration, and `watch` on a
file (events, snapshots, clips remuxed from packets, the JSONL log and its recovery after a kill)."""

from __future__ import annotations

import itertools
import json
import os
import shutil
import subprocess
import time
from pathlib import Path

import av
import numpy as np
import pytest

from oddsight.live.engine import make_engine
from oddsight.live.monitor import Monitor, camera_name
from oddsight.methods.scorers import CausalNovelty
from oddsight.options import DetectOptions
from oddsight.temporal.events import EventTracker
from tests.conftest import make_video
from tests.server_process import oddsight

SAMPLE = "samples/pedestrians.mp4"


def _run(tracker: EventTracker, scores: list[float], dt: float = 0.5) -> list[tuple[str, int, int]]:
    out = []
    for i, s in enumerate(scores):
        out += [(m.type, m.event.start_frame, m.event.end_frame) for m in tracker.push(i, i * dt, s)]
    out += [(m.type, m.event.start_frame, m.event.end_frame) for m in tracker.close()]
    return out


def test_tracker_reports_after_min_length_and_merges_short_dips():
    t = EventTracker(1.0, frame_s=0.5, hysteresis=0.1, min_event_s=1.0, merge_gap_s=2.0)
    scores = [0, 0, 1.2, 1.3, 1.4, 0.5, 1.5, 1.2, 0, 0, 0, 0, 0, 0, 0, 0]
    assert _run(t, scores) == [("new", 2, 3), ("end", 2, 7)]  # the dip at 5 is shorter than the merge gap


def test_tracker_drops_blips_and_keeps_hysteresis():
    t = EventTracker(1.0, frame_s=0.5, hysteresis=0.2, min_event_s=1.0, merge_gap_s=0.0)
    assert _run(t, [0, 1.1, 0, 0, 0]) == []  # one sample: shorter than the minimum
    t = EventTracker(1.0, frame_s=0.5, hysteresis=0.2, min_event_s=0.5, merge_gap_s=0.0)
    assert _run(t, [0, 1.1, 0.85, 0.85, 0.5, 0]) == [("new", 1, 1), ("end", 1, 3)]  # 0.85 stays above 0.8


def test_tracker_updates_on_a_new_peak_at_most_every_few_seconds():
    t = EventTracker(1.0, frame_s=0.5, min_event_s=0.0, merge_gap_s=0.0, update_every_s=1.0)
    kinds = [m.type for i, s in enumerate([1.1, 1.2, 1.3, 1.4, 1.5, 1.6, 0]) for m in t.push(i, i * 0.5, s)]
    assert kinds == ["new", "update", "update", "end"]


def test_causal_novelty_is_deterministic_and_causal():
    rng = np.random.default_rng(0)
    frames = rng.normal(size=(80, 16 * 16 * 4)).astype(np.float32)
    frames[60:64] += 6.0  # something new
    a, b = CausalNovelty(16, 1.25, memory=32), CausalNovelty(16, 1.25, memory=32)
    sa = [a.score(f, i * 0.5) for i, f in enumerate(frames)]
    sb = [b.score(f, i * 0.5) for i, f in enumerate(frames)]
    assert sa == sb
    assert max(sa[60:64]) > 2 * np.median(sa[30:60])
    c = CausalNovelty(16, 1.25, memory=32)  # the future never changes a past score
    sc = [c.score(f, i * 0.5) for i, f in enumerate(frames[:50])]
    assert sc == sa[:50]


def test_a_file_played_live_scores_as_the_file(tmp_path):
    """The live path (real-time pacing, the dropping queue) and the file path give the same scores."""
    video = make_video(tmp_path / "cam.mp4", 120, fps=10, size=(160, 120), anomaly=range(80, 95), codec="libx264")
    config = DetectOptions.parse({"threshold": 1.5}).to_config()
    played = Monitor(str(video), make_engine(config, warmup_s=0), 2.0, realtime=True)
    t0 = time.monotonic()
    played.run()
    assert time.monotonic() - t0 >= 10  # delivered at its own rate, as a camera would
    read = Monitor(str(video), make_engine(config, warmup_s=0), 2.0)
    read.run()
    assert played.stream.stats.dropped == 0
    assert played.scores == read.scores and len(read.scores) == 24
    assert [m["event"]["start_frame"] for m in played.messages] == [m["event"]["start_frame"] for m in read.messages]


def test_a_scorer_behind_for_a_moment_loses_no_frame_and_one_behind_for_long_stays_within_the_budget(tmp_path):
    """The queue holds LAG_BUDGET_S (1.5 s) of sampled frames: a 1.75 s stall (three frames come meanwhile, which
    the old queue of two dropped one of) loses none; a 4 s stall drops the oldest, and no frame is taken later
    than the budget allows (real time means a lag under 2 s)."""
    from oddsight.live.stream import LiveStream

    video = make_video(tmp_path / "cam.mp4", 100, fps=10, size=(64, 48), codec="libx264")
    stream = LiveStream(str(video), 2.0, realtime=True)
    dropped_after_short_stall = None
    for n, _frame in enumerate(stream.frames()):
        if n == 3:
            time.sleep(1.75)
        if n == 5:
            dropped_after_short_stall = stream.stats.dropped
            time.sleep(4.0)
    assert dropped_after_short_stall == 0
    assert stream.stats.dropped >= 1
    assert 1.0 < stream.stats.worst_lag_s < 2.0


def test_warmup_sets_the_threshold_from_the_camera(tmp_path):
    config = DetectOptions.parse({}).to_config()
    engine = make_engine(config, warmup_s=20)
    monitor = Monitor(SAMPLE, engine, 2.0)
    monitor.run()
    cal = engine.calibration
    assert cal.source == "warm-up" and cal.set_at is not None and cal.first_t is not None
    assert cal.threshold >= 0.5 * 1.25  # never under half the method's default
    short = make_engine(config, warmup_s=3600)  # longer than the clip: the default holds, and says so
    Monitor(SAMPLE, short, 2.0).run()
    assert short.calibration.source == "default (warming up)" and short.calibration.threshold == 1.25


def test_a_warmup_shorter_than_the_memory_fill_is_raised_and_said(caplog):
    config = DetectOptions.parse({}).to_config()  # 2 fps: novelty's scores are damped for its first 32 frames
    with caplog.at_level("WARNING", logger="oddsight.live"):
        engine = make_engine(config, warmup_s=5, camera="door")
    assert engine.calibration.warmup_s == 16.0
    assert "door: a 5 s warm-up is shorter than novelty's memory fill" in caplog.text


def _watch_json(video: Path, clips: Path, *options: str) -> list[dict]:
    """`oddsight watch VIDEO --json` (at threshold 1.5 unless ``options`` say otherwise): its messages."""
    run = subprocess.run(
        oddsight("watch", str(video), *(options or ("--threshold", "1.5")), "--clips", str(clips), "--json"),
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert run.returncode == 0, run.stderr
    return [json.loads(x) for x in run.stdout.splitlines()]


def test_watch_a_file_writes_events_snapshots_and_clips(tmp_path):
    video = make_video(tmp_path / "cam.mp4", 300, fps=10, size=(160, 120), anomaly=range(200, 225), codec="libx264")
    clips = tmp_path / "clips"
    lines = _watch_json(video, clips)
    assert lines[0]["type"] == "new" and lines[-1]["type"] == "end"
    end = lines[-1]
    event = end["event"]
    assert set(event) >= {"id", "start_frame", "end_frame", "start_s", "end_s", "peak_s", "peak_score", "label"}
    assert 18 <= event["start_s"] <= 21 and event["end_s"] >= 22 and end["camera"] == camera_name(str(video))
    snapshot, clip = event["snapshot"], event["clip"]
    assert Path(snapshot).read_bytes()[:2] == b"\xff\xd8"
    with av.open(clip) as c:  # remuxed, not re-encoded: the source's own codec, and the whole event with margins
        stream = c.streams.video[0]
        times = [float(f.time) for f in c.decode(stream)]
        assert stream.codec_context.name == "h264"
    assert times[-1] - times[0] >= (event["end_s"] - event["start_s"]) + 3
    log = (clips / end["camera"] / "events.jsonl").read_text().splitlines()
    assert [json.loads(x) for x in log] == lines


def test_an_event_left_open_by_a_kill_is_closed_on_restart(tmp_path):
    clips = tmp_path / "clips"
    camera = camera_name(SAMPLE)
    folder = clips / camera
    folder.mkdir(parents=True)
    opened = {"type": "new", "camera": camera, "time": 1.0, "event": {"id": "x-1", "start_s": 1.0, "end_s": 2.0}}
    (folder / "events.jsonl").write_text(json.dumps(opened) + "\n" + '{"type": "upd')  # killed mid-line
    config = DetectOptions.parse({"threshold": 100.0}).to_config()
    monitor = Monitor(SAMPLE, make_engine(config, warmup_s=0), 2.0, out=clips)
    closed = monitor.recover()
    assert len(closed) == 1 and closed[0]["type"] == "end" and "restart" in closed[0]["event"]["note"]
    assert monitor.recover() == []  # once
    lines = (folder / "events.jsonl").read_text().splitlines()
    assert lines[1] == '{"type": "upd'  # the cut line is left as it was, on a line of its own
    last = json.loads(lines[-1])
    assert last["event"]["id"] == "x-1" and last["type"] == "end"


def test_watch_bad_input_is_one_line(tmp_path):
    for args, words in (
        (["/no/such/file.mp4"], "cannot be opened"),
        ([SAMPLE, "--method", "bogus"], "choose one of novelty, oneclass, zeroshot, lavad, judge"),
        ([SAMPLE, "--alert", "smtp://x"], "--alert takes"),
        ([SAMPLE, "--fps", "0"], "--fps"),
        ([SAMPLE, "--record", "rtsp://h/a", "--record", "rtsp://h/b"], "--record: one per source"),
        ([SAMPLE, "--record", "/etc/passwd"], "main stream is an rtsp://"),
    ):
        run = subprocess.run(oddsight("watch", *args, "--threshold", "1"), capture_output=True, text=True, timeout=120)
        assert run.returncode != 0 and words in run.stderr and "Traceback" not in run.stderr, (args, run.stderr)


@pytest.fixture(autouse=True)
def _project_root(monkeypatch):
    monkeypatch.chdir(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def _two_anomalies(path: Path, where: str) -> Path:
    """30 s at 10 fps of the synthetic scene, with a blob darting across the top (``where="top"``) or a different
    one in the bottom-left corner from 20 s to 23 s."""
    import numpy as np

    from tests.conftest import scene

    with av.open(str(path), "w") as out:
        stream = out.add_stream("libx264", rate=10)
        stream.width, stream.height, stream.pix_fmt = 160, 120, "yuv420p"
        for i in range(300):
            img = scene(i, 160, 120)
            if 200 <= i < 230:
                if where == "top":
                    x = (i * 9) % 80
                    img[5:35, x : x + 60] = (255, 30, 0)
                else:
                    y = 70 + (i * 7) % 30
                    img[y : y + 20, 5:45] = (0, 40, 255)
            for packet in stream.encode(av.VideoFrame.from_ndarray(np.ascontiguousarray(img), "rgb24")):
                out.mux(packet)
        for packet in stream.encode():
            out.mux(packet)
    return path


def _detector(tmp_path: Path) -> Path:
    """A oneclass detector fitted on the synthetic scene's calm footage."""
    calm = make_video(tmp_path / "calm.mp4", 300, fps=10, size=(160, 120), codec="libx264")
    out = tmp_path / "calm.oddsight"
    fit = subprocess.run(oddsight("fit", str(calm), "--output", str(out), "--quiet"), capture_output=True, text=True)
    assert fit.returncode == 0, fit.stderr
    return out


@pytest.mark.parametrize("method", ["novelty", "oneclass"])
def test_false_alarm_feedback_silences_that_scene_only(tmp_path, method):
    clips = tmp_path / "clips"
    top = _two_anomalies(tmp_path / "cam.mp4", "top")
    options = (
        () if method == "novelty" else ("--method", "oneclass", "--detector", str(_detector(tmp_path)), "--warmup", "0")
    )

    def watch(video: Path) -> list[dict]:
        return _watch_json(video, clips, *options)

    first = watch(top)
    ends = [m for m in first if m["type"] == "end"]
    assert len(ends) == 1 and 19 <= ends[0]["event"]["start_s"] <= 23
    event_id = ends[0]["event"]["id"]
    said = subprocess.run(oddsight("feedback", event_id, "false-alarm", "--clips", str(clips)), capture_output=True)
    assert said.returncode == 0, said.stderr
    assert watch(top) == []  # the same scene again: silent
    other = _two_anomalies(tmp_path / "cam2.mp4", "bottom")
    # a different anomaly seen by the same camera (its feedback memory copied over) still raises an event
    shutil.copytree(clips / camera_name(str(top)) / "normal", clips / camera_name(str(other)) / "normal")
    again = [m for m in watch(other) if m["type"] == "end"]
    assert len(again) == 1 and 19 <= again[0]["event"]["start_s"] <= 24
    bad = subprocess.run(oddsight("feedback", "nope", "false-alarm", "--clips", str(clips)), capture_output=True)
    assert bad.returncode != 0 and b"no event nope" in bad.stderr


def test_kill9_during_an_open_event_then_restart(tmp_path):
    """`kill -9` of `watch` while an event is open: the log keeps every reported message, and the next start
    closes the event there with a note."""
    clips = tmp_path / "clips"
    video = _two_anomalies(tmp_path / "door.mp4", "top")
    proc = subprocess.Popen(
        oddsight("watch", str(video), "--realtime", "--threshold", "1.5", "--clips", str(clips), "--json"),
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        line = proc.stdout.readline()  # blocks until the event opens (about 21 s into the video)
        opened = json.loads(line)
        assert opened["type"] == "new"
    finally:
        proc.kill()  # SIGKILL
        proc.wait(10)
    log = clips / opened["camera"] / "events.jsonl"
    assert json.loads(log.read_text().splitlines()[0]) == opened
    short = make_video(tmp_path / "calm.mp4", 30, fps=10, size=(160, 120), codec="libx264")
    engine = make_engine(DetectOptions.parse({"threshold": 1.5}).to_config(), warmup_s=0)
    monitor = Monitor(str(short), engine, 2.0, out=clips, camera=opened["camera"])  # the same camera, again
    closed = monitor.recover()
    assert [c["event"]["id"] for c in closed] == [opened["event"]["id"]]
    last = json.loads(log.read_text().splitlines()[-1])
    assert last["type"] == "end" and "restart" in last["event"]["note"]


def _fire_video(path: Path) -> Path:
    """40 s at 10 fps: a grey street, red (a fire, to the test VLM) from 20 s to 30 s."""
    with av.open(str(path), "w") as out:
        stream = out.add_stream("libx264", rate=10)
        stream.width, stream.height, stream.pix_fmt = 160, 120, "yuv420p"
        for i in range(400):
            img = np.full((120, 160, 3), 128, np.uint8)
            if 200 <= i < 300:
                img[..., 0], img[..., 1], img[..., 2] = 230, 30, 20
            for packet in stream.encode(av.VideoFrame.from_ndarray(img, "rgb24")):
                out.mux(packet)
        for packet in stream.encode():
            out.mux(packet)
    return path


def test_judge_live_scores_each_chunk_as_it_completes_like_the_file(tmp_path, gguf_file):
    """`judge` live with a captioning VLM (a real HTTP server) and the real 1.5B LLM: the fire's chunk opens an
    event one chunk late, with what it was and why; the chunk scores equal `detect`'s on the same frames."""
    from oddsight.detection import Detection
    from tests.helpers import FIRE_STREET, colour_vlm

    video = _fire_video(tmp_path / "street.mp4")
    with colour_vlm() as url:
        options = {"method": "judge", "captioner": f"openai:{url}#vlm", "llm_path": str(gguf_file), "fps": 2}
        engine = make_engine(DetectOptions.parse({**options, "threshold": 0.5}).to_config(), warmup_s=0)
        monitor = Monitor(str(video), engine, 2.0, out=tmp_path / "clips", camera="street")
        monitor.run()
        windows = engine.scorer.windows
        result = Detection(DetectOptions.parse(options).to_config()).run(str(video))
    assert [(w["start_s"], w["end_s"]) for w in windows] == [(0.0, 10.0), (10.0, 20.0), (20.0, 30.0), (30.0, 40.0)]
    assert np.allclose([w["score"] for w in windows], result.sample_scores, atol=1e-6)
    assert FIRE_STREET in windows[2]["text"]
    assert windows[2]["score"] >= 0.5 > max(windows[0]["score"], windows[1]["score"])
    new = next(m for m in monitor.messages if m["type"] == "new" and m["event"]["kind"] == "anomaly")
    assert new["event"]["label"] == FIRE_STREET and new["event"]["reason"]
    assert 19.5 <= new["event"]["start_s"] <= 20.5  # the event starts where the fire does, reported a chunk late
    assert Path(new["event"]["snapshot"]).read_bytes()[:2] == b"\xff\xd8"  # the peak's picture, kept from then
    end = next(m for m in monitor.messages if m["type"] == "end" and m["event"]["kind"] == "anomaly")
    assert end["event"]["end_s"] <= 31 and Path(end["event"]["clip"]).exists()


def test_live_language_methods_need_a_captioner(tmp_path):
    run = subprocess.run(
        oddsight("watch", str(tmp_path / "x.mp4"), "--method", "judge"), capture_output=True, text=True
    )
    assert run.returncode == 2 and "needs --captioner" in run.stderr and "Traceback" not in run.stderr


def test_lavad_live_scores_a_window_every_stride_from_the_past(tmp_path, gguf_file):
    from tests.helpers import FIRE_STREET, colour_vlm

    video = _fire_video(tmp_path / "street.mp4")
    with colour_vlm() as url:
        options = {"method": "lavad", "captioner": f"openai:{url}#vlm", "llm_path": str(gguf_file), "fps": 2}
        engine = make_engine(DetectOptions.parse({**options, "threshold": 0.5}).to_config(), warmup_s=0)
        monitor = Monitor(str(video), engine, 2.0, camera="street")
        monitor.run()
    windows = engine.scorer.windows
    assert len(windows) == 40 and all(b["end_s"] - a["end_s"] == 1.0 for a, b in itertools.pairwise(windows))
    assert all(w["end_s"] - w["start_s"] <= 10.0 for w in windows)
    calm = [w["score"] for w in windows if w["end_s"] <= 20]  # windows that saw no fire
    assert max(calm) < 0.5 <= max(w["score"] for w in windows)
    new = next(m for m in monitor.messages if m["type"] == "new" and m["event"]["kind"] == "anomaly")
    assert new["event"]["label"] == FIRE_STREET and 20 <= new["event"]["start_s"] <= 23


def test_a_camera_that_never_connects_ends_with_one_line():
    """`watch URL --seconds S` on a closed port ends (S plus the open timeout without a frame), says why, exit 1."""
    import socket

    with socket.socket() as s:  # a port nothing listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    t0 = time.monotonic()
    run = subprocess.run(
        oddsight("watch", f"http://127.0.0.1:{port}/cam.mjpg", "--seconds", "2"), capture_output=True, text=True
    )
    assert time.monotonic() - t0 < 40
    assert run.returncode == 1 and "no frame received" in run.stderr and "Traceback" not in run.stderr


def test_a_bug_in_the_reader_is_raised_not_retried_forever(monkeypatch):
    from oddsight.live.stream import LiveStream

    def broken(self, container, index, base_t):
        raise TypeError("a programming error")

    monkeypatch.setattr(LiveStream, "_read", broken)
    stream = LiveStream(SAMPLE, 2.0)
    with pytest.raises(TypeError, match="a programming error"):
        list(stream.frames(idle_s=30))
    stream.close()


def test_a_stream_keeps_its_packets_on_disk_in_bounded_segments(tmp_path):
    """With a spool, the ring's packets hold no bytes in memory; what a clip reads back is, byte for byte, what a
    ring in memory holds; segments are deleted as the ring moves on (the disk stays bounded), and all at close."""
    import math

    from oddsight.live.stream import LiveStream

    folder = tmp_path / "packets"
    on_disk, in_memory = LiveStream(SAMPLE, 2.0, ring_s=6.0, spool=folder), LiveStream(SAMPLE, 2.0, ring_s=6.0)
    on_disk.spool.segment_s = 2.0
    segments = [len(list(folder.glob("*.seg"))) for _ in on_disk.frames()]
    list(in_memory.frames())
    assert max(segments) <= 6.0 / 2.0 + 2 and len(segments) > 100  # 80 s of video: about 40 segments written
    assert all(p.data == b"" and p.spooled for p in on_disk._ring)
    disk, memory = on_disk.packets_between(0, math.inf), in_memory.packets_between(0, math.inf)
    assert len(disk) > 20 and [(p.pts, p.data) for p in disk] == [(p.pts, p.data) for p in memory]
    on_disk.close()
    in_memory.close()
    assert not folder.exists()


RACE = """
import sys, threading
import av
from oddsight.live.clips import write_snapshot
from oddsight.video.frames import to_rgb

with av.open(sys.argv[1]) as c:
    frames = [f for _, f in zip(range(20), c.decode(video=0))]
done = threading.Event()

def heartbeat():  # the camera's live picture, written each second from another thread
    while not done.is_set():
        for f in frames:
            write_snapshot(f, __import__("pathlib").Path(sys.argv[2]))

beat = threading.Thread(target=heartbeat)
beat.start()
for _ in range(150):  # the monitor's thread scales the same frames for the encoder meanwhile
    for f in frames:
        to_rgb(f, (320, 240))
done.set()
beat.join()
"""


def test_the_live_picture_and_the_encoder_scale_the_same_frame_at_once(tmp_path):
    """A camera process crashed in libswscale (SIGSEGV) when its heartbeat scaled the latest frame for the live
    picture while the monitor scaled it for the encoder: each now has a scaler of its own."""
    video = Path(__file__).resolve().parents[1] / "samples" / "pedestrians.mp4"
    code = [*oddsight()[:1], "-c", RACE, str(video), str(tmp_path / "live.jpg")]
    try:  # a few seconds; the shared scaler crashed or hung
        run = subprocess.run(code, capture_output=True, text=True, timeout=60)
    except subprocess.TimeoutExpired:
        pytest.fail("scaling the same frame from two threads hung")
    assert run.returncode == 0, f"exit {run.returncode}: {run.stderr[-2000:]}"
    assert (tmp_path / "live.jpg").stat().st_size > 1000
