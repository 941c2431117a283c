"""The prompts oddsight sends to language models. The question comes before the text, so every
scoring prompt shares one long prefix (its KV cache is computed once) and a short suffix."""

from __future__ import annotations

from oddsight.llm.base import Messages

PROMPT_VERSION = 3  # part of every cached answer's key: change it when a prompt below changes

SYSTEM = "You are a careful video surveillance analyst."

QUESTION = (
    "Read the description of a moment in a surveillance video. Rate from 0 to 9 how likely it is "
    "that it shows a crime, violence, an accident, a fire, an explosion or another emergency "
    "(0 = ordinary scene, 9 = certainly). Answer with one digit.\n\nDescription: "
)

# Answer tokens, from least to most anomalous; the score is their expected value scaled to 0..1.
CHOICES = tuple("0123456789")


def question_for(context: str | None = None) -> str:
    """The scoring question; ``context`` says what the camera watches and what is normal there
    (e.g. "a campus walkway where only pedestrians are expected"), so site-specific oddities count."""
    if not context:
        return QUESTION
    return (
        f"The camera watches {context.strip().rstrip('.')}. Read the description of a moment in its video. "
        "Rate from 0 to 9 how likely it is that it shows a crime, violence, an accident, an emergency, "
        "or anything that is not normal for this place (0 = ordinary scene, 9 = certainly). "
        "Answer with one digit.\n\nDescription: "
    )


def score_messages(text: str, question: str = QUESTION) -> Messages:
    return [{"role": "system", "content": SYSTEM}, {"role": "user", "content": question + text}]


def summary_messages(captions: list[str]) -> Messages:
    lines = "\n".join(f"- {c}" for c in captions)
    return [
        {"role": "system", "content": SYSTEM},
        {
            "role": "user",
            "content": "These are descriptions of consecutive moments of a surveillance video:\n"
            f"{lines}\n\nSummarise in one sentence what happens.",
        },
    ]


def reason_messages(text: str) -> Messages:
    return [
        {"role": "system", "content": SYSTEM},
        {
            "role": "user",
            "content": f"A camera shows: {text}\n\nIn one short sentence, say what is abnormal or "
            "suspicious here, or say that nothing is.",
        },
    ]
