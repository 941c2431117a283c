"""Every detection option, declared once: its name (the CLI's, with ``_`` for ``-``), type, default and help.

The HTTP API's body and the server's stored jobs (:class:`oddsight.options.DetectOptions`) and each command's
CLI options (``oddsight.cli.options``) are generated from this table; the library's
:class:`~oddsight.config.DetectConfig` checks every value, so every front end gives the same messages. This module
imports nothing heavy: the CLI builds its ``--help`` from it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from oddsight.methods.registry import METHOD_NAMES


@dataclass(frozen=True)
class OptionField:
    name: str
    type: Any
    default: Any
    help: str
    short: str | None = None  # a one-letter alias on the command line
    target: str | None = None  # the DetectConfig field it sets ("language.x": a LanguageParams field), if one

    @property
    def flag(self) -> str:
        return "--" + self.name.replace("_", "-")


LANGUAGE = "lavad/judge: "
FIELDS: tuple[OptionField, ...] = (
    OptionField("method", str, "novelty", " | ".join(METHOD_NAMES), "-m"),
    OptionField("fps", float | None, None, "Frames per second of video time to score (default 2; lavad/judge 1)."),
    OptionField("stride", int | None, None, "Score every N-th frame instead of --fps."),
    OptionField("start", float, 0.0, "Start at this second."),
    OptionField("end", float | None, None, "Stop at this second (live streams too)."),
    OptionField(
        "model", str | None, None, "Model id (see `oddsight models list`); default per method.", target="model"
    ),
    OptionField("model_path", str | None, None, "Local model file or folder to load.", target="model_path"),
    OptionField("detector", str | None, None, "Fitted .oddsight file (oneclass).", target="detector_path"),
    OptionField("anomaly", list[str] | None, None, "Anomaly prompt, repeatable (zeroshot)."),
    OptionField("normal", list[str] | None, None, "Normal prompt, repeatable (zeroshot)."),
    OptionField(
        "threshold",
        float | None,
        None,
        "Event threshold (default: the method's; live: see --warmup).",
        target="threshold",
    ),
    OptionField(
        "smooth",
        float | None,
        None,
        "Smoothing window, seconds (default: 4 novelty, 1 oneclass, 4 others).",
        target="smooth_s",
    ),
    OptionField("min_event", float, 1.0, "Shortest event kept, seconds.", target="min_event_s"),
    OptionField("merge_gap", float, 2.0, "Merge events closer than this, seconds.", target="merge_gap_s"),
    OptionField("batch_size", int, 16, "Frames per encoder call.", target="batch_size"),
    OptionField("device", str, "auto", "auto | cpu | cuda", target="device"),
    OptionField("no_cache", bool, False, "Do not read or write the feature cache."),
    OptionField("frames_fps", float, 25.0, "Frame rate of image-folder inputs.", target="folder_fps"),
    OptionField(
        "llm",
        str | None,
        None,
        LANGUAGE + "GGUF model id (default qwen2.5-coder-1.5b), hf:<org>/<repo>/<file>.gguf, "
        "or openai:<base url>#<model>.",
        target="llm",
    ),
    OptionField("llm_path", str | None, None, LANGUAGE + "a local .gguf file.", target="llm_path"),
    OptionField(
        "captions", str | None, None, LANGUAGE + "your captions (.txt per frame, .jsonl segments).", target="captions"
    ),
    OptionField(
        "captioner",
        str | None,
        None,
        LANGUAGE + "hf:<model or folder> | openai:<base url>#<model>.",
        target="captioner",
    ),
    OptionField(
        "split", str, "sentences", LANGUAGE + "score units: clauses | sentences | none.", target="language.split"
    ),
    OptionField(
        "context",
        str | None,
        None,
        LANGUAGE + "what the camera watches and what is normal there.",
        target="language.context",
    ),
    OptionField(
        "summary", str, "join", LANGUAGE + "window text: join (fast) | llm (written).", target="language.summary"
    ),
    OptionField("window", float, 10.0, "lavad: window length, seconds.", target="language.window_s"),
    OptionField("refine_k", int, 10, "lavad: similar windows each score is refined over.", target="language.refine_k"),
    OptionField("chunk", float, 10.0, "judge: chunk length, seconds.", target="language.chunk_s"),
    OptionField(
        "group",
        float,
        0.0,
        LANGUAGE + "ask once per group of units this cosine-similar (0 = off).",
        target="language.group",
    ),
    OptionField("no_reasons", bool, False, LANGUAGE + "do not ask the LLM why."),
    OptionField(
        "live", bool, False, "Score as a camera would (past only, trailing smoothing): what watch runs.", target="live"
    ),
    OptionField(
        "warmup", float, 300.0, "Live, no --threshold: seconds of scores that set the threshold.", target="warmup_s"
    ),
    OptionField(
        "history", str | None, None, "Live: a camera's normal footage, watched before each video.", target="history"
    ),
)
BY_NAME = {f.name: f for f in FIELDS}

# the options each command offers (the rest keep their defaults there)
DETECT = tuple(BY_NAME)
EVAL = tuple(n for n in BY_NAME if n not in ("captions", "captioner"))
WATCH = (
    "method", "fps", "model", "model_path", "detector", "anomaly", "normal", "threshold", "smooth", "min_event",
    "merge_gap", "device", "llm", "llm_path", "captioner", "split", "context", "summary", "window", "refine_k",
    "chunk", "group", "no_reasons", "warmup",
)  # fmt: skip
FIT = ("fps", "stride", "start", "end", "model", "model_path", "batch_size", "device", "no_cache", "frames_fps")
