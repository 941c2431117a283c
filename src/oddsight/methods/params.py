"""The language methods' parameters (data only: the config, the options and the scorers share it)."""

from __future__ import annotations

from dataclasses import dataclass

SPLITS = ("clauses", "sentences", "none")
SUMMARIES = ("join", "llm")


@dataclass
class LanguageParams:
    """How captions become window texts and scores (``lavad`` / ``judge``)."""

    split: str = "sentences"  # how captions are cut into scored units: clauses | sentences | none
    context: str | None = None  # what the camera watches and what is normal there (goes into the prompt)
    summary: str = "join"  # "join": distinct captions in order; "llm": an LLM-written summary (slow)
    window_s: float = 10.0  # lavad window length
    stride_s: float = 1.0  # lavad window spacing
    refine_k: int = 10  # lavad: windows each score is refined over (1 = no refinement)
    refine_temperature: float = 0.1
    chunk_s: float = 10.0  # judge chunk length
    reason_threshold: float = 0.5  # judge: chunks scoring at least this get a written reason
    group: float = 0.0  # ask once per group of units at least this cosine-similar (0 = every distinct unit)
