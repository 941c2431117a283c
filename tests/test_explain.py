"""Events that explain themselves (visual methods, no language model): the box of the cells that drove the peak,
the words of what was unusual there, the peak at the highest raw sample, in `detect` JSON and `watch --json`."""

from __future__ import annotations

import json

import numpy as np
import pytest
from PIL import Image

from oddsight.detectors.cells import CellView
from oddsight.methods.explain import describe
from oddsight.video.pictures import BOX_COLOUR, draw_box
from tests.conftest import make_video
from tests.test_parity import _run_json, detect_live, watch_ends

GRID = 16


def _view(hot: list[tuple[int, int]], flow: float, usual_flow: float) -> CellView:
    """Cells (row, col) in ``hot`` unusual, moving at ``flow`` px a frame where ``usual_flow`` is usual."""
    scores = np.full(GRID * GRID, 0.1, np.float32)
    cells = np.zeros((GRID * GRID, 4), np.float32)
    usual = np.zeros((GRID * GRID, 4), np.float32)
    usual[:, 0] = np.log1p(usual_flow)
    for r, c in hot:
        scores[r * GRID + c] = 3.0
        cells[r * GRID + c, 0] = np.log1p(flow)
    return CellView(scores, cells, usual)


def test_a_moving_thing_where_nothing_moves_is_boxed_and_named_by_place():
    box, reason = describe(_view([(12, 1), (12, 2), (13, 2)], flow=4.0, usual_flow=0.0), GRID, 320, 240)
    assert box == [20, 180, 60, 210]
    assert reason == "movement where nothing usually moves, in the lower left"


def test_fast_motion_says_how_much_faster_than_usual_there():
    box, reason = describe(_view([(2, 13), (3, 14)], flow=6.0, usual_flow=2.0), GRID, 320, 240)
    assert box == [260, 30, 300, 60]
    assert reason == "fast motion in the upper right, about 3x the usual speed there"


def test_a_change_everywhere_is_the_whole_picture():
    everywhere = [(r, c) for r in range(GRID) for c in range(GRID) if (r + c) % 4]
    box, reason = describe(_view(everywhere, flow=5.0, usual_flow=1.0), GRID, 640, 480)
    assert box == [0, 0, 640, 480] and reason == "a sudden change of the whole picture"


def test_the_box_is_drawn_where_it_is_in_a_scaled_picture():
    image = draw_box(Image.new("RGB", (160, 120), (0, 0, 0)), [100, 100, 300, 200], (640, 480))
    pixels = np.asarray(image)
    assert tuple(pixels[25, 25 + 10]) == BOX_COLOUR  # the top edge, scaled by 1/4
    assert tuple(pixels[40, 40]) == (0, 0, 0)  # inside it: untouched
    assert draw_box(Image.new("RGB", (8, 8)), None, (8, 8)).getpixel((0, 0)) == (0, 0, 0)


FIGHTERS = (200, 60, 345, 245)  # where the two men fight in Fighting033 around 22 s (x0, y0, x1, y1; by eye)


def _on_the_fighters(box: list[int]) -> bool:
    x0, y0, x1, y1 = box
    return x0 < FIGHTERS[2] and x1 > FIGHTERS[0] and y0 < FIGHTERS[3] and y1 > FIGHTERS[1]


def _first_seconds(src, dst, seconds: float):
    """The first ``seconds`` of ``src`` re-encoded (H.264): a camera's footage before anything happened."""
    import av

    with av.open(str(src)) as source, av.open(str(dst), "w") as out:
        stream = source.streams.video[0]
        video = out.add_stream("libx264", rate=round(float(stream.average_rate)))
        video.width, video.height, video.pix_fmt = stream.width, stream.height, "yuv420p"
        for frame in source.decode(stream):
            if frame.time is not None and frame.time >= seconds:
                break
            for packet in video.encode(frame.reformat(format="yuv420p")):
                out.mux(packet)
        for packet in video.encode():
            out.mux(packet)
    return dst


def _fight(events: list[dict]) -> dict:
    """The event overlapping the labelled fight of Fighting033 (frames 570-840)."""
    fights = [e for e in events if e["start_frame"] <= 840 and e["end_frame"] >= 570]
    assert fights, events
    return fights[0]


@pytest.mark.parametrize("mode", ["detect", "watch"])
def test_the_fight_is_boxed_in_the_lower_half_with_words(shared, tmp_path, mode):
    video = shared / "ucf_crime" / "videos" / "Fighting033_x264.mp4"  # 378x280 at 30 fps
    if mode == "detect":
        events = json.loads(_run_json("detect", str(video), "--json", "-q", "--out", str(tmp_path)))["results"][0]
        events = events["events"]
    else:
        events = watch_ends(video)
    fight = _fight(events)
    x0, y0, x1, y1 = fight["box"]
    assert 0 <= x0 < x1 <= 378 and 0 <= y0 < y1 <= 280
    assert (y0 + y1) / 2 > 140, fight  # the fight is in the lower half of the picture
    assert _on_the_fighters(fight["box"]), fight
    assert fight["reason"] and ("motion" in fight["reason"] or "moves" in fight["reason"])
    # the peak is a sampled frame (2 fps of 30: every 15th) inside the event, not the smoothing window's edge
    assert fight["peak_frame"] % 15 == 0 and fight["start_frame"] <= fight["peak_frame"] <= fight["end_frame"]
    if mode == "detect":
        with open(tmp_path / "Fighting033_x264.events.csv") as f:
            assert str(fight["box"]) in f.read()


def test_oneclass_on_the_fight_boxes_the_fighters_in_both_modes(shared, tmp_path):
    video = shared / "ucf_crime" / "videos" / "Fighting033_x264.mp4"
    calm = _first_seconds(video, tmp_path / "calm.mp4", 18.0)  # the corridor before the fight
    detector = tmp_path / "corridor.oddsight"
    _run_json("fit", str(calm), "--output", str(detector), "--quiet")
    # one 18 s clip is too little to set a threshold from (its 36 frames): one is given
    options = ("--method", "oneclass", "--detector", str(detector), "--threshold", "1.5")
    offline = json.loads(_run_json("detect", str(video), "--json", "-q", "--out", str(tmp_path / "o"), *options))
    live = detect_live(video, tmp_path / "l", *options)["events"]
    watched = watch_ends(video, *options)
    for event in (_fight(offline["results"][0]["events"]), _fight(live), _fight(watched)):
        assert _on_the_fighters(event["box"]) and event["reason"], event
    assert [(e["box"], e["reason"]) for e in watched] == [(e["box"], e["reason"]) for e in live]


def test_oneclass_events_carry_the_box_of_the_anomaly_in_both_modes(tmp_path):
    calm = make_video(tmp_path / "calm.mp4", 200, fps=10, size=(160, 120), codec="libx264")
    detector = tmp_path / "calm.oddsight"
    _run_json("fit", str(calm), "--output", str(detector), "--quiet")
    # the anomaly: a red block over the middle half of the rows (30-90 of 120)
    video = make_video(tmp_path / "cam.mp4", 200, fps=10, size=(160, 120), anomaly=range(120, 150), codec="libx264")
    options = ("--method", "oneclass", "--detector", str(detector))
    offline = json.loads(_run_json("detect", str(video), "--json", "-q", "--out", str(tmp_path / "o"), *options))
    live = detect_live(video, tmp_path / "l", *options)["events"]
    watched = watch_ends(video, *options)
    for event in (offline["results"][0]["events"][0], live[0], watched[0]):
        _, y0, _, y1 = event["box"]
        assert y0 < 90 and y1 > 30, event  # overlaps the anomaly's rows
        assert event["reason"], event
    assert [(e["box"], e["reason"]) for e in watched] == [(e["box"], e["reason"]) for e in live]
