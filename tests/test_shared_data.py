"""Real videos from ../shared/data (always present in CI)."""

from __future__ import annotations

import numpy as np

from oddsight.config import DetectConfig
from oddsight.detection import Detection
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
    from oddsight.evaluate.metrics import roc_auc

    labels = np.zeros(1105, dtype=np.int8)
    labels[570:841] = 1  # the fight (Temporal_Anomaly_Annotation.txt: 570 840, end inclusive)
    assert roc_auc(labels, result.frame_scores) > 0.65  # 0.704 when this was written; people walk in at 0-3 s


def test_default_settings_no_false_alarm_on_normal_and_an_event_on_each_anomaly(shared):
    from oddsight.evaluate.datasets import load_dataset
    from oddsight.evaluate.metrics import iou

    session = Detection(DetectConfig(progress=False))
    # vtest: the default (motion) raises one event, where people leave the path and cross the lawn (49-55 s);
    # a known miss of the "no event on vtest" target, reported in the README. More than that is a regression.
    vtest = session.run(shared / "normal" / "vtest.avi").events
    assert len(vtest) <= 1 and all(450 <= e.peak_frame <= 700 for e in vtest)
    for video in load_dataset("ucf-crime", shared / "ucf_crime"):
        if video.is_normal:
            assert session.run(video.source).events == [], video.name
            continue
        events = [(e.start_frame, e.end_frame) for e in session.run(video.source).events]
        assert any(iou(e, span) > 0 for e in events for span in video.spans), video.name


def test_lavad_on_real_descriptions_asks_each_distinct_text_once(shared, gguf_file):
    """The real LLM on real VLM descriptions of two UCF-Crime test videos (a dozen LLM calls):
    every frame is scored, in 0..1; only distinct texts reach the model; a re-run asks nothing.
    (Quality is measured by `oddsight eval` on the whole set, not asserted on two videos.)"""
    from oddsight.config import DetectConfig
    from oddsight.evaluate.datasets import load_dataset
    from oddsight.evaluate.runner import evaluate

    keep = {"RoadAccidents004_x264", "Normal_Videos_063_x264"}
    videos = [v for v in load_dataset("segment-text", shared / "ucf_descriptions") if v.name in keep]
    config = DetectConfig(method="lavad", folder_fps=30, progress=False, reasons=False)
    report = evaluate(videos, config)
    stats = report.summary["llm"]
    assert stats["texts"] == 25 and stats["llm_calls"] == 12  # 7 + 5 distinct descriptions
    assert sorted(len(v.scores) for v in report.videos) == [355, 389]
    assert all(v.scores.min() >= 0.0 and v.scores.max() <= 1.0 for v in report.videos)
    assert report.summary["auc"] is not None
    again = evaluate(videos, config)
    assert again.summary["llm"]["llm_calls"] == 0 and again.summary["auc"] == report.summary["auc"]
