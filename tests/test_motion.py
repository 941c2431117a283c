"""Motion features on a grid of cells, per-location scoring, and frame pairs from the sources."""

from __future__ import annotations

import numpy as np
import pytest

from oddsight.detectors.cells import cell_distances, neighbours, top_mean
from oddsight.detectors.novelty import NoveltyDetector
from oddsight.detectors.oneclass import OneClassDetector
from oddsight.detectors.persist import load_detector, save_detector
from oddsight.features.types import Features
from oddsight.models.loader import load_image_encoder
from oddsight.video.sampling import Sampling
from oddsight.video.source import VideoInfo, open_source

GRID = 16
CELLS = GRID * GRID


def _pair(shift: int) -> np.ndarray:
    """(1, 2, 240, 320, 3): a textured square at (40, 40), then moved right by ``shift`` pixels."""
    rng = np.random.default_rng(0)
    patch = rng.integers(0, 255, (40, 40, 3), dtype=np.uint8)
    frames = np.full((2, 240, 320, 3), 90, dtype=np.uint8)
    frames[0, 40:80, 40:80] = patch
    frames[1, 40:80, 40 + shift : 80 + shift] = patch
    return frames[None]


def test_motion_encoder_sees_where_something_moved():
    encoder = load_image_encoder("motion")
    assert encoder.input_size == (320, 240) and encoder.dim == CELLS * 4 and encoder.needs_previous
    still = encoder.embed(encoder.preprocess(_pair(0)))
    assert still.shape == (1, CELLS * 4) and np.allclose(still, 0.0)
    moved = encoder.embed(encoder.preprocess(_pair(6))).reshape(CELLS, 4)
    busiest = set(np.argsort(moved[:, 0])[-4:])  # the cells with the most flow
    rows, cols = np.divmod(np.array(sorted(busiest)), GRID)
    assert rows.min() >= 2 and rows.max() <= 5 and cols.min() >= 2 and cols.max() <= 6  # around the square
    assert moved[:, 3].max() > 3  # log1p of a large grey difference


def test_neighbours_of_a_corner_and_of_the_middle():
    near = neighbours(4)
    assert near.shape == (16, 9)
    assert set(near[0]) == {0, 1, 4, 5}  # a corner has 3 neighbours, padded with itself
    assert set(near[5]) == {0, 1, 2, 4, 5, 6, 8, 9, 10}


def test_cell_distances_equal_brute_force():
    rng = np.random.default_rng(1)
    grid, dims = 4, 3
    query = rng.normal(size=(7, grid * grid, dims)).astype(np.float32)
    memory = rng.normal(size=(11, grid * grid, dims)).astype(np.float32)
    allowed = rng.random((7, 11)) > 0.4
    allowed[3] = False  # a frame with no memory it may use scores 0
    got = cell_distances(query, memory, grid, allowed)
    near = neighbours(grid)
    for i in range(7):
        for c in range(grid * grid):
            options = [np.linalg.norm(query[i, c] - memory[j, k]) for j in range(11) if allowed[i, j] for k in near[c]]
            assert got[i, c] == pytest.approx(min(options) if options else 0.0, abs=1e-4)
    assert np.allclose(top_mean(got, 3), np.sort(got, axis=1)[:, -3:].mean(axis=1))


def _cell_features(n=80, odd=range(50, 56), seed=0) -> Features:
    """Motion-like cell features: calm everywhere, one cell racing during ``odd``."""
    rng = np.random.default_rng(seed)
    x = np.abs(rng.normal(0.5, 0.1, size=(n, CELLS, 4))).astype(np.float32)
    for i in odd:
        x[i, 37] += 4.0
    info = VideoInfo("cells", "file", 320, 240, 10.0, n * 5, n / 2)
    return Features(x.reshape(n, -1), np.arange(n) * 5, np.arange(n) / 2.0, info, "motion", "fps2")


def test_novelty_on_cells_finds_the_one_racing_cell():
    features = _cell_features()
    detector = NoveltyDetector()
    scores = detector.score(features)
    assert scores.shape == (80,) and np.all(np.isfinite(scores))
    assert set(np.argsort(scores)[-6:]) == set(range(50, 56))
    assert detector.default_threshold() == 1.25  # the cell threshold, not the cosine one
    assert NoveltyDetector(memory=16).score(features)[50:56].min() > np.median(scores)  # bounded memory too


def test_oneclass_knn_on_cells_fits_saves_and_scores_the_same(tmp_path):
    normal = [_cell_features(odd=range(0), seed=s) for s in (1, 2)]
    detector = OneClassDetector(kind="knn", memory=64).fit(normal)
    assert detector.grid_ == GRID and detector.train_.shape == (64, CELLS, 4)
    odd = _cell_features(seed=3)
    scores = detector.score(odd)
    assert scores[50:56].min() > detector.threshold_ > np.median(scores)
    path = save_detector(detector, tmp_path / "site.oddsight")
    again = load_detector(path, expect_encoder="motion")
    np.testing.assert_allclose(again.score(odd), scores, rtol=1e-6)


def test_sources_pair_each_kept_frame_with_the_one_before(video, frame_folder):
    for spec in (video, frame_folder):
        every = [f.image for f in open_source(spec).frames(Sampling(fps=None, stride=1), (32, 24))]
        kept = list(open_source(spec).frames(Sampling(fps=None, stride=3), (32, 24), previous=True))
        assert [f.index for f in kept] == list(range(0, len(every), 3))
        assert np.array_equal(kept[0].previous, every[1])  # the first frame pairs with the one after it
        for f in kept[1:]:
            assert np.array_equal(f.previous, every[f.index - 1]) and np.array_equal(f.image, every[f.index])
        assert all(f.previous is None for f in open_source(spec).frames(Sampling(fps=None, stride=3), (32, 24)))


def test_motion_starts_on_small_batches_with_the_same_features(video):
    """The motion encoder's rows do not depend on their batch: its first batches are 1, 2, 4, ... frames (the
    encoder starts before a whole batch is decoded) and its features equal those of whole batches."""
    from oddsight.features.extract import extract_features

    encoder = load_image_encoder("motion")
    sizes: list[int] = []
    embed = encoder.embed
    encoder.embed = lambda grey: sizes.append(len(grey)) or embed(grey)
    ramped = extract_features(open_source(video), encoder, Sampling(fps=None, stride=1), batch_size=8, progress=False)
    assert sizes == [1, 2, 4, 8, 8, 8, 8, 8, 8, 5]
    encoder.batch_invariant = False
    sizes.clear()
    whole = extract_features(open_source(video), encoder, Sampling(fps=None, stride=1), batch_size=8, progress=False)
    assert sizes == [8] * 7 + [4]
    np.testing.assert_array_equal(ramped.embeddings, whole.embeddings)
