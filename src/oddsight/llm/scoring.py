"""Score texts 0..1 with an LLM, fast: split into short units, ask about each distinct unit once.

A description is split into clauses (or sentences, or kept whole); units are normalised so that
near-identical ones ("the third person is walking" / "the fourth person is walking") are one
question. A text's score is the highest score of its units: one abnormal act makes the moment
abnormal. Answers are cached by (model, prompt), so a re-run asks the model nothing.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from oddsight.errors import ConfigError
from oddsight.llm import prompts
from oddsight.llm.base import LLM
from oddsight.llm.cache import AnswerCache, answer_key
from oddsight.llm.parse import parse_verdict
from oddsight.methods.params import SPLITS

MAX_UNIT_CHARS = 4000
_ORDINAL = re.compile(
    r"\b(first|second|third|fourth|fifth|sixth|seventh|eighth|ninth|tenth|eleventh|twelfth|"
    r"one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|\d+)\b"
)
_SENTENCE = re.compile(r"(?<=[.!?])\s+")
_CLAUSE = re.compile(r"[.;,!?:]\s+|[.;!?]$|\s+(?:and|while|but|whereas)\s+")


def split_units(text: str, split: str = "sentences") -> list[str]:
    """The units of ``text`` that are scored separately, normalised for de-duplication."""
    if split not in SPLITS:
        raise ConfigError(f"unknown split {split!r}; choose one of {', '.join(SPLITS)}")
    text = " ".join(text.split())
    if split == "none":
        parts = [text]
    elif split == "sentences":
        parts = _SENTENCE.split(text)
    else:
        parts = _CLAUSE.split(text)
    units = []
    for part in parts:
        unit = part.strip(" .,;:!?\"'").lower() if split != "none" else part.strip()
        if split == "clauses":
            unit = _ORDINAL.sub("some", unit)
        if len(unit.split()) >= 2 or (split == "none" and unit):
            units.append(unit[:MAX_UNIT_CHARS])
    return units or ([text[:MAX_UNIT_CHARS]] if text else [])


@dataclass
class ScoreStats:
    """What a scoring run cost: texts in, distinct units asked, cache hits, model calls."""

    texts: int = 0
    units: int = 0
    unique_units: int = 0
    cached: int = 0
    llm_calls: int = 0
    text_fallbacks: int = 0
    unscored: int = 0
    seconds: float = 0.0
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def calls_per_text(self) -> float:
        return self.llm_calls / self.texts if self.texts else 0.0

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "calls_per_text": round(self.calls_per_text, 4)}


class LLMScorer:
    """Scores texts with ``llm``; ``score_texts`` returns one value per text (NaN = unscored)."""

    def __init__(
        self,
        llm: LLM,
        cache: AnswerCache | None = None,
        *,
        question: str = prompts.QUESTION,
        split: str = "sentences",
        progress: bool = True,
    ) -> None:
        if split not in SPLITS:
            raise ConfigError(f"unknown split {split!r}; choose one of {', '.join(SPLITS)}")
        self.llm = llm
        self.cache = cache or AnswerCache(enabled=False)
        self.question = question
        self.split = split
        self.progress = progress
        self.stats = ScoreStats()

    def _key(self, unit: str) -> str:
        return answer_key("score", prompts.PROMPT_VERSION, self.llm.cache_key, self.question, unit)

    def score_units(self, units: Iterable[str]) -> dict[str, float | None]:
        """Score of each distinct unit (``None`` when the model gave no readable verdict)."""
        t0 = time.perf_counter()
        unique = list(dict.fromkeys(units))
        keys = {u: self._key(u) for u in unique}
        cached = self.cache.get_many(list(keys.values()))
        out: dict[str, float | None] = {u: cached[keys[u]]["score"] for u in unique if keys[u] in cached}
        self.stats.unique_units += len(unique)
        self.stats.cached += len(out)
        todo = [u for u in unique if u not in out]
        if todo:
            from tqdm import tqdm

            self.llm.set_prefix(prompts.score_messages("", self.question))
            bar = tqdm(total=len(todo), desc="LLM scoring", unit="q", disable=not self.progress, leave=False)
            step = 16
            try:
                for i in range(0, len(todo), step):
                    batch = todo[i : i + step]
                    msgs = [prompts.score_messages(u, self.question) for u in batch]
                    answers = self.llm.choice_probabilities_many(msgs, prompts.CHOICES)
                    for unit, m, probs in zip(batch, msgs, answers, strict=True):
                        score = self._score_of(m, probs)
                        out[unit] = score
                        self.cache.put(keys[unit], {"score": score})
                    bar.update(len(batch))
            finally:
                bar.close()
                self.cache.flush()
        self.stats.unscored += sum(out[u] is None for u in unique)
        self.stats.seconds += time.perf_counter() - t0
        return out

    def _score_of(self, messages, probs: dict[str, float] | None) -> float | None:
        self.stats.llm_calls += 1
        if probs is not None:
            n = len(prompts.CHOICES) - 1
            return float(sum(probs[c] * i / n for i, c in enumerate(prompts.CHOICES)))
        # the model did not start its answer with a choice: read what it says
        self.stats.text_fallbacks += 1
        self.stats.llm_calls += 1
        return parse_verdict(self.llm.generate(messages, max_tokens=16), len(prompts.CHOICES) - 1)

    def score_texts(self, texts: list[str]) -> np.ndarray:
        """Score of each text: the maximum over its units; NaN where no unit could be scored."""
        per_text = [split_units(t, self.split) for t in texts]
        scores = self.score_units(u for units in per_text for u in units)
        out = np.full(len(texts), np.nan, dtype=np.float32)
        for i, units in enumerate(per_text):
            values = [scores[u] for u in units if scores[u] is not None]
            if values:
                out[i] = max(values)
        self.stats.texts += len(texts)
        self.stats.units += sum(len(u) for u in per_text)
        return out
