"""Anomaly detectors: one contract (``fit`` optional, ``score`` -> one float per sampled frame,
higher = more anomalous), and a pickle-free file format for fitted ones."""

from oddsight.detectors.base import Detector
from oddsight.detectors.novelty import NoveltyDetector
from oddsight.detectors.oneclass import OneClassDetector
from oddsight.detectors.registry import make_detector
from oddsight.detectors.zeroshot import ZeroShotDetector

__all__ = ["Detector", "NoveltyDetector", "OneClassDetector", "ZeroShotDetector", "make_detector"]
