"""Text-only scoring: how much closer a description is to anomaly prompts than to normal ones.

A baseline for the "captions are given" setting (per-frame or per-segment descriptions): each
text's score is its best cosine similarity to the anomaly prompts minus its best similarity to
the normal prompts, with a sentence encoder (default: the offline MiniLM). Identical texts are
encoded once.
"""

from __future__ import annotations

import numpy as np

from oddsight.detectors.zeroshot import default_prompts
from oddsight.models.base import TextEncoder


class TextSimilarityScorer:
    name = "text-sim"

    def __init__(
        self,
        encoder: TextEncoder,
        anomaly_prompts: list[str] | None = None,
        normal_prompts: list[str] | None = None,
        threshold: float = 0.0,
    ) -> None:
        self.encoder = encoder
        self.anomaly_prompts = anomaly_prompts or default_prompts()["anomaly"]
        self.normal_prompts = normal_prompts or default_prompts()["normal"]
        self.threshold = threshold
        self._prompts: np.ndarray | None = None

    def score_texts(self, texts: list[str]) -> np.ndarray:
        if self._prompts is None:
            self._prompts = self.encoder.encode_text(self.anomaly_prompts + self.normal_prompts)
        unique, inverse = np.unique(np.asarray(texts, dtype=object), return_inverse=True)
        emb = self.encoder.encode_text([str(t) for t in unique])
        sims = emb @ self._prompts.T
        n_anomaly = len(self.anomaly_prompts)
        per_text = sims[:, :n_anomaly].max(axis=1) - sims[:, n_anomaly:].max(axis=1)
        return per_text[inverse.ravel()].astype(np.float32)

    def default_threshold(self) -> float:
        return self.threshold

    def get_params(self) -> dict[str, object]:
        return {
            "model": self.encoder.model_id,
            "anomaly_prompts": self.anomaly_prompts,
            "normal_prompts": self.normal_prompts,
            "threshold": self.threshold,
        }
