"""One engine: what `eval` measures is what `watch` ships. For every method, `watch FILE --json` reports the same
events (frames and peak) as `detect FILE --live --json`; `eval --live` scores a video as `detect --live` does; a
file's events are a replay of the live tracker over its every-frame scores (two short blips merge the same way)."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import numpy as np
import pytest

from oddsight.evaluate.metrics import roc_auc
from oddsight.temporal.events import EventTracker, find_events
from tests.conftest import make_video
from tests.server_process import oddsight

SAMPLE = "samples/pedestrians.mp4"


def _run_json(*args: str) -> str:
    run = subprocess.run(oddsight(*args), capture_output=True, text=True, timeout=600)
    assert run.returncode == 0, run.stderr
    return run.stdout


def _key(event: dict) -> tuple:
    return event["start_frame"], event["end_frame"], event["peak_frame"], round(event["peak_score"], 4)


def detect_live(video: Path | str, out: Path, *options: str) -> dict:
    """`detect VIDEO --live --json`: the one result."""
    return json.loads(_run_json("detect", str(video), "--live", "--json", "-q", "--out", str(out), *options))[
        "results"
    ][0]


def watch_ends(video: Path | str, *options: str) -> list[dict]:
    """`watch VIDEO --json`: the anomaly events of its `end` messages, in order. Not those dismissed (a camera
    alerts at the first crossing; an event that then ends shorter than --min-event is dismissed, as no result keeps
    it), nor camera-health events (kind tamper: a flat synthetic picture is a covered view), which no result has."""
    lines = [json.loads(x) for x in _run_json("watch", str(video), "--json", *options).splitlines()]
    ended = [m["event"] for m in lines if m["type"] == "end"]
    return [e for e in ended if e["kind"] == "anomaly" and not e["details"].get("dismissed")]


def assert_same_events(video: Path | str, out: Path, *options: str) -> list[dict]:
    result = detect_live(video, out, *options)
    ended = watch_ends(video, *options)
    assert [_key(e) for e in ended] == [_key(e) for e in result["events"]]
    return result["events"]


def test_novelty_watch_equals_detect_live_with_the_default_warmup(tmp_path):
    events = assert_same_events(SAMPLE, tmp_path / "out")
    assert events  # the default threshold holds while the camera warms up: a short clip still shows events
    written = json.loads((tmp_path / "out" / "pedestrians.json").read_text())
    assert written["mode"] == "live" and written["threshold_source"] == "default (warming up)"


def test_oneclass_watch_equals_detect_live(tmp_path):
    calm = make_video(tmp_path / "calm.mp4", 200, fps=10, size=(160, 120), codec="libx264")
    detector = tmp_path / "calm.oddsight"
    _run_json("fit", str(calm), "--output", str(detector), "--quiet")
    video = make_video(tmp_path / "cam.mp4", 200, fps=10, size=(160, 120), anomaly=range(120, 150), codec="libx264")
    events = assert_same_events(video, tmp_path / "out", "--method", "oneclass", "--detector", str(detector))
    assert len(events) == 1 and 110 <= events[0]["start_frame"] <= 125


def test_zeroshot_watch_equals_detect_live(tmp_path):
    from tests.tiny_models import save_tiny_clip

    clip = save_tiny_clip(tmp_path / "tiny-clip")
    video = make_video(tmp_path / "cam.mp4", 150, fps=10, size=(64, 48), anomaly=range(80, 110), codec="libx264")
    options = ("--method", "zeroshot", "--model", "clip-vit-b32", "--model-path", str(clip), "--anomaly", "a fire")
    # the tiny random model's scores have no meaning: a threshold at their median makes events to compare
    scores = detect_live(video, tmp_path / "probe", *options, "--threshold", "100")["frame_scores"]
    level = f"{float(np.median(scores)):.6f}"
    events = assert_same_events(video, tmp_path / "out", *options, "--threshold", level, "--min-event", "0")
    assert events and all(e["label"] == "a fire" for e in events)


@pytest.mark.parametrize("method", ["judge", "lavad"])
def test_language_methods_watch_equals_detect_live(tmp_path, gguf_file, method):
    from tests.helpers import FIRE_STREET, colour_vlm
    from tests.test_live_engine import _fire_video

    video = _fire_video(tmp_path / "street.mp4")
    with colour_vlm() as url:
        options = ("--method", method, "--captioner", f"openai:{url}#vlm", "--llm-path", str(gguf_file))
        events = assert_same_events(video, tmp_path / "out", *options, "--fps", "2", "--threshold", "0.5")
    assert len(events) == 1 and events[0]["label"] == FIRE_STREET and events[0]["reason"]
    assert 19 <= events[0]["start_s"] <= 24  # judge where the fire starts; lavad a little later (past only)


def test_eval_live_scores_as_detect_live(tmp_path):
    root = tmp_path / "set"
    (root / "videos").mkdir(parents=True)
    make_video(root / "videos" / "a.mp4", 200, fps=10, size=(160, 120), anomaly=range(120, 150), codec="libx264")
    (root / "labels.csv").write_text("video,start,end\na,120,149\n")
    report = json.loads(_run_json("eval", "--dataset", "csv", "--root", str(root), "--live", "--json", "-q"))
    result = detect_live(root / "videos" / "a.mp4", tmp_path / "out")
    labels = np.zeros(200, np.int8)
    labels[120:150] = 1
    video = report["per_video"][0]
    assert video["auc"] == pytest.approx(roc_auc(labels, np.asarray(result["frame_scores"])), abs=1e-9)
    assert video["events"] == [[e["start_frame"], e["end_frame"]] for e in result["events"]]
    offline = json.loads(_run_json("eval", "--dataset", "csv", "--root", str(root), "--json", "-q"))
    assert offline["per_video"][0]["auc"] != video["auc"]  # the modes really differ (whole video vs the past)


def test_eval_live_history_is_watched_before_each_video(tmp_path):
    """--history: the camera's normal footage fills its memory and sets its threshold before the video."""
    root = tmp_path / "set"
    (root / "videos").mkdir(parents=True)
    make_video(root / "videos" / "a.mp4", 200, fps=10, size=(160, 120), anomaly=range(40, 70), codec="libx264")
    (root / "labels.csv").write_text("video,start,end\na,40,69\n")
    history = make_video(tmp_path / "normal.mp4", 300, fps=10, size=(160, 120), codec="libx264")
    args = ("eval", "--dataset", "csv", "--root", str(root), "--live", "--json", "-q")
    cold = json.loads(_run_json(*args))["per_video"][0]
    warm = json.loads(_run_json(*args, "--history", str(history), "--warmup", "20"))["per_video"][0]
    # cold, the anomaly at 4 s comes while the memory is nearly empty (its scores damped): the past helps
    assert warm["auc"] > cold["auc"] + 0.03 and warm["auc"] > 0.85
    bad = subprocess.run(
        oddsight("eval", "--dataset", "csv", "--root", str(root), "--history", str(history)),
        text=True,
        capture_output=True,
    )
    assert bad.returncode == 2 and "--history" in bad.stderr and "--live" in bad.stderr


def _reference_events(s: np.ndarray, fps: float, threshold: float, hysteresis: float, min_s: float, gap_s: float):
    """Batch thresholding written out plainly (the algorithm `find_events` once was), as the oracle."""
    low = threshold - hysteresis * abs(threshold)
    spans, start = [], None
    for i, v in enumerate(s):
        if start is None and v >= threshold:
            start = i
            while start > 0 and s[start - 1] >= low and (not spans or start - 1 > spans[-1][1]):
                start -= 1
        elif start is not None and v < low:
            spans.append([start, i - 1])
            start = None
    if start is not None:
        spans.append([start, len(s) - 1])
    merged: list[list[int]] = []
    for a, b in spans:
        if merged and a - merged[-1][1] - 1 <= int(gap_s * fps + 0.5 - 1e-6):
            merged[-1][1] = b
        else:
            merged.append([a, b])
    out = []
    for a, b in merged:
        if (b - a + 1) / fps >= min_s - 1e-9:
            peak = a + int(np.argmax(s[a : b + 1]))
            out.append((a, b, peak, round(float(s[a : b + 1].mean()), 6)))
    return out


def test_a_files_events_are_the_live_tracker_replayed():
    rng = np.random.default_rng(7)
    for _ in range(400):
        n, fps = int(rng.integers(1, 300)), float(rng.choice([2.0, 10.0, 25.0, 29.97]))
        s = rng.random(n) * 2 if rng.random() < 0.5 else np.cumsum(rng.normal(0, 0.3, n))
        opts = dict(
            hysteresis=float(rng.choice([0.0, 0.1, 0.3])),
            min_s=float(rng.choice([0.0, 0.5, 1.0, 3.0])),
            gap_s=float(rng.choice([0.0, 0.5, 2.0])),
        )
        threshold = float(np.quantile(s, 0.7))
        want = _reference_events(s, fps, threshold, **opts)
        got = find_events(
            s, fps, threshold, hysteresis=opts["hysteresis"], min_duration_s=opts["min_s"], merge_gap_s=opts["gap_s"]
        )
        assert [(e.start_frame, e.end_frame, e.peak_frame, round(e.mean_score, 6)) for e in got] == want


def test_two_short_blips_merge_the_same_way_on_a_file_and_live():
    """Two 0.6 s blips 1 s apart: each alone is shorter than --min-event, together (merged) they are one event,
    in batch and live alike (live once dropped the first blip at its first dip)."""
    fps = 10.0
    s = np.zeros(100)
    s[30:36] = 2.0
    s[46:52] = 2.0
    batch = find_events(s, fps, 1.0, min_duration_s=1.0, merge_gap_s=2.0)
    tracker = EventTracker(1.0, frame_s=1 / fps, min_event_s=1.0, merge_gap_s=2.0)
    said = []  # each message as it was when sent (the event goes on changing after a `new`)
    for i, v in enumerate(s):
        said += [(m.type, m.event.start_frame, m.event.end_frame) for m in tracker.push(i, i / fps, v)]
    said += [(m.type, m.event.start_frame, m.event.end_frame) for m in tracker.close()]
    assert [(e.start_frame, e.end_frame) for e in batch] == [(30, 51)]
    assert said == [("new", 30, 46), ("end", 30, 51)]
