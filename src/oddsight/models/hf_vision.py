"""transformers backends: DINOv2 (hub or local folder) and image-text models (CLIP, SigLIP)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from oddsight.errors import ModelFileError
from oddsight.models.base import l2_normalize, normalize_images
from oddsight.models.registry import ModelSpec

CLIP_MEAN = (0.48145466, 0.4578275, 0.40821073)
CLIP_STD = (0.26862954, 0.26130258, 0.27577711)


def torch_device(device: str) -> str:
    import torch

    if device == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    return device


def _from_pretrained(loader, folder: Path):
    from transformers.utils import logging as hf_logging

    hf_logging.set_verbosity_error()  # oddsight reports its own progress and errors
    hf_logging.disable_progress_bar()
    try:
        return loader.from_pretrained(str(folder))
    except (OSError, ValueError, KeyError) as exc:
        raise ModelFileError(f"{folder}: cannot load model ({type(exc).__name__}: {exc})") from None


def _preprocessor_config(folder: Path) -> dict:
    path = folder / "preprocessor_config.json"
    return json.loads(path.read_text()) if path.exists() else {}


class _TorchImageModel:
    mean: tuple[float, ...]
    std: tuple[float, ...]
    device: str

    def preprocess(self, images: np.ndarray) -> np.ndarray:
        return normalize_images(images, self.mean, self.std)

    def _tensor(self, array: np.ndarray):
        import torch

        return torch.from_numpy(array).to(self.device)


class HfDinov2(_TorchImageModel):
    """DINOv2 via transformers; same embedding as the ONNX backend: [CLS, mean of patches]."""

    def __init__(self, spec: ModelSpec, folder: Path, *, device: str = "auto") -> None:
        from transformers import AutoModel

        self.model_id = spec.id
        self.device = torch_device(device)
        self.model = _from_pretrained(AutoModel, folder).to(self.device).eval()
        size = spec.input_size or 224
        self.input_size = (size, size)
        self.mean, self.std = spec.mean or CLIP_MEAN, spec.std or CLIP_STD
        self.dim = 2 * int(self.model.config.hidden_size)

    def embed(self, tensor: np.ndarray) -> np.ndarray:
        import torch

        with torch.inference_mode():
            tokens = self.model(pixel_values=self._tensor(tensor)).last_hidden_state
            out = torch.cat([tokens[:, 0], tokens[:, 1:].mean(dim=1)], dim=1)
        return out.float().cpu().numpy()


def _features(output):
    """transformers 4 returns a tensor from get_*_features, 5 a model output with pooler_output."""
    return output if hasattr(output, "shape") else output.pooler_output


class HfImageText(_TorchImageModel):
    """CLIP or SigLIP: image and text embeddings in one space (L2-normalised), plus the logit scale."""

    def __init__(self, spec: ModelSpec, folder: Path, *, device: str = "auto") -> None:
        from transformers import AutoModel, AutoTokenizer

        self.model_id = spec.id
        self.device = torch_device(device)
        self.model = _from_pretrained(AutoModel, folder).to(self.device).eval()
        if not hasattr(self.model, "get_text_features"):
            raise ModelFileError(f"{folder}: not an image-text model (no text tower)")
        self.tokenizer = _from_pretrained(AutoTokenizer, folder)
        pre = _preprocessor_config(folder)
        vision = getattr(self.model.config, "vision_config", None)
        size = int(getattr(vision, "image_size", 224))
        self.input_size = (size, size)
        self.mean = tuple(pre.get("image_mean", CLIP_MEAN))
        self.std = tuple(pre.get("image_std", CLIP_STD))
        self.dim = int(getattr(self.model.config, "projection_dim", 0) or self._probe_dim())
        self.max_length = int(getattr(self.model.config.text_config, "max_position_embeddings", 77))
        self.logit_scale = float(self.model.logit_scale.exp().item()) if hasattr(self.model, "logit_scale") else 100.0

    def _probe_dim(self) -> int:
        return int(self.encode_text(["a"]).shape[1])

    def embed(self, tensor: np.ndarray) -> np.ndarray:
        import torch

        with torch.inference_mode():
            out = _features(self.model.get_image_features(pixel_values=self._tensor(tensor)))
        return l2_normalize(out.float().cpu().numpy())

    def encode_text(self, texts: list[str]) -> np.ndarray:
        import torch

        tokens = self.tokenizer(
            texts, padding="max_length", truncation=True, max_length=self.max_length, return_tensors="pt"
        )
        tokens = {k: v.to(self.device) for k, v in tokens.items() if k in ("input_ids", "attention_mask")}
        with torch.inference_mode():
            out = _features(self.model.get_text_features(**tokens))
        return l2_normalize(out.float().cpu().numpy())
