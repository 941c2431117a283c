"""Sentence embeddings with a transformers encoder and mean pooling (MiniLM and the like)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from oddsight.models.base import l2_normalize
from oddsight.models.hf_vision import _from_pretrained, torch_device
from oddsight.models.registry import ModelSpec


class HfTextEncoder:
    def __init__(self, spec: ModelSpec, folder: Path, *, device: str = "auto", batch_size: int = 64) -> None:
        from transformers import AutoModel, AutoTokenizer

        self.model_id = spec.id
        self.device = torch_device(device)
        self.model = _from_pretrained(AutoModel, folder).to(self.device).eval()
        self.tokenizer = _from_pretrained(AutoTokenizer, folder)
        self.batch_size = batch_size

    def encode_text(self, texts: list[str]) -> np.ndarray:
        import torch

        chunks = []
        for i in range(0, len(texts), self.batch_size):
            batch = self.tokenizer(
                texts[i : i + self.batch_size], padding=True, truncation=True, max_length=256, return_tensors="pt"
            ).to(self.device)
            with torch.inference_mode():
                hidden = self.model(**batch).last_hidden_state
            mask = batch["attention_mask"].unsqueeze(-1).to(hidden.dtype)
            pooled = (hidden * mask).sum(1) / mask.sum(1).clamp(min=1e-9)
            chunks.append(pooled.float().cpu().numpy())
        return l2_normalize(np.concatenate(chunks)) if chunks else np.zeros((0, 0), np.float32)
