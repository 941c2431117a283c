from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from oddsight.cli import app
from oddsight.config import DetectConfig
from oddsight.errors import ConfigError, InputError
from oddsight.evaluate.datasets import load_dataset
from oddsight.evaluate.runner import evaluate
from oddsight.video.sampling import Sampling
from tests.conftest import make_video

runner = CliRunner()


def test_ucf_crime_reader_on_the_real_annotation(shared):
    videos = {v.name: v for v in load_dataset("ucf-crime", shared / "ucf_crime")}
    assert sorted(videos) == ["Arson009_x264", "Fighting033_x264", "Normal_Videos_641_x264", "RoadAccidents017_x264"]
    assert videos["Fighting033_x264"].spans == [(570, 840)]
    assert videos["Normal_Videos_641_x264"].is_normal
    y = videos["Arson009_x264"].labels(743)
    assert y.sum() == 315 - 220 + 1 and y[220] == 1 and y[315] == 1 and y[316] == 0
    exclusive = {v.name: v for v in load_dataset("ucf-crime", shared / "ucf_crime", end_inclusive=False)}
    assert exclusive["Arson009_x264"].labels(743).sum() == 315 - 220


def test_segment_text_reader_on_the_real_descriptions(shared):
    videos = load_dataset("segment-text", shared / "ucf_descriptions")
    assert len(videos) == 46 and sum(len(v.texts) for v in videos) == 3680
    arson = next(v for v in videos if v.name == "Arson009_x264")
    assert arson.n_frames == 743 and arson.spans == [(220, 315)]
    assert arson.texts[0].start == 0 and arson.texts[0].end == 29 and arson.texts[0].text


def test_frame_text_reader_on_the_real_files(shared):
    ped2 = load_dataset("frame-text", shared / "frame_text" / "ped2")
    assert len(ped2) == 12 and sum(v.n_frames for v in ped2) == 2010
    assert all(len(v.texts) == v.n_frames == len(v.frame_labels) for v in ped2)
    assert sum(int(v.frame_labels.sum()) for v in ped2) > 0
    avenue = load_dataset("frame-text", shared / "frame_text" / "avenue")
    assert len(avenue) == 21 and sum(v.n_frames for v in avenue) == 15324


def test_xd_violence_npy_and_csv_layouts(tmp_path):
    xd = tmp_path / "xd"
    (xd / "videos").mkdir(parents=True)
    make_video(xd / "videos" / "Fight.Scene__#1_label_B1-0-0.mp4", n_frames=20)
    make_video(xd / "videos" / "Calm__#1_label_A.mp4", n_frames=20)
    (xd / "annotations.txt").write_text("Fight.Scene__#1_label_B1-0-0 4 9 12 15\n")
    videos = {v.name: v for v in load_dataset("xd-violence", xd)}
    assert videos["Fight.Scene__#1_label_B1-0-0"].spans == [(4, 9), (12, 15)] and videos["Calm__#1_label_A"].is_normal

    npy = tmp_path / "sh"
    (npy / "labels").mkdir(parents=True)
    (npy / "frames" / "01_0014").mkdir(parents=True)
    np.save(npy / "labels" / "01_0014.npy", np.r_[np.zeros(5), np.ones(3)])
    (v,) = load_dataset("frame-labels", npy)
    assert v.source == npy / "frames" / "01_0014" and v.labels(8).tolist() == [0] * 5 + [1] * 3
    with pytest.raises(InputError, match="8 frame labels but 9"):
        v.labels(9)

    own = tmp_path / "own"
    own.mkdir()
    make_video(own / "door.mp4", n_frames=20, fps=10)
    make_video(own / "hall.mp4", n_frames=20, fps=10)
    (own / "labels.csv").write_text("video,start,end\ndoor.mp4,0.5,1.0\n")
    videos = {v.name: v for v in load_dataset("csv", own, csv_units="seconds")}
    assert videos["door"].labels(20, fps=10).tolist() == [0] * 5 + [1] * 5 + [0] * 10
    assert videos["hall"].is_normal
    (own / "bad.csv").write_text("clip,from,to\n")
    with pytest.raises(InputError, match="video,start,end"):
        load_dataset("csv", own, labels=own / "bad.csv")
    with pytest.raises(InputError, match="unknown dataset kind"):
        load_dataset("kinetics", own)


def _odd_and_calm(tmp_path) -> Path:
    """A csv dataset: an 8 s video with a labelled anomaly at frames 40-54, and a calm one."""
    root = tmp_path / "data"
    root.mkdir()
    make_video(root / "odd.mp4", n_frames=80, fps=10, anomaly=range(40, 55))
    make_video(root / "calm.mp4", n_frames=80, fps=10)
    (root / "labels.csv").write_text("video,start,end\nodd,40,54\n")
    return root


def test_eval_on_a_synthetic_dataset_with_the_detect_path(tmp_path):
    root = _odd_and_calm(tmp_path)
    report = evaluate(load_dataset("csv", root), DetectConfig(sampling=Sampling(fps=5), progress=False, smooth_s=1))
    s = report.summary
    assert s["n_videos"] == 2 and s["n_frames"] == 160 and s["n_anomalous_frames"] == 15
    assert s["auc"] > 0.8 and 0 < s["ap"] <= 1 and s["pr_auc"] is not None
    with pytest.raises(ConfigError, match="text"):
        evaluate(load_dataset("csv", root), DetectConfig(method="text-sim"))


def test_eval_cli_json_and_plots(shared, tmp_path):
    r = runner.invoke(
        app,
        [
            "eval",
            "--dataset",
            "ucf-crime",
            "--root",
            str(shared / "ucf_crime"),
            "--fps",
            "1",
            "--json",
            "--out",
            str(tmp_path / "plots"),
        ],
    )
    assert r.exit_code == 0, r.output
    data = json.loads(r.stdout)
    for key in ("auc", "ap", "pr_auc", "n_videos", "n_frames", "macro_auc", "eer", "per_video"):
        assert key in data
    assert data["n_videos"] == 4 and data["n_frames"] == 743 + 1105 + 3600 + 243
    assert 0.5 < data["auc"] <= 1
    assert (tmp_path / "plots" / "roc_pr.png").exists() and (tmp_path / "plots" / "Arson009_x264.png").exists()
    r = runner.invoke(app, ["eval", "--dataset", "ucf-crime", "--root", str(tmp_path / "nowhere")])
    assert r.exit_code == 2 and "not found" in r.stderr


def test_text_baseline_on_real_descriptions(shared):
    videos = load_dataset("segment-text", shared / "ucf_descriptions")[:6]
    report = evaluate(videos, DetectConfig(method="text-sim", folder_fps=30, progress=False))
    assert report.model == "minilm-l6" and report.summary["n_videos"] == 6
    assert all(len(v.scores) == v.result.info.frame_count for v in report.videos)


def test_threshold_sweep_from_the_cli(tmp_path):
    from oddsight.evaluate.sweep import threshold_sweep

    root = _odd_and_calm(tmp_path)
    config = DetectConfig(sampling=Sampling(fps=5), progress=False, smooth_s=1)
    report = evaluate(load_dataset("csv", root), config)
    low, high = threshold_sweep(report, config, [0.0, 1e9])
    assert low["event_recall"] == 1.0 and low["false_alarms_per_hour"] > 0  # everything is one event
    assert high["event_recall"] == 0.0 and high["event_precision"] is None and high["false_alarms_per_hour"] == 0
    out = tmp_path / "out"
    args = ["eval", "--dataset", "csv", "--root", str(root), "--fps", "5", "--smooth", "1", "--out", str(out)]
    r = CliRunner().invoke(app, [*args, "--sweep", "threshold"])
    assert r.exit_code == 0, r.output
    assert "threshold precision" in r.stdout and "<- default" in r.stdout
    saved = json.loads((out / "eval.json").read_text())["sweep"]
    assert len(saved) >= 10 and all(set(row) >= {"threshold", "event_precision", "event_f1"} for row in saved)
    assert (out / "sweep.png").read_bytes()[:4] == b"\x89PNG"
    r = CliRunner().invoke(app, [*args, "--sweep", "nu"])
    assert r.exit_code == 2 and "--sweep takes 'threshold'" in r.stderr
