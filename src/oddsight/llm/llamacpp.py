"""llama.cpp (GGUF) as an :class:`LLM`, in process, through llama-cpp-python.

Prompts are rendered with the model's own chat template. Consecutive prompts that share a prefix
(the fixed instructions) reuse its KV cache: only the tokens after the shared prefix are evaluated.
Scoring reads the next-token logits once; nothing is sampled.
"""

from __future__ import annotations

import contextlib
import io
import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from oddsight.errors import ModelFileError, ModelUnavailableError
from oddsight.llm.base import LLM, Messages

CHATML = (
    "{% for m in messages %}<|im_start|>{{ m['role'] }}\n{{ m['content'] }}<|im_end|>\n{% endfor %}"
    "{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
)


class LlamaCpp(LLM):
    def __init__(
        self,
        model_path: Path,
        *,
        model_id: str | None = None,
        n_ctx: int = 4096,
        n_threads: int | None = None,
        n_gpu_layers: int = -1,  # all layers on the GPU when llama.cpp was built with one; ignored on CPU builds
    ) -> None:
        try:
            import llama_cpp
            from llama_cpp.llama_chat_format import Jinja2ChatFormatter
        except ImportError:
            raise ModelUnavailableError(
                "the llama.cpp backend needs llama-cpp-python: pip install 'oddsight[llm]' (compiles, 10-20 min)"
            ) from None
        self._lib = llama_cpp
        self.model_path = Path(model_path)
        self.model_id = model_id or self.model_path.stem
        threads = n_threads or max(1, min(8, os.cpu_count() or 1))
        try:
            with _quiet():
                self._llm = llama_cpp.Llama(
                    model_path=str(self.model_path),
                    n_ctx=n_ctx,
                    n_threads=threads,
                    n_gpu_layers=n_gpu_layers,
                    logits_all=False,
                    verbose=False,
                )
        except (ValueError, RuntimeError) as exc:
            raise ModelFileError(f"{self.model_path}: llama.cpp cannot load this model ({exc})") from None
        meta = self._llm.metadata
        template = meta.get("tokenizer.chat_template") or CHATML
        vocab = self._llm.n_vocab()
        eos = self._token_text(self._llm.token_eos(), vocab)
        bos = self._token_text(self._llm.token_bos(), vocab)
        self._format = Jinja2ChatFormatter(template=template, eos_token=eos, bos_token=bos)
        self._n_vocab = vocab
        self._n_ctx = n_ctx
        stat = self.model_path.stat()
        self._cache_key = f"gguf:{self.model_id}:{stat.st_size}"
        self._choice_ids: dict[tuple[str, ...], list[list[int]]] = {}
        self._prefix: list[int] = []
        self._prefix_ready = False  # the KV cache holds the prefix, evaluated alone

    def _token_text(self, token: int, vocab: int) -> str:
        if token < 0 or token >= vocab:
            return ""
        return self._llm.detokenize([token], special=True).decode("utf-8", errors="ignore")

    @property
    def cache_key(self) -> str:
        return self._cache_key

    def render(self, messages: Messages) -> list[int]:
        prompt = self._format(messages=messages).prompt
        tokens = self._llm.tokenize(prompt.encode("utf-8"), add_bos=False, special=True)
        if len(tokens) >= self._n_ctx:
            raise ModelFileError(f"prompt of {len(tokens)} tokens does not fit the context of {self._n_ctx}")
        return tokens

    def set_prefix(self, messages: Messages) -> None:
        """Fix the shared prefix: the tokens every scoring prompt has before its text, found as the
        common start of the prompt with two different probe texts (tokens merge across the seam)."""
        probes = []
        for probe in ("A", "1"):
            m = [dict(x) for x in messages]
            m[-1]["content"] += probe
            probes.append(self.render(m))
        n = min(len(probes[0]), len(probes[1]))
        length = next((i for i in range(n) if probes[0][i] != probes[1][i]), n)
        if probes[0][:length] != self._prefix:
            self._prefix = probes[0][:length]
            self._prefix_ready = False

    def _last_logits(self, tokens: list[int]) -> np.ndarray:
        """Evaluate ``tokens`` and return the next-token logits.

        Prompts that start with the fixed prefix (:meth:`set_prefix`) reuse its KV cache, and their
        rest is always evaluated as one batch on top of it, so a prompt's scores never depend on
        which prompts came before (llama.cpp's numbers change slightly with how tokens are batched).
        """
        llm = self._llm
        p = len(self._prefix) if self._prefix and tokens[: len(self._prefix)] == self._prefix else 0
        p = min(p, len(tokens) - 1)
        if p and not self._prefix_ready:
            llm.n_tokens = 0
            llm.eval(tokens[:p])  # the prefix alone, as its own batch
        self._prefix_ready = bool(p)
        llm.n_tokens = p
        llm.eval(tokens[p:])
        pointer = self._lib.llama_get_logits_ith(llm.ctx, -1)
        return np.ctypeslib.as_array(pointer, shape=(self._n_vocab,)).astype(np.float64)

    def _ids_for(self, choices: Sequence[str]) -> list[list[int]]:
        key = tuple(choices)
        if key not in self._choice_ids:
            ids = []
            for choice in choices:
                variants = {choice, choice.lower(), choice.capitalize(), " " + choice, " " + choice.lower()}
                # only spellings that are one token: " 7" is [" ", "7"] in many vocabularies, and the
                # shared " " must not count as every digit
                single = [self._llm.tokenize(v.encode(), add_bos=False, special=False) for v in variants]
                ids.append(sorted({t[0] for t in single if len(t) == 1}))
            self._choice_ids[key] = ids
        return self._choice_ids[key]

    def choice_probabilities(self, messages: Messages, choices: Sequence[str]) -> dict[str, float] | None:
        logits = self._last_logits(self.render(messages))
        logits -= logits.max()
        probs = np.exp(logits)
        probs /= probs.sum()
        mass = [float(probs[ids].sum()) for ids in self._ids_for(choices)]
        total = sum(mass)
        if total < 0.05:
            return None
        return {c: m / total for c, m in zip(choices, mass, strict=True)}

    def generate(self, messages: Messages, max_tokens: int = 64) -> str:
        self._prefix_ready = False  # generation rewrites the KV cache
        with _quiet():
            reply = self._llm.create_chat_completion(messages=messages, max_tokens=max_tokens, temperature=0.0)
        return str(reply["choices"][0]["message"]["content"] or "").strip()

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self._llm.close()


@contextlib.contextmanager
def _quiet():
    """llama.cpp prints to stderr from C; Python-level chatter is silenced here."""
    with contextlib.redirect_stderr(io.StringIO()):
        yield
