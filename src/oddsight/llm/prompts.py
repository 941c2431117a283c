"""The prompts oddsight sends to language models. The question comes before the text, so every
scoring prompt shares one long prefix (its KV cache is computed once) and a short suffix."""

from __future__ import annotations

from oddsight.llm.base import Messages

PROMPT_VERSION = 1  # part of every cached answer's key: change it when a prompt below changes

SYSTEM = "You are a careful video surveillance analyst."

QUESTION = (
    "Read the description of what a surveillance camera shows. Does it describe an abnormal or "
    "suspicious event that a security guard should look at, such as fighting, a crime, an accident, "
    "a fire, an explosion, someone falling, running or throwing things, or a vehicle, bike or "
    "skateboard where people walk? Answer Yes or No.\n\nDescription: "
)

CHOICES = ("No", "Yes")


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
