"""The one interface every language-model backend implements.

Scoring never samples: a backend reads the probabilities of the answer's first token over a
fixed set of choices (``"Yes"``/``"No"`` or the digits) in one forward pass. ``generate`` is
greedy and only used for text meant for people (summaries, reasons).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence

Messages = list[dict[str, str]]


class LLM(ABC):
    model_id: str

    @property
    @abstractmethod
    def cache_key(self) -> str:
        """Identifies the model's weights (or server and model name) in the answer cache."""

    @abstractmethod
    def choice_probabilities(self, messages: Messages, choices: Sequence[str]) -> dict[str, float] | None:
        """P(first answer token = each choice), renormalised over ``choices``, which are ordered from
        least to most anomalous (``("No", "Yes")``, ``("0", ..., "9")``); ``None`` when the
        model puts (almost) no probability on any of them, so its answer must be read as text."""

    @abstractmethod
    def generate(self, messages: Messages, max_tokens: int = 64) -> str:
        """The model's greedy answer, as text."""

    def set_prefix(self, messages: Messages) -> None:  # noqa: B027 - optional hook
        """Announce the prompt every following scoring call starts with (``messages`` with an empty
        text at the end), so a backend can compute it once and reuse it."""

    def choice_probabilities_many(
        self, prompts: Sequence[Messages], choices: Sequence[str]
    ) -> list[dict[str, float] | None]:
        """:meth:`choice_probabilities` for many prompts; backends that can overlap calls do."""
        return [self.choice_probabilities(m, choices) for m in prompts]

    def close(self) -> None:  # noqa: B027 - optional hook
        """Release the model or connections."""
