"""Zero-shot scoring against 'normal' and 'anomalous' text prompts with an image-text model.

Each prompt becomes an ensemble: it is put into every template, the template embeddings are
L2-normalised, averaged and normalised again (as open_clip does). A frame's score is the softmax
probability, at ``temperature`` (default: the model's own logit scale), summed over the anomaly
prompts; 0.5 means 'as likely anomalous as normal'.
"""

from __future__ import annotations

import json
from functools import cache
from importlib import resources
from typing import Any

import numpy as np

from oddsight.detectors.base import Detector, row_blocks
from oddsight.errors import ConfigError
from oddsight.features.types import Features
from oddsight.models.base import TextEncoder, l2_normalize


@cache
def default_prompts() -> dict[str, list[str]]:
    """The built-in surveillance prompt set (``prompts.json`` beside this module)."""
    return json.loads(resources.files("oddsight.detectors").joinpath("prompts.json").read_text())


class ZeroShotDetector(Detector):
    name = "zeroshot"

    def __init__(
        self,
        text_encoder: TextEncoder | None = None,
        anomaly_prompts: list[str] | None = None,
        normal_prompts: list[str] | None = None,
        templates: list[str] | None = None,
        temperature: float | None = None,
        threshold: float = 0.5,
    ) -> None:
        self.text_encoder = text_encoder
        self.anomaly_prompts = anomaly_prompts
        self.normal_prompts = normal_prompts
        self.templates = templates
        self.temperature = temperature
        self.threshold = threshold

    def _class_embeddings(self) -> tuple[np.ndarray, int]:
        if getattr(self, "classes_", None) is not None:
            return self.classes_, self.n_normal_
        if self.text_encoder is None:
            raise ConfigError("zeroshot needs an image-text model (e.g. --model clip-vit-b32)")
        defaults = default_prompts()
        anomaly = self.anomaly_prompts or defaults["anomaly"]
        normal = self.normal_prompts or defaults["normal"]
        templates = self.templates or defaults["templates"]
        if any("{}" not in t for t in templates):
            raise ConfigError("every prompt template needs a '{}' placeholder")
        prompts = normal + anomaly
        texts = [t.format(p) for p in prompts for t in templates]
        emb = l2_normalize(np.asarray(self.text_encoder.encode_text(texts), dtype=np.float32))
        emb = emb.reshape(len(prompts), len(templates), -1).mean(axis=1)
        self.classes_ = l2_normalize(emb)
        self.n_normal_ = len(normal)
        self.prompts_ = prompts
        return self.classes_, self.n_normal_

    def score(self, features: Features) -> np.ndarray:
        return self.class_probabilities(features)[:, self._class_embeddings()[1] :].sum(axis=1)

    def class_probabilities(self, features: Features) -> np.ndarray:
        """(n_frames, n_prompts) softmax probabilities, normal prompts first."""
        classes, _ = self._class_embeddings()
        encoder_id = getattr(self.text_encoder, "model_id", features.model_id)
        if features.model_id != encoder_id:
            raise ConfigError(f"zeroshot text model {encoder_id} does not match image features of {features.model_id}")
        x = self._check_features(features)
        if x.shape[1] != classes.shape[1]:
            raise ConfigError(f"image embeddings are {x.shape[1]}-d but text embeddings {classes.shape[1]}-d")
        temperature = self.temperature or float(getattr(self.text_encoder, "logit_scale", 100.0))
        out = np.empty((len(x), len(classes)), dtype=np.float32)
        for rows in row_blocks(len(x)):
            logits = temperature * (l2_normalize(x[rows].astype(np.float32)) @ classes.T)
            logits -= logits.max(axis=1, keepdims=True)
            p = np.exp(logits)
            out[rows] = p / p.sum(axis=1, keepdims=True)
        return out

    def top_prompt(self, features: Features) -> list[str]:
        """The most probable anomaly prompt for each frame (the 'what' of an event)."""
        probs = self.class_probabilities(features)
        n_normal = self.n_normal_
        return [self.prompts_[n_normal + i] for i in probs[:, n_normal:].argmax(axis=1)]

    def default_threshold(self) -> float:
        return self.threshold

    def get_params(self) -> dict[str, Any]:
        params = super().get_params()
        params.pop("text_encoder", None)
        return params
