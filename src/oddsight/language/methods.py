"""Text -> scores for the language methods, shared by ``detect`` and ``eval``.

``lavad`` (after LAVAD, CVPR 2024): captions -> a summary of each temporal window (the window's
distinct captions joined in order, or an LLM-written summary) -> an LLM score per window ->
refinement of each window's score by its K most similar windows (text-embedding cosine) -> scores.

``judge`` (after the LLM-judge seed): captions -> non-overlapping chunks -> an LLM verdict per
chunk, with an LLM-written reason for every chunk judged abnormal.

Both score text through :class:`~oddsight.llm.scoring.LLMScorer`: every distinct clause is asked
about once, and a caption's score is its most abnormal clause's.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from oddsight.errors import ConfigError, LLMError
from oddsight.language.captions import TextSegment
from oddsight.llm import prompts
from oddsight.llm.base import LLM
from oddsight.llm.cache import AnswerCache, answer_key
from oddsight.llm.scoring import LLMScorer, split_units
from oddsight.methods.params import SUMMARIES, LanguageParams
from oddsight.methods.registry import LANGUAGE_METHODS
from oddsight.models.base import TextEncoder, l2_normalize


@dataclass
class Window:
    start: int  # first frame
    end: int  # last frame (inclusive)
    captions: list[int]  # indices into the video's captions

    @property
    def mid(self) -> float:
        return (self.start + self.end) / 2


@dataclass
class TextScores:
    """One video's scored samples: window centres (frames), scores, and the text behind each."""

    indices: np.ndarray
    scores: np.ndarray
    raw_scores: np.ndarray  # before refinement
    texts: list[str]
    top_units: list[str]  # the most abnormal clause of each window: what it was
    reasons: dict[int, str] = field(default_factory=dict)  # sample index -> the LLM's reason
    unscored: int = 0


class LanguageScorer:
    """Holds the LLM, the answer cache and the text encoder; scores many videos."""

    def __init__(
        self,
        llm: LLM,
        *,
        cache: AnswerCache | None = None,
        encoder: TextEncoder | None = None,
        params: LanguageParams | None = None,
        progress: bool = True,
    ) -> None:
        self.params = params or LanguageParams()
        if self.params.summary not in SUMMARIES:
            raise ConfigError(f"unknown summary {self.params.summary!r}; choose one of {', '.join(SUMMARIES)}")
        self.llm = llm
        self.cache = cache or AnswerCache(enabled=False)
        self.scorer = LLMScorer(
            llm,
            self.cache,
            question=prompts.question_for(self.params.context),
            split=self.params.split,
            progress=progress,
        )
        self.encoder = encoder
        self._unit_scores: dict[str, float | None] = {}
        self._unit_vectors: dict[str, np.ndarray] = {}

    @property
    def stats(self):
        return self.scorer.stats

    def prepare(self, videos: list[list[TextSegment]]) -> None:
        """Score (and embed) every distinct unit of many videos in one pass, for one progress bar."""
        units = [u for segs in videos for s in segs for u in split_units(s.text, self.params.split)]
        self._units(units)

    def _units(self, units: list[str]) -> None:
        p = self.params
        if self.encoder is not None and (p.refine_k > 1 or p.group > 0):
            self._embed(units)
        todo = [u for u in dict.fromkeys(units) if u not in self._unit_scores]
        if not todo:
            return
        if p.group > 0 and self.encoder is not None:
            # most frequent units first, so each group is asked about through its commonest wording
            counts: dict[str, int] = {}
            for u in units:
                counts[u] = counts.get(u, 0) + 1
            todo.sort(key=lambda u: -counts.get(u, 0))
            leader_of = group_units(np.stack([self._unit_vectors[u] for u in todo]), p.group)
            leaders = [todo[i] for i in sorted(set(leader_of.tolist()))]
            scores = self.scorer.score_units(leaders)
            self._unit_scores.update({u: scores[todo[leader_of[i]]] for i, u in enumerate(todo)})
            self.stats.extra["grouped_units"] = self.stats.extra.get("grouped_units", 0) + len(todo) - len(leaders)
        else:
            self._unit_scores.update(self.scorer.score_units(todo))

    def _embed(self, units: list[str]) -> None:
        assert self.encoder is not None
        missing = [u for u in dict.fromkeys(units) if u not in self._unit_vectors]
        for i in range(0, len(missing), 256):
            batch = missing[i : i + 256]
            self._unit_vectors.update(zip(batch, self.encoder.encode_text(batch), strict=True))

    def run(
        self, method: str, segments: list[TextSegment], fps: float, n_frames: int, *, reasons: bool = True
    ) -> TextScores:
        if method not in LANGUAGE_METHODS:
            raise ConfigError(f"unknown language method {method!r}; choose one of {', '.join(LANGUAGE_METHODS)}")
        if not segments:
            raise ConfigError("no captions to score")
        p = self.params
        if method == "lavad":
            windows = make_windows(segments, fps, n_frames, p.window_s, p.stride_s)
        else:
            windows = make_windows(segments, fps, n_frames, p.chunk_s, p.chunk_s)
        self.stats.texts += len(segments)
        self.stats.units += sum(len(split_units(s.text, p.split)) for s in segments)
        texts = [self.window_text([segments[i].text for i in w.captions]) for w in windows]
        units_per_window = [split_units(t, p.split) for t in texts]
        self._units([u for units in units_per_window for u in units])
        raw = np.full(len(windows), np.nan)
        top = []
        for i, units in enumerate(units_per_window):
            score, unit = self._scored(units)
            raw[i] = np.nan if score is None else score
            top.append(unit)
        unscored = int(np.isnan(raw).sum())
        if unscored == len(raw):  # a video of zeros would look calm; say that nothing could be read instead
            raise LLMError(f"the LLM gave no readable verdict for any of the {len(raw)} window(s) of this video")
        raw = np.where(np.isnan(raw), np.nanmean(raw), raw)
        scores = raw
        if method == "lavad" and p.refine_k > 1 and self.encoder is not None:
            scores = self._refine(units_per_window, raw)
        result = TextScores(
            np.array([w.mid for w in windows]), scores.astype(np.float32), raw.astype(np.float32), texts, top
        )
        result.unscored = unscored
        if method == "judge" and reasons:
            for i, score in enumerate(scores):
                if score >= p.reason_threshold:
                    result.reasons[i] = self.reason(texts[i])
        return result

    def window_text(self, captions: list[str]) -> str:
        """A window's text: its distinct captions in order, joined (or an LLM-written summary of them)."""
        captions = list(dict.fromkeys(captions))
        if self.params.summary == "llm" and len(captions) > 1:
            return self.summary(captions)
        return " ".join(c if c.endswith((".", "!", "?")) else c + "." for c in captions)

    def score_text(self, text: str) -> tuple[float | None, str]:
        """One window's text scored now (live): its score (None: no readable verdict) and most abnormal unit."""
        units = split_units(text, self.params.split)
        self._units(units)
        return self._scored(units)

    def _scored(self, units: list[str]) -> tuple[float | None, str]:
        scored = [(self._unit_scores[u], u) for u in units if self._unit_scores.get(u) is not None]
        if not scored:
            return None, ""
        return _window_score([s for s, _ in scored]), max(scored)[1]

    def text_vector(self, text: str) -> np.ndarray | None:
        """The mean embedding of a scored text's units (what lavad's refinement compares); None if none."""
        vectors = [self._unit_vectors[u] for u in split_units(text, self.params.split) if u in self._unit_vectors]
        return np.mean(vectors, axis=0) if vectors else None

    def summary(self, captions: list[str]) -> str:
        """An LLM-written one-sentence summary of consecutive captions (cached)."""
        return self._generated("summary", captions, prompts.summary_messages(captions), 60)

    def reason(self, text: str) -> str:
        """The LLM's one-sentence reason why ``text`` is (or is not) abnormal (cached)."""
        return self._generated("reason", text, prompts.reason_messages(text), 48)

    def _generated(self, kind: str, subject: object, messages, max_tokens: int) -> str:
        """The LLM's greedy answer to ``messages``, from the answer cache when it was asked before."""
        key = answer_key(kind, prompts.PROMPT_VERSION, self.llm.cache_key, subject)
        hit = self.cache.get(key)
        if hit is not None:
            return hit["text"]
        text = self.llm.generate(messages, max_tokens=max_tokens)
        self.stats.llm_calls += 1
        self.cache.put(key, {"text": text})
        self.cache.flush()
        return text

    def _refine(self, units_per_window: list[list[str]], raw: np.ndarray) -> np.ndarray:
        """Each window's score becomes the similarity-weighted mean over its K nearest windows."""
        dim = len(next(iter(self._unit_vectors.values())))
        emb = np.zeros((len(raw), dim), dtype=np.float32)
        for i, units in enumerate(units_per_window):
            vectors = [self._unit_vectors[u] for u in units if u in self._unit_vectors]
            if vectors:
                emb[i] = np.mean(vectors, axis=0)
        emb /= np.maximum(np.linalg.norm(emb, axis=1, keepdims=True), 1e-12)
        k = min(self.params.refine_k, len(raw))
        out = np.empty_like(raw)
        for start in range(0, len(raw), 512):
            out[start : start + 512] = refine(emb[start : start + 512] @ emb.T, raw, k, self.params.refine_temperature)
        return out

    def get_params(self) -> dict[str, Any]:
        return {
            "llm": self.llm.model_id,
            "text_encoder": self.encoder.model_id if self.encoder is not None else None,
            **{k: v for k, v in vars(self.params).items()},
        }


def refine(sims: np.ndarray, raw: np.ndarray, k: int, temperature: float) -> np.ndarray:
    """LAVAD's refinement: each row's score is the softmax(similarity / temperature)-weighted mean of the raw
    scores of its ``k`` most similar windows (``sims``: rows x windows, ``raw``: one score per window)."""
    k = min(k, sims.shape[1])
    nearest = np.argpartition(-sims, k - 1, axis=1)[:, :k]
    near_sims = np.take_along_axis(sims, nearest, axis=1)
    weights = np.exp((near_sims - near_sims.max(axis=1, keepdims=True)) / temperature)
    weights /= weights.sum(axis=1, keepdims=True)
    return (weights * raw[nearest]).sum(axis=1)


def group_units(vectors: np.ndarray, threshold: float) -> np.ndarray:
    """Leader clustering: row ``i`` joins the first earlier leader at least ``threshold`` cosine-similar
    to it, or leads a new group. Returns each row's leader row."""
    vectors = l2_normalize(vectors.astype(np.float32))
    leader_of = np.empty(len(vectors), dtype=np.int64)
    leaders: list[int] = []
    bank = np.empty_like(vectors)  # the leaders' vectors, first len(leaders) rows
    for i, v in enumerate(vectors):
        if leaders:
            sims = bank[: len(leaders)] @ v
            best = int(np.argmax(sims))
            if sims[best] >= threshold:
                leader_of[i] = leaders[best]
                continue
        bank[len(leaders)] = v
        leaders.append(i)
        leader_of[i] = i
    return leader_of


def clean_captions(image_emb: np.ndarray, captions: list[str], encoder: TextEncoder) -> list[str]:
    """LAVAD's caption cleaning: each frame takes the caption of the video that is closest to the
    frame in an image-text space, so a noisy caption is replaced by a better one of another frame."""
    unique = list(dict.fromkeys(captions))
    text = l2_normalize(encoder.encode_text(unique).astype(np.float32))
    best = (l2_normalize(image_emb.astype(np.float32)) @ text.T).argmax(axis=1)
    return [unique[i] for i in best]


def _window_score(unit_scores: list[float]) -> float:
    return float(max(unit_scores))


def make_windows(
    segments: list[TextSegment], fps: float, n_frames: int, window_s: float, stride_s: float
) -> list[Window]:
    """Windows of ``window_s`` seconds every ``stride_s`` seconds, each with the captions whose
    middle falls inside; windows without captions are left out."""
    if window_s <= 0 or stride_s <= 0:
        raise ConfigError("window and stride must be positive")
    mids = np.array([s.mid for s in segments])
    half = window_s * fps / 2
    step = stride_s * fps
    centres = np.arange(step / 2 if stride_s == window_s else 0.0, max(n_frames, 1), step)
    windows = []
    order = np.argsort(mids, kind="stable")
    sorted_mids = mids[order]
    for c in centres:
        lo = np.searchsorted(sorted_mids, c - half, side="left")
        hi = np.searchsorted(sorted_mids, c + half, side="left")
        if hi > lo:
            windows.append(Window(int(max(0, c - half)), int(min(n_frames - 1, c + half - 1)), order[lo:hi].tolist()))
    return windows
