"""Real videos from ../shared/data (always present in CI)."""

from __future__ import annotations

from oddsight.pipeline import DetectConfig, Detection
from oddsight.video.sampling import Sampling
from oddsight.video.source import open_source


def test_real_videos_decode_with_exact_frame_counts(shared):
    expected = {"Arson009_x264": 743, "Fighting033_x264": 1105, "RoadAccidents017_x264": 243}
    for name, count in expected.items():
        src = open_source(shared / "ucf_crime" / "videos" / f"{name}.mp4")
        kept = list(src.frames(Sampling(fps=1), size=(64, 64)))
        assert src.report.frames_decoded == count and src.info.fps == 30
        assert [f.index for f in kept[:3]] == [0, 30, 60]
    vtest = open_source(shared / "normal" / "vtest.avi")
    assert vtest.info.fps == 10 and vtest.info.frame_count == 795


def test_default_detect_on_a_real_fight(shared):
    video = shared / "ucf_crime" / "videos" / "Fighting033_x264.mp4"
    result = Detection(DetectConfig(progress=False)).run(video)
    assert len(result.frame_scores) == 1105 and len(result.sample_scores) == 74
    inside = result.frame_scores[570:841].mean()
    assert inside > result.frame_scores[:400].mean()


def test_default_settings_no_false_alarm_on_normal_and_an_event_on_each_anomaly(shared):
    from oddsight.evaluate.datasets import load_dataset
    from oddsight.evaluate.metrics import iou

    session = Detection(DetectConfig(progress=False))
    assert session.run(shared / "normal" / "vtest.avi").events == []
    for video in load_dataset("ucf-crime", shared / "ucf_crime"):
        if video.is_normal:
            continue
        events = [(e.start_frame, e.end_frame) for e in session.run(video.source).events]
        assert any(iou(e, span) > 0 for e in events for span in video.spans), video.name
