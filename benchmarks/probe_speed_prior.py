"""Research probe (#21): does a training-free speed prior, fused with today's cell novelty, generalise?

Reads the cached motion features of every dev set (the same features `detect` uses), scores each sampled frame
with today's novelty (offline: whole-video memory) and with variants of a speed prior computed from the same cell
features, and prints micro / macro AUC per set at the sampled frames (a frame-level AUC on the samples, close to
`eval`'s every-frame figure), plus the highest score on the normal video vtest relative to the threshold. Constants
are chosen leave-one-dataset-out: for each held-out set, the variant with the best mean micro AUC on the others.

    .venv/bin/python benchmarks/probe_speed_prior.py
"""

from __future__ import annotations

import itertools
from pathlib import Path

import numpy as np

from oddsight.config import DetectConfig
from oddsight.detectors.cells import as_cells, grid_of
from oddsight.detectors.novelty import NoveltyDetector
from oddsight.evaluate.datasets import load_dataset
from oddsight.evaluate.metrics import roc_auc
from oddsight.pipeline import VisualDetection
from oddsight.video.sampling import Sampling

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT.parent / "shared" / "data"
SETS = {
    "ucf": ("ucf-crime", DATA / "ucf_crime", 2.0, None),
    "ped2": ("frame-labels", DATA / "ucsd_ped2", 10.0, 10.0),
    "avenue": ("frame-labels", DATA / "avenue", 2.0, None),
}


def load(name: str) -> list[tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """Per video: (novelty score, cell features (n, C, 4) float32, labels at the samples)."""
    kind, root, fps, folder_fps = SETS[name]
    config = DetectConfig(sampling=Sampling(fps=fps))
    if folder_fps:
        config.folder_fps = folder_fps
    visual = VisualDetection(config)
    out = []
    for video in load_dataset(kind, root):
        features, _ = visual.features(video.source)
        y = video.labels(features.info.frame_count or int(features.indices[-1]) + 1, features.info.fps)
        labels = y[np.minimum(features.indices, len(y) - 1)]
        novelty = NoveltyDetector().score(features)
        cells = as_cells(features.embeddings, grid_of(features))
        out.append((novelty, cells, labels))
    return out


def speed(cells: np.ndarray, feature: int, top: int) -> np.ndarray:
    """Per frame: the mean of the ``top`` highest cells of one motion feature, undone from log1p."""
    values = np.expm1(cells[:, :, feature].astype(np.float32))
    return np.partition(values, -top, axis=1)[:, -top:].mean(axis=1)


def calibrate(s: np.ndarray) -> np.ndarray:
    low, high = s.min(), np.percentile(s, 99.9)
    return (s - low) / max(high - low, 1e-6)


def fused(novelty: np.ndarray, cells: np.ndarray, variant: tuple) -> np.ndarray:
    """``variant`` = (flow feature, top cells, weight, calibration): 'video' scales both scores to the video's
    own (min, p99.9); 'none' adds the speed in pixels per decoded frame (at 320x240) times the weight."""
    feature, top, weight, how = variant
    if weight == 0:
        return novelty
    prior = speed(cells, feature, top)
    if how == "video":
        return calibrate(novelty) + weight * calibrate(prior)
    if how == "ratio":  # how much faster than the video's own median speed, in log units
        return novelty + weight * np.maximum(np.log((prior + 0.1) / (np.median(prior) + 0.1)), 0.0)
    return novelty + weight * prior


def aucs(videos, variant) -> tuple[float, float]:
    scores = [fused(n, c, variant) for n, c, _ in videos]
    labels = [y for _, _, y in videos]
    micro = roc_auc(np.concatenate(labels), np.concatenate(scores))
    per = [roc_auc(y, s) for y, s in zip(labels, scores, strict=True) if 0 < y.sum() < len(y)]
    return micro, float(np.mean(per))


def main() -> None:
    data = {name: load(name) for name in SETS}
    variants = [
        (0, 1, 0.0, "none"),
        *itertools.product((0,), (3, 10, 30), (0.5, 1.0, 2.0), ("video",)),
        *itertools.product((0,), (3, 10, 30), (0.1, 0.25, 0.5, 1.0), ("none",)),
        *itertools.product((0,), (3, 10, 30), (0.25, 0.5, 1.0, 2.0), ("ratio",)),
    ]
    table = {v: {name: aucs(videos, v) for name, videos in data.items()} for v in variants}
    print("| variant (feature, top cells, weight) | " + " | ".join(SETS) + " |")
    print("|---|" + "---|" * len(SETS))
    for v, row in table.items():
        label = "today's novelty" if v[2] == 0 else f"flow mean, top {v[1]}, w {v[2]}, calibrated {v[3]}"
        print(f"| {label} | " + " | ".join(f"{a:.3f} / {b:.3f}" for a, b in row.values()) + " |")
    for held in SETS:
        others = [s for s in SETS if s != held]
        best = max(variants, key=lambda v: np.mean([table[v][s][0] for s in others]))
        today = table[variants[0]][held][0]
        print(f"held out {held}: chose {best} -> micro {table[best][held][0]:.3f} (today {today:.3f})")


if __name__ == "__main__":
    main()
