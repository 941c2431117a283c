from __future__ import annotations

import numpy as np
import pytest

from oddsight.config import DetectConfig
from oddsight.detection import Detection, detect
from oddsight.features.cache import FeatureCache, content_hash
from oddsight.video.sampling import Sampling
from tests.tiny_models import save_tiny_clip


def test_detect_scores_every_frame_and_finds_the_anomaly(video):
    result = detect(video, DetectConfig(sampling=Sampling(fps=5), progress=False, smooth_s=0))
    assert len(result.frame_scores) == 60 and len(result.sample_scores) == 30
    assert result.model_id == "motion" and not result.from_cache
    inside = result.frame_scores[30:40].mean()
    outside = np.median(np.r_[result.frame_scores[:25], result.frame_scores[45:]])
    assert inside > 3 * outside


def test_warm_run_reads_the_cache_without_decoding_or_encoding(video, monkeypatch):
    config = DetectConfig(sampling=Sampling(fps=5), progress=False)
    cold = Detection(config).run(video)
    assert not cold.from_cache

    def no_decoding(*args, **kwargs):
        raise AssertionError("the video was opened again")

    monkeypatch.setattr("oddsight.pipeline.open_source", no_decoding)
    monkeypatch.setattr("oddsight.models.loader.load_image_encoder", no_decoding)
    warm = Detection(DetectConfig(sampling=Sampling(fps=5), progress=False, threshold=0.01, smooth_s=1)).run(video)
    assert warm.from_cache
    np.testing.assert_allclose(warm.sample_scores, cold.sample_scores)
    assert warm.threshold == 0.01


def test_a_rerun_with_other_options_takes_the_scores_from_the_memo(video, monkeypatch):
    config = DetectConfig(sampling=Sampling(fps=5), progress=False)
    cold = Detection(config).run(video)
    memo = list((FeatureCache().root / "scores").rglob("*.npy"))
    assert len(memo) == 1

    def no_scoring(*args, **kwargs):
        raise AssertionError("the cells were compared again")

    with monkeypatch.context() as patched:
        patched.setattr("oddsight.detectors.novelty.cell_distances", no_scoring)
        warm = Detection(DetectConfig(sampling=Sampling(fps=5), progress=False, threshold=0.5, smooth_s=1)).run(video)
    np.testing.assert_array_equal(warm.sample_scores, cold.sample_scores)
    assert warm.events and warm.events[0].box == cold.events[0].box  # the explanation compares with the video too

    session = Detection(config)
    session.visual.detector.gap_s = 1.0
    other = session.run(video)
    assert len(list((FeatureCache().root / "scores").rglob("*.npy"))) == 2  # other parameters: scored anew
    assert not np.array_equal(other.sample_scores, cold.sample_scores)

    memo[0].write_bytes(b"garbage")  # an unreadable entry is worked out again, the same
    again = Detection(config).run(video)
    np.testing.assert_array_equal(again.sample_scores, cold.sample_scores)
    assert np.load(memo[0], allow_pickle=False).shape == (30,)


def test_no_cache_keeps_no_scores(video):
    Detection(DetectConfig(sampling=Sampling(fps=5), progress=False, use_cache=False)).run(video)
    assert not (FeatureCache().root / "scores").exists()


def test_cache_keys_differ_by_sampling_and_content(video, tmp_path):
    cache = FeatureCache(tmp_path / "cache")
    session = Detection(DetectConfig(sampling=Sampling(fps=5), progress=False), cache=cache)
    session.run(video)
    other = Detection(DetectConfig(sampling=Sampling(fps=2), progress=False), cache=cache).run(video)
    assert not other.from_cache and len(other.sample_scores) == 12
    digest = content_hash(video)
    video.write_bytes(video.read_bytes() + b"\0")  # changed content, new hash
    assert content_hash(video) != digest


def test_corrupt_cache_entry_is_recomputed(video):
    config = DetectConfig(sampling=Sampling(fps=5), progress=False)
    Detection(config).run(video)
    for f in FeatureCache().root.rglob("*.npz"):
        f.write_bytes(b"garbage")
    again = Detection(config).run(video)
    assert not again.from_cache and len(again.sample_scores) == 30


def test_zeroshot_end_to_end_with_a_tiny_clip(video, tmp_path):
    folder = save_tiny_clip(tmp_path / "tiny-clip")
    config = DetectConfig(
        method="zeroshot",
        model_path=str(folder),
        sampling=Sampling(fps=5),
        progress=False,
        anomaly_prompts=["a fire", "a car crash"],
        normal_prompts=["people walking"],
        threshold=0.0,
    )
    result = detect(video, config)
    assert result.model_id == "clip-vit-b32"
    assert ((result.sample_scores >= 0) & (result.sample_scores <= 1)).all()
    assert result.events and result.events[0].label in ("a fire", "a car crash")


def test_oneclass_needs_a_detector_file(video):
    from oddsight.errors import ConfigError

    with pytest.raises(ConfigError, match="--detector"):
        detect(video, DetectConfig(method="oneclass", progress=False))
