"""DINOv2 through ONNX Runtime: the default, offline visual encoder."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from oddsight.errors import ModelFileError
from oddsight.models.base import normalize_images
from oddsight.models.registry import ModelSpec
from oddsight.threads import threads


def ort_providers(device: str) -> list[str]:
    import onnxruntime as ort

    available = ort.get_available_providers()
    if device in ("auto", "cuda") and "CUDAExecutionProvider" in available:
        return ["CUDAExecutionProvider", "CPUExecutionProvider"]
    return ["CPUExecutionProvider"]


class OnnxDinov2:
    """Embedding = [CLS token, mean of patch tokens] of the last layer (2 x 384 = 768-d)."""

    def __init__(self, spec: ModelSpec, onnx_file: Path, *, device: str = "auto"):
        import onnxruntime as ort

        self.spec = spec
        size = spec.input_size or 224
        self.input_size = (size, size)
        self.model_id = spec.id
        options = ort.SessionOptions()
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        options.intra_op_num_threads = threads() or (os.cpu_count() or 1)
        # no busy-waiting between ops: the decoding thread needs those cycles on small machines
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        try:
            self.session = ort.InferenceSession(str(onnx_file), options, providers=ort_providers(device))
        except Exception as exc:
            raise ModelFileError(f"{onnx_file}: not a loadable ONNX model ({type(exc).__name__})") from None
        self.input_name = self.session.get_inputs()[0].name
        self.dim = 2 * int(self.session.get_outputs()[0].shape[-1])

    def preprocess(self, images: np.ndarray) -> np.ndarray:
        assert self.spec.mean is not None and self.spec.std is not None
        return normalize_images(images, self.spec.mean, self.spec.std)

    def embed(self, tensor: np.ndarray) -> np.ndarray:
        (tokens,) = self.session.run(None, {self.input_name: tensor})
        return np.concatenate([tokens[:, 0], tokens[:, 1:].mean(axis=1)], axis=1).astype(np.float32)
