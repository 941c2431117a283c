"""Read a verdict out of a free-text LLM answer: the fallback when answer-token probabilities
cannot be had. Anything that is not clearly a verdict is ``None`` ("unscored"), never 0."""

from __future__ import annotations

import re

_YES = re.compile(r"^(yes|y|true|abnormal|anomalous|suspicious|unusual)\b")
_NO = re.compile(r"^(no|n|false|normal|not\s+(abnormal|anomalous|suspicious|unusual))\b")
_FRACTION = re.compile(r"^(\d+(?:\.\d+)?)\s*(?:/|out\s+of)\s*(\d+)")
_NUMBER = re.compile(r"^(\d+(?:\.\d+)?)(?![\d/])")
_LEAD = re.compile(
    r"^[\s>(\[]*(?:(?:final\s+)?(?:answer|verdict|score|rating|anomaly score)\s*(?:is)?\s*[:=-]?\s*)?", re.I
)


def parse_verdict(text: str | None, scale_max: int = 9) -> float | None:
    """A score in [0, 1] from an answer such as "Yes", "**No.**", "Answer: 7", "0.8" or "7/10".

    Bare integers are read on the ``0..scale_max`` scale the prompt asked for. Empty, truncated,
    off-topic or out-of-range answers give ``None``.
    """
    if not text:
        return None
    head = _LEAD.sub("", text.strip().lower().replace("*", "").replace('"', "")).strip()
    if not head:
        return None
    if _NO.match(head):
        return 0.0
    if _YES.match(head):
        return 1.0
    if m := _FRACTION.match(head):
        value, top = float(m.group(1)), float(m.group(2))
        return value / top if top > 0 and 0 <= value <= top else None
    if m := _NUMBER.match(head):
        value = float(m.group(1))
        if "." in m.group(1):
            return value if 0.0 <= value <= 1.0 else None
        return value / scale_max if 0 <= value <= scale_max else None
    return None
