from __future__ import annotations

import json
import zipfile

import numpy as np
import pytest
from sklearn.svm import OneClassSVM

from oddsight.detectors import NoveltyDetector, OneClassDetector, ZeroShotDetector
from oddsight.detectors.persist import load_detector, save_detector
from oddsight.errors import ConfigError, ModelFileError
from tests.helpers import FakeTextEncoder, synthetic_features

ANOMALOUS = list(range(40, 46))


def zeroshot_for(features):
    x = features.embeddings
    normal_dir = x[:30].mean(0)
    odd_dir = x[ANOMALOUS].mean(0) - normal_dir
    enc = FakeTextEncoder({"calm": normal_dir, "odd": odd_dir})
    return ZeroShotDetector(enc, anomaly_prompts=["odd"], normal_prompts=["calm"], templates=["{}"])


def all_detectors(features):
    normal = synthetic_features(seed=1, anomalous=range(0))
    return {
        "novelty": NoveltyDetector(gap_s=4.0),  # wider than the 3 s anomaly
        "oneclass-ocsvm": OneClassDetector(kind="ocsvm").fit([normal]),
        "oneclass-knn": OneClassDetector(kind="knn").fit([normal]),
        "zeroshot": zeroshot_for(features),
    }


def test_contract_every_detector_scores_anomalies_higher():
    features = synthetic_features()
    for name, det in all_detectors(features).items():
        s = det.score(features)
        assert s.shape == (len(features),), name
        assert np.isfinite(s).all(), name
        normal = np.delete(s, ANOMALOUS)
        assert s[ANOMALOUS].min() > np.median(normal), name
        assert s[ANOMALOUS].mean() > normal.mean() + 3 * normal.std(), name
        assert isinstance(det.default_threshold(), float), name
        params = det.get_params()
        assert not any(k.endswith("_") for k in params), name


def test_oneclass_numpy_decision_equals_sklearn():
    normal = synthetic_features(seed=3, anomalous=range(0))
    test = synthetic_features(seed=4)
    det = OneClassDetector(kind="ocsvm", nu=0.1).fit([normal])
    x = normal.embeddings.astype(np.float64)
    xs = (x - x.mean(0)) / x.std(0)
    ref = OneClassSVM(nu=0.1, gamma="scale").fit(xs)
    ts = (test.embeddings - x.mean(0)) / x.std(0)
    np.testing.assert_allclose(det.score(test), -ref.decision_function(ts), rtol=1e-4, atol=1e-5)


def test_novelty_handles_a_video_shorter_than_its_gap():
    short = synthetic_features(n=3, anomalous=range(0))
    assert NoveltyDetector(gap_s=10).score(short).tolist() == [0, 0, 0]


def test_oneclass_needs_fit_and_matching_encoder():
    with pytest.raises(ConfigError, match="not fitted"):
        OneClassDetector().score(synthetic_features())
    det = OneClassDetector(kind="knn").fit([synthetic_features(anomalous=range(0))])
    with pytest.raises(ConfigError, match="fitted on test-model"):
        det.score(synthetic_features(model_id="other-model"))
    with pytest.raises(ConfigError, match="kind"):
        OneClassDetector(kind="svm").fit([synthetic_features()])


@pytest.mark.parametrize("kind", ["ocsvm", "knn"])
def test_save_load_roundtrip_without_pickle(tmp_path, kind):
    det = OneClassDetector(kind=kind).fit([synthetic_features(anomalous=range(0))])
    path = save_detector(det, tmp_path / "site.oddsight")
    with zipfile.ZipFile(path) as zf:
        manifest = json.loads(zf.read("manifest.json"))
        assert set(zf.namelist()) == {"manifest.json", "arrays.npz"}
    assert manifest["format"] == "oddsight-detector" and manifest["version"] == 1
    assert manifest["encoder"] == "test-model" and manifest["oddsight_version"]
    loaded = load_detector(path, expect_encoder="test-model")
    test = synthetic_features(seed=9)
    np.testing.assert_allclose(loaded.score(test), det.score(test), rtol=1e-6)
    assert loaded.default_threshold() == det.default_threshold()
    with pytest.raises(ModelFileError, match="fitted on test-model"):
        load_detector(path, expect_encoder="dinov2-small")


def test_corrupt_and_foreign_detector_files(tmp_path):
    (tmp_path / "junk.oddsight").write_bytes(b"\x80\x04pickle-ish bytes")
    with pytest.raises(ModelFileError, match="not an oddsight detector"):
        load_detector(tmp_path / "junk.oddsight")
    with zipfile.ZipFile(tmp_path / "future.oddsight", "w") as zf:
        zf.writestr("manifest.json", json.dumps({"format": "oddsight-detector", "version": 99}))
        zf.writestr("arrays.npz", b"")
    with pytest.raises(ModelFileError, match="version 99"):
        load_detector(tmp_path / "future.oddsight")
    with pytest.raises(ModelFileError, match="no such detector"):
        load_detector(tmp_path / "missing.oddsight")


def test_zeroshot_prompt_ensembles_and_labels():
    features = synthetic_features()
    det = zeroshot_for(features)
    probs = det.class_probabilities(features)
    np.testing.assert_allclose(probs.sum(1), 1, atol=1e-5)
    labels = det.top_prompt(features)
    assert labels[ANOMALOUS[0]] == "odd"
    with pytest.raises(ConfigError, match="placeholder"):
        ZeroShotDetector(FakeTextEncoder({}), templates=["no placeholder"]).score(features)
    with pytest.raises(ConfigError, match="does not match"):
        zeroshot_for(features).score(synthetic_features(model_id="other"))


def test_blocked_novelty_equals_brute_force_across_block_boundaries():
    from oddsight.detectors.base import unit_halves

    features = synthetic_features(n=2500, dim=16, anomalous=range(0))
    features.embeddings = features.embeddings.astype(np.float16)
    x = unit_halves(features.embeddings)
    dist = 1.0 - x @ x.T
    t = features.timestamps
    dist[np.abs(t[:, None] - t[None, :]) <= 2.0] = np.inf
    expected = np.sort(dist, axis=1)[:, :3].mean(axis=1)
    np.testing.assert_allclose(NoveltyDetector(k=3, gap_s=2.0).score(features), expected, rtol=1e-4, atol=1e-6)


def test_the_live_nearest_cell_search_equals_the_batch_one():
    """`nearest_in` (one live frame, the memory kept gathered, no loop over cells) gives what `cell_distances`
    gives for the same frame, memory and feature spread."""
    from oddsight.detectors.cells import cell_distances, gather_near, nearest_in

    rng = np.random.default_rng(3)
    memory = rng.random((40, 64, 4)).astype(np.float32)
    query = rng.random((64, 4)).astype(np.float32)
    scale = np.array([0.5, 1.0, 2.0, 0.25], np.float32)
    batch = cell_distances((query / scale)[None], memory / scale, 8)[0]
    live = np.sqrt(nearest_in(query, gather_near(memory, 8), 1.0 / scale**2))
    np.testing.assert_allclose(live, batch, rtol=1e-4, atol=1e-5)
    assert np.isinf(nearest_in(query, gather_near(memory[:0], 8), 1.0 / scale**2)).all()
