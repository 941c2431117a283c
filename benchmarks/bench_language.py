"""Speed of the language pipeline (lavad / judge on given texts), measured side by side in one run.

1. The full pipeline on a text dataset, cold (empty answer cache) and warm (cache filled by the
   cold run): seconds, frame AUC, LLM calls per input text.
2. A LAVAD-style run on a subset of windows (per window: a sampled LLM summary, then a sampled
   LLM answer "[score]" read with a regex, as LAVAD's code does) against oddsight's pipeline on the
   same windows and the same model, cache off: seconds per window and the speed-up.

    .venv/bin/python benchmarks/bench_language.py --dataset ucf            # ucf_descriptions
    .venv/bin/python benchmarks/bench_language.py --dataset avenue --skip-lavad-style

The GGUF model is taken from the user's cache (joined from its pip parts once); "cold" means no
LLM answer is cached.
"""

from __future__ import annotations

import argparse
import os
import re
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT.parent / "shared" / "data"
DATASETS = {
    "ucf": ("segment-text", DATA / "ucf_descriptions", 30.0),
    "ped2": ("frame-text", DATA / "frame_text" / "ped2", 25.0),
    "avenue": ("frame-text", DATA / "frame_text" / "avenue", 25.0),
}
LAVAD_SCORE = (
    "If you were a law enforcement agency, how would you rate the scene described on a scale from 0 to 1, "
    "with 0 representing a standard scene and 1 denoting a scene with suspicious activities? Please "
    "provide the response in the form of a Python list and respond with only one number in the provided "
    "list below [0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0] without any textual explanation."
)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--dataset", choices=sorted(DATASETS), default="ucf")
    parser.add_argument("--method", default="lavad")
    parser.add_argument("--subset-windows", type=int, default=12)
    parser.add_argument("--skip-lavad-style", action="store_true")
    args = parser.parse_args()
    user_models = _user_models()
    home = Path(tempfile.mkdtemp(prefix="oddsight-bench-"))
    (home / "models").symlink_to(user_models, target_is_directory=True)
    os.environ["ODDSIGHT_HOME"] = str(home)

    from oddsight.config import DetectConfig
    from oddsight.evaluate.datasets import load_dataset
    from oddsight.evaluate.runner import evaluate

    kind, root, fps = DATASETS[args.dataset]
    videos = load_dataset(kind, root)
    n_texts = sum(len(v.texts or []) for v in videos)
    config = DetectConfig(method=args.method, folder_fps=fps, progress=True)
    print(f"{args.dataset}: {len(videos)} videos, {n_texts} texts, method {args.method}, {os.cpu_count()} CPUs")
    t0 = time.perf_counter()
    cold = evaluate(videos, config, dataset=kind)
    cold_s = time.perf_counter() - t0
    llm = cold.summary["llm"]
    print(
        f"cold: {cold_s:.1f} s  micro AUC {cold.summary['auc']:.4f}  macro AUC {cold.summary['macro_auc']:.4f}  "
        f"LLM calls {llm['llm_calls']} for {n_texts} texts = {llm['llm_calls'] / n_texts:.3f} calls/text "
        f"({llm['unique_units']} distinct units of {llm['units']})"
    )
    t0 = time.perf_counter()
    warm = evaluate(videos, config, dataset=kind)
    warm_s = time.perf_counter() - t0
    same = np.allclose(np.concatenate([v.scores for v in warm.videos]), np.concatenate([v.scores for v in cold.videos]))
    print(
        f"warm: {warm_s:.1f} s  ({cold_s / warm_s:.0f}x faster; LLM calls {warm.summary['llm']['llm_calls']}; "
        f"scores identical to cold: {same})"
    )
    if not args.skip_lavad_style:
        lavad_style_comparison(videos, fps, args.subset_windows)


def lavad_style_comparison(videos, fps: float, n_windows: int) -> None:
    from oddsight.language.methods import LanguageParams, LanguageScorer, make_windows
    from oddsight.language.session import make_llm
    from oddsight.llm import prompts
    from oddsight.models.loader import load_text_encoder

    llm = make_llm(None)
    video = max(videos, key=lambda v: len(v.texts or []))
    windows = make_windows(video.texts, fps, video.n_frames, 10.0, 1.0)
    step = max(1, len(windows) // n_windows)
    chosen = windows[::step][:n_windows]
    window_texts = [[video.texts[i].text for i in w.captions] for w in chosen]
    rng = np.random.default_rng(0)

    t0 = time.perf_counter()
    parsed = 0
    for captions in window_texts:
        summary = _sampled(llm, prompts.summary_messages(list(dict.fromkeys(captions))), 60, rng)
        answer = _sampled(llm, [{"role": "user", "content": f"{LAVAD_SCORE}\n\n{summary}"}], 10, rng)
        parsed += re.search(r"\[?\s*([01](?:\.\d+)?)\s*\]?", answer) is not None
    lavad_s = time.perf_counter() - t0

    from oddsight.language.captions import TextSegment

    segs = [TextSegment(0, 0, " ".join(dict.fromkeys(c))) for c in window_texts]
    scorer = LanguageScorer(llm, encoder=load_text_encoder("minilm-l6"), params=LanguageParams(), progress=False)
    t0 = time.perf_counter()
    scorer.prepare([segs])
    ours_s = time.perf_counter() - t0
    print(
        f"LAVAD-style on {len(chosen)} windows of {video.name} (same model, sampled generation, regex): "
        f"{lavad_s:.1f} s = {lavad_s / len(chosen):.2f} s/window, {parsed}/{len(chosen)} answers parsed"
    )
    print(
        f"oddsight on the same windows (cache off, {scorer.params.split} as units, answer-token probabilities): "
        f"{ours_s:.1f} s = "
        f"{ours_s / len(chosen):.2f} s/window -> speed-up {lavad_s / ours_s:.1f}x "
        f"({scorer.stats.llm_calls} calls for {len(chosen)} windows)"
    )


def _sampled(llm, messages, max_tokens: int, rng) -> str:
    """LAVAD samples its answers; llama.cpp with a seed and temperature 0.8, as the research code runs."""
    inner = llm._llm
    reply = inner.create_chat_completion(
        messages=messages, max_tokens=max_tokens, temperature=0.8, seed=int(rng.integers(1 << 30))
    )
    return str(reply["choices"][0]["message"]["content"] or "")


def _user_models() -> Path:
    from oddsight.llm.gguf import gguf_path

    gguf_path("qwen2.5-coder-1.5b")  # joined into the user's cache once
    from oddsight.paths import models_dir

    return models_dir()


if __name__ == "__main__":
    main()
