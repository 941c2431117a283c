"""Captioners: frames -> one description each.

- ``hf:<model or folder>``: a transformers image-to-text model (BLIP, GIT, Florence-2, ...) from
  the hub or a local folder, greedy decoding.
- ``openai:<base url>#<model>``: a VLM behind an OpenAI-compatible chat endpoint, sent each frame
  as a JPEG image part.
"""

from __future__ import annotations

import base64
import io
from pathlib import Path
from typing import Protocol

import numpy as np

from oddsight.errors import ConfigError, LLMError, ModelFileError, ModelUnavailableError

CAPTION_PROMPT = "Describe in one sentence what is happening in this surveillance camera frame."


class Captioner(Protocol):
    model_id: str
    input_size: tuple[int, int]  # frames are resized to this (width, height) before captioning

    def caption(self, images: list[np.ndarray]) -> list[str]:
        """RGB uint8 frames -> one description each."""
        ...


class HfCaptioner:
    """A transformers image-to-text model; ``source`` is a hub id or a local folder."""

    def __init__(
        self, source: str, *, device: str = "auto", prompt: str | None = None, max_new_tokens: int = 40
    ) -> None:
        from oddsight.models.loader import require

        require("transformers", "transformers")
        import transformers

        from oddsight.models.hf_vision import torch_device

        folder = Path(source)
        if not folder.exists() and ("/" not in source or source.startswith((".", "/"))):
            raise ModelUnavailableError(f"captioner {source}: no such folder (or give a hub id like org/name)")
        self.model_id = folder.name if folder.exists() else source
        self.device = torch_device(device)
        self.prompt = prompt
        self.max_new_tokens = max_new_tokens
        transformers.utils.logging.set_verbosity_error()
        transformers.utils.logging.disable_progress_bar()
        try:
            self.processor = transformers.AutoProcessor.from_pretrained(source)
        except (OSError, ValueError, KeyError) as exc:
            raise ModelFileError(f"captioner {source}: cannot load its processor ({type(exc).__name__})") from None
        self.model = None
        for name in ("AutoModelForImageTextToText", "AutoModelForVision2Seq", "AutoModelForCausalLM"):
            auto = getattr(transformers, name, None)
            if auto is None:
                continue
            try:
                self.model = auto.from_pretrained(source).to(self.device).eval()
                break
            except ValueError:  # this auto class does not know the architecture: try the next
                continue
            except OSError as exc:
                raise ModelFileError(f"captioner {source}: cannot load its weights ({exc})") from None
        if self.model is None:
            raise ModelFileError(f"captioner {source}: not an image-to-text model transformers can load")
        size = getattr(getattr(self.processor, "image_processor", None), "size", None) or {}
        side = int(size.get("height") or size.get("shortest_edge") or 384)
        self.input_size = (side, side)

    def caption(self, images: list[np.ndarray]) -> list[str]:
        import torch
        from PIL import Image

        pil = [Image.fromarray(im) for im in images]
        kwargs = {"images": pil, "return_tensors": "pt"}
        if self.prompt:
            kwargs["text"] = [self.prompt] * len(pil)
        inputs = self.processor(**kwargs).to(self.device)
        with torch.inference_mode():
            out = self.model.generate(**inputs, max_new_tokens=self.max_new_tokens, do_sample=False)
        if self.prompt and "input_ids" in inputs and not self.model.config.is_encoder_decoder:
            out = out[:, inputs["input_ids"].shape[1] :]
        return [t.strip() for t in self.processor.batch_decode(out, skip_special_tokens=True)]


class OpenAIVisionCaptioner:
    """A VLM behind an OpenAI-compatible ``/chat/completions``; frames go as base64 JPEG parts."""

    def __init__(
        self, base_url: str, model: str, *, prompt: str = CAPTION_PROMPT, side: int = 448, concurrency: int = 4
    ) -> None:
        from oddsight.llm.openai_http import OpenAIChat

        self.client = OpenAIChat(base_url, model, concurrency=concurrency)
        self.model_id = f"{model}@{self.client.base_url}"
        self.prompt = prompt
        self.input_size = (side, side)

    def _one(self, image: np.ndarray) -> str:
        from PIL import Image

        buf = io.BytesIO()
        Image.fromarray(image).save(buf, format="JPEG", quality=88)
        url = "data:image/jpeg;base64," + base64.b64encode(buf.getvalue()).decode()
        content = [{"type": "text", "text": self.prompt}, {"type": "image_url", "image_url": {"url": url}}]
        reply = self.client.post(
            "/chat/completions",
            {
                "model": self.client.model_id,
                "messages": [{"role": "user", "content": content}],
                "max_tokens": 80,
                "temperature": 0,
            },
        )
        try:
            return str(reply["choices"][0]["message"]["content"]).strip()
        except (KeyError, IndexError, TypeError):
            raise LLMError(f"VLM server {self.client.base_url} sent a reply without a caption") from None

    def caption(self, images: list[np.ndarray]) -> list[str]:
        from concurrent.futures import ThreadPoolExecutor

        with ThreadPoolExecutor(self.client.concurrency) as pool:
            return list(pool.map(self._one, images))


def make_captioner(spec: str, *, device: str = "auto") -> Captioner:
    """``hf:<hub id or folder>`` or ``openai:<base url>#<model>``."""
    kind, _, rest = spec.partition(":")
    if kind == "hf" and rest:
        return HfCaptioner(rest, device=device)
    if kind == "openai":
        from oddsight.llm.openai_http import parse_endpoint

        return OpenAIVisionCaptioner(*parse_endpoint(spec))
    raise ConfigError(f"captioner must be 'hf:<model or folder>' or 'openai:<url>#<model>', got {spec!r}")
