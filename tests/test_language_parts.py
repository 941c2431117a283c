"""The language pipeline's pure parts: answer parsing, unit splitting, caching, captions, windows."""

from __future__ import annotations

import json

import numpy as np
import pytest

from oddsight.errors import ConfigError, InputError
from oddsight.language.captions import TextSegment, read_captions
from oddsight.language.methods import LanguageParams, LanguageScorer, make_windows
from oddsight.llm.base import LLM
from oddsight.llm.cache import AnswerCache
from oddsight.llm.parse import parse_verdict
from oddsight.llm.scoring import LLMScorer, split_units


@pytest.mark.parametrize(
    ("answer", "expected"),
    [
        ("Yes", 1.0),
        ("yes.", 1.0),
        ("**No**", 0.0),
        ("Answer: Yes, a man is hitting another man.", 1.0),
        ("No, nothing unusual", 0.0),
        ("Not suspicious at all.", 0.0),
        ("7", 7 / 9),
        ("Score: 7/10", 0.7),
        ("0.8", 0.8),
        ("Final answer: 3", 3 / 9),
    ],
)
def test_parse_verdict_reads_clear_answers(answer, expected):
    assert parse_verdict(answer) == pytest.approx(expected)


@pytest.mark.parametrize(
    "answer",
    ["", None, "   ", "Ye", "I cannot tell from this description", "12", "1.7", "11/10", "Maybe", "<|im_end|>", "-3"],
)
def test_parse_verdict_malformed_truncated_or_off_format_is_unscored(answer):
    assert parse_verdict(answer) is None


def test_split_units_normalises_and_dedupes_clauses():
    text = (
        "There are 12 people. The first person is walking, the second person is walking "
        "and the third person rides a bike."
    )
    units = split_units(text, "clauses")
    assert units == [
        "there are some people",
        "the some person is walking",
        "the some person is walking",
        "the some person rides a bike",
    ]
    assert split_units(text, "sentences")[0] == "there are 12 people"
    assert split_units(text, "none") == [text]
    with pytest.raises(ConfigError):
        split_units(text, "words")


class ScriptedLLM(LLM):
    """An LLM whose answers are fixed in advance (for the cache and scorer logic only; the real
    model runs in test_llm.py). ``None`` answers mean "no probability on the choices"."""

    model_id = "scripted"

    def __init__(self, answers: dict[str, float | None], text_answers: dict[str, str] | None = None) -> None:
        self.answers = answers
        self.text_answers = text_answers or {}
        self.calls: list[str] = []

    @property
    def cache_key(self) -> str:
        return "scripted-v1"

    def _text(self, messages) -> str:
        return messages[-1]["content"].rsplit("Description: ", 1)[-1]

    def choice_probabilities(self, messages, choices):
        text = self._text(messages)
        self.calls.append(text)
        p = next((v for k, v in self.answers.items() if k in text), 0.0)
        if p is None:
            return None
        return {c: (1 - p if i == 0 else p if i == len(choices) - 1 else 0.0) for i, c in enumerate(choices)}

    def generate(self, messages, max_tokens=64):
        text = self._text(messages)
        self.calls.append("generate:" + text)
        return next((v for k, v in self.text_answers.items() if k in text), "")


def test_scorer_asks_each_distinct_unit_once_and_caches_answers(tmp_path):
    llm = ScriptedLLM({"fight": 0.9})
    cache = AnswerCache(tmp_path / "a.sqlite")
    texts = ["A man walks. Two men fight.", "A man walks.", "a man walks", "Two men fight."]
    scores = LLMScorer(llm, cache, progress=False).score_texts(texts)
    np.testing.assert_allclose(scores, [0.9, 0.0, 0.0, 0.9])
    assert sorted(llm.calls) == ["a man walks", "two men fight"]
    cache.close()
    again = ScriptedLLM({"fight": 0.1})  # a different answer would show if the model were asked again
    scorer = LLMScorer(again, AnswerCache(tmp_path / "a.sqlite"), progress=False)
    np.testing.assert_allclose(scorer.score_texts(texts), [0.9, 0.0, 0.0, 0.9])
    assert again.calls == [] and scorer.stats.cached == 2 and scorer.stats.llm_calls == 0


def test_unreadable_answers_fall_back_to_text_then_to_unscored():
    llm = ScriptedLLM({"fire": None, "smoke": None}, text_answers={"fire": "9", "smoke": "Hmm"})
    scorer = LLMScorer(llm, progress=False)
    scores = scorer.score_texts(["a building is on fire", "smoke rises slowly", "a man walks"])
    assert scores[0] == 1.0 and np.isnan(scores[1]) and scores[2] == 0.0
    assert scorer.stats.text_fallbacks == 2 and scorer.stats.unscored == 1


def test_byo_captions_text_and_jsonl(tmp_path):
    txt = tmp_path / "v.txt"
    txt.write_text("a man walks\n\na car drives\n")
    assert read_captions(txt, fps=10) == [TextSegment(0, 0, "a man walks"), TextSegment(2, 2, "a car drives")]
    jsonl = tmp_path / "caps.jsonl"
    rows = [
        {"video": "cam1.mp4", "start_frame": 30, "end_frame": 59, "text": "b"},
        {"video": "cam1.mp4", "start_frame": 0, "end_frame": 29, "text": "a"},
        {"video": "cam2", "start_s": 1.0, "end_s": 2.0, "text": "c"},
    ]
    jsonl.write_text("\n".join(json.dumps(r) for r in rows))
    assert [s.text for s in read_captions(jsonl, fps=30, video="cam1.mp4")] == ["a", "b"]
    assert read_captions(jsonl, fps=30, video="cam2.avi") == [TextSegment(30, 59, "c")]
    with pytest.raises(InputError, match="no captions for video"):
        read_captions(jsonl, fps=30, video="cam3.mp4")
    with pytest.raises(InputError, match="say which video"):
        read_captions(jsonl, fps=30)
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"start_frame": 3}\n')
    with pytest.raises(InputError, match="line 1"):
        read_captions(bad, fps=30)
    with pytest.raises(InputError, match=r"\.txt .* or \.jsonl"):
        read_captions(_write(tmp_path / "c.srt", "x"), fps=1)


def _write(path, text):
    path.write_text(text)
    return path


def test_windows_cover_captions_and_skip_empty_time():
    segs = [TextSegment(i * 10, i * 10 + 9, f"t{i}") for i in range(10)]  # 10 fps: one caption a second
    windows = make_windows(segs, 10.0, 100, window_s=3.0, stride_s=1.0)
    assert len(windows) == 10 and windows[5].captions == [4, 5, 6]
    chunks = make_windows(segs, 10.0, 100, window_s=5.0, stride_s=5.0)
    assert [w.captions for w in chunks] == [[0, 1, 2, 3, 4], [5, 6, 7, 8, 9]]
    sparse = make_windows([TextSegment(0, 0, "x"), TextSegment(99, 99, "y")], 10.0, 100, 2.0, 1.0)
    assert all(w.captions for w in sparse) and [w.captions for w in sparse] == [[0], [0], [1]]


class KeywordEncoder:
    model_id = "kw"

    def encode_text(self, texts):
        out = np.array([[("fight" in t) * 1.0, ("walk" in t) * 1.0, 0.1] for t in texts], np.float32)
        return out / np.linalg.norm(out, axis=1, keepdims=True)


def test_lavad_refinement_pulls_scores_toward_similar_windows_and_judge_gives_reasons():
    texts = ["A man walks."] * 20 + ["Two men fight."] * 5 + ["A man walks."] * 20
    segs = [TextSegment(i * 10, i * 10 + 9, t) for i, t in enumerate(texts)]
    llm = ScriptedLLM({"fight": 0.9, "walk": 0.05}, text_answers={"fight": "Two men are fighting."})
    params = LanguageParams(window_s=1.0, stride_s=1.0, refine_k=5)
    session = LanguageScorer(llm, encoder=KeywordEncoder(), params=params, progress=False)
    lavad = session.run("lavad", segs, 10.0, 450)
    assert lavad.scores[22] > 0.85 and lavad.scores[5] < 0.1
    assert lavad.top_units[22] == "two men fight"
    judge = session.run("judge", segs, 10.0, 450)
    flagged = [i for i, s in enumerate(judge.scores) if s >= 0.5]
    assert flagged and all(judge.reasons[i] == "Two men are fighting." for i in flagged)
    assert all(i not in judge.reasons for i in range(len(judge.scores)) if i not in flagged)


def test_group_units_joins_near_duplicates_to_their_first_leader():
    from oddsight.language.methods import group_units

    v = np.array([[1, 0, 0], [0.99, 0.1, 0], [0, 1, 0], [0, 0.98, 0.2], [0, 0, 1]], np.float32)
    assert group_units(v, 0.95).tolist() == [0, 0, 2, 2, 4]
    assert group_units(v, 0.999).tolist() == [0, 1, 2, 3, 4]


def test_grouping_asks_one_unit_per_group():
    llm = ScriptedLLM({"fight": 0.9})
    params = LanguageParams(group=0.9, refine_k=1, window_s=1.0, stride_s=1.0)
    scorer = LanguageScorer(llm, encoder=KeywordEncoder(), params=params, progress=False)
    segs = [TextSegment(i, i, t) for i, t in enumerate(["Men fight.", "Two men fight.", "A man walks.", "Men walk."])]
    scorer.prepare([segs])
    assert len(llm.calls) == 2 and scorer.stats.extra["grouped_units"] == 2
    result = scorer.run("lavad", segs, 1.0, 4)
    assert result.raw_scores.tolist() == pytest.approx([0.9, 0.9, 0.0, 0.0]) and len(llm.calls) == 2


def test_hub_gguf_names_are_checked_and_offline_is_a_clear_error():
    from oddsight.errors import ModelUnavailableError
    from oddsight.llm.gguf import hub_gguf

    with pytest.raises(ConfigError, match=r"hf:<org>/<repo>/<file>\.gguf"):
        hub_gguf("hf:just-a-repo.gguf")
    with pytest.raises(ModelUnavailableError, match="hub is offline"):
        hub_gguf("hf:Qwen/Qwen2.5-7B-Instruct-GGUF/qwen2.5-7b-instruct-q4_k_m.gguf")


def test_a_video_with_no_readable_verdict_is_an_error_not_zeros():
    from oddsight.errors import LLMError

    segs = [TextSegment(i * 10, i * 10 + 9, "A man walks.") for i in range(20)]
    llm = ScriptedLLM({"walk": None})  # no probability on any choice, and no text answer either
    scorer = LanguageScorer(llm, encoder=KeywordEncoder(), params=LanguageParams(refine_k=1), progress=False)
    with pytest.raises(LLMError, match="no readable verdict"):
        scorer.run("lavad", segs, 10.0, 200)


def test_non_finite_logprobs_from_a_server_are_ignored():
    from oddsight.llm.openai_http import _first_token_probs

    top = [{"token": "7", "logprob": float("nan")}, {"token": "8", "logprob": 1e308}, {"token": "3", "logprob": -0.1}]
    probs = _first_token_probs({"logprobs": {"content": [{"top_logprobs": top}]}}, [str(d) for d in range(10)])
    assert probs is not None and np.isfinite(list(probs.values())).all() and max(probs, key=probs.get) == "3"
