"""Tamper and camera-health events from the frames themselves, on real footage the test degrades: the view goes
black, is blurred, is shifted (the camera moved) or freezes 15 s in; the untouched footage raises none."""

from __future__ import annotations

import json
from fractions import Fraction
from pathlib import Path

import av
import cv2
import numpy as np
import pytest

from oddsight.live.engine import make_engine
from oddsight.live.monitor import Monitor
from oddsight.live.tamper import TamperWatch
from oddsight.options import DetectOptions

SAMPLE = "samples/pedestrians.mp4"  # 512x384 at 10 fps, people walking
AT_S, LENGTH_S = 15.0, 30.0


def degraded(src: str, dst: Path, kind: str) -> Path:
    """The first ``LENGTH_S`` seconds of ``src``, ``kind`` done to every frame from ``AT_S`` on (H.264)."""
    with av.open(src) as source, av.open(str(dst), "w") as out:
        stream = source.streams.video[0]
        rate = Fraction(stream.average_rate).limit_denominator(1001)
        video = out.add_stream("libx264", rate=rate)
        video.width, video.height, video.pix_fmt = stream.width // 2 * 2, stream.height // 2 * 2, "yuv420p"
        held = None
        for n, frame in enumerate(source.decode(stream)):
            if n / rate >= LENGTH_S:
                break
            image = frame.to_ndarray(format="rgb24")[: video.height, : video.width]
            if n / rate >= AT_S:
                if kind == "covered":
                    image = np.full_like(image, 8)  # a hand over the lens, a black feed
                elif kind == "blurred":
                    image = cv2.GaussianBlur(image, (0, 0), 6)  # defocused, a sprayed lens
                elif kind == "moved":
                    image = np.roll(image, (video.height // 4, video.width // 3), axis=(0, 1))
                elif kind == "frozen":
                    held = image if held is None else held
                    image = held
            for packet in video.encode(av.VideoFrame.from_ndarray(np.ascontiguousarray(image), "rgb24")):
                out.mux(packet)
        for packet in video.encode():
            out.mux(packet)
    return dst


def watched(video: Path, tmp_path: Path) -> list[dict]:
    """The tamper messages of `watch`ing ``video`` (threshold high: no anomaly events in the way)."""
    got: list[dict] = []
    engine = make_engine(DetectOptions.parse({"threshold": 100}).to_config(), warmup_s=0, camera="door")
    Monitor(str(video), engine, 2.0, out=tmp_path / "clips", camera="door", on_message=got.append).run()
    return [m for m in got if m["event"]["kind"] == "tamper"]


@pytest.mark.parametrize("kind", ["covered", "blurred", "moved", "frozen"])
def test_each_kind_of_tamper_is_raised_with_its_snapshot(tmp_path, kind):
    messages = watched(degraded(SAMPLE, tmp_path / f"{kind}.mp4", kind), tmp_path)
    assert [m["type"] for m in messages] == ["new", "end"], messages
    event = messages[0]["event"]
    assert event["label"] == kind and event["reason"]
    assert AT_S <= event["start_s"] <= AT_S + 3  # from when it happened (frozen: once two pictures match)
    assert event["id"].startswith("door-")
    assert Path(event["snapshot"]).read_bytes()[:2] == b"\xff\xd8"
    logged = (tmp_path / "clips" / "door" / "events.jsonl").read_text().splitlines()
    assert any(json.loads(x).get("event", {}).get("label") == kind for x in logged)


def test_untouched_footage_raises_no_tamper_event(tmp_path):
    assert watched(degraded(SAMPLE, tmp_path / "clean.mp4", "none"), tmp_path) == []


def test_a_short_outage_is_no_event_and_a_long_one_is():
    watch = TamperWatch(iter(["a", "b"]).__next__)
    assert watch.outage(10, 5.0, 1.0) == []
    new, end = watch.outage(10, 5.0, 42.0)
    assert (new.type, end.type) == ("new", "end") and new.event.label == "offline"
    assert new.event.reason == "the stream was offline for 42 s"
