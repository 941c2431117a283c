"""``judge`` and ``lavad`` live: each sampled frame is captioned as it arrives, and each window is scored by the
LLM as soon as it completes, from the past only.

``judge`` scores back-to-back chunks of ``chunk_s`` (as on a file: the same chunks from the stream's start, so a
file watched live gets the same chunk scores as ``detect`` without caption cleaning, which needs the whole
video). ``lavad`` scores a window of ``window_s`` every ``stride_s`` and refines it over the ``refine_k`` most
similar windows seen so far. A window's score belongs to the frames of its last stride, and is known when the
window closes: events open at their true start, one window late. Windows are scored in a thread of their own, in
order, so a slow LLM server delays scores, never the camera's frames.
"""

from __future__ import annotations

import queue
import threading
from collections import deque
from typing import Any

import numpy as np

from oddsight.config import DetectConfig
from oddsight.features.types import Features
from oddsight.language.methods import LanguageScorer, refine
from oddsight.methods.normal import Calm, NormalMemory
from oddsight.methods.scorers import Scored, Scorer
from oddsight.temporal.events import Message

Sample = tuple[int, float, float, str | None, float, str]  # (frame, t, score, label, its window's end, its text)
LLM_MARGIN_S = 10.0  # how long the scoring thread may lag behind a window's end (the peak's picture is kept so long)
PAST_WINDOWS = 3600  # windows kept (an hour of lavad's): a camera runs for months, each window costs a dot product


class WindowedLanguage(Scorer):
    """Both the engine's encoder (frames -> captions -> caption vectors) and its scorer (windows -> scores)."""

    needs_previous = False
    mode = "live"

    def __init__(self, config: DetectConfig, captioner: Any, scorer: LanguageScorer, default_threshold: float) -> None:
        super().__init__(default_threshold)
        p = config.language
        self.method, self.captioner, self.scorer, self.reasons = config.method, captioner, scorer, config.reasons
        self.window_s, self.stride_s = (p.chunk_s, p.chunk_s) if config.method == "judge" else (p.window_s, p.stride_s)
        self.refine_k, self.temperature = p.refine_k, p.refine_temperature
        self.input_size = captioner.input_size
        self.delay_s = self.window_s + LLM_MARGIN_S  # how far behind the stream a frame's score may be known
        self._captions: deque[tuple[int, float, str, np.ndarray]] = deque()  # (frame, t, caption, its vector)
        self._last: str = ""
        self._next_end: float | None = None  # when the next window closes (stream time)
        self._start = 0.0  # the stream time of the first frame
        # lavad: (window vector, raw score) of the latest windows, what a new window is refined over
        self._past: deque[tuple[np.ndarray, float]] = deque(maxlen=PAST_WINDOWS)
        self.normal = NormalMemory()
        self.calm = Calm()
        self.windows: deque[dict[str, Any]] = deque(maxlen=PAST_WINDOWS)  # start_s, end_s, text, score of each
        self._readable = (0.0, 0)  # the sum and count of the readable windows' raw scores (an unreadable one's)
        self._labels: deque[tuple[int, str | None]] = deque(maxlen=PAST_WINDOWS)  # (frame, its window's top unit)
        self._texts: deque[tuple[int, str]] = deque(maxlen=PAST_WINDOWS)  # (frame, its window's text)
        # windows are scored in a thread of their own, in order; the LLM is used by one thread at a time
        self._jobs: queue.Queue = queue.Queue()
        self._done: list[Sample] = []
        self._failure: BaseException | None = None
        self._lock = threading.Lock()
        self._llm = threading.Lock()
        self._worker: threading.Thread | None = None

    # --- the encoder's side ---------------------------------------------------------------------------------

    def preprocess(self, images: np.ndarray) -> np.ndarray:
        return images

    def embed(self, images: np.ndarray) -> np.ndarray:
        """Each frame's caption (kept for :meth:`samples`) as a text vector (what feedback compares)."""
        captions = self.captioner.caption(list(images))
        self._last = captions[-1]
        return np.asarray(self.scorer.encoder.encode_text(captions), np.float32)

    # --- the scorer's side ----------------------------------------------------------------------------------

    def update(self, features: Features) -> Scored:
        """The frames whose window closed with these frames, oldest first, each at its window's end."""
        samples: list[Sample] = []
        for frame, t, embedding in zip(features.indices, features.timestamps, features.embeddings, strict=True):
            samples += self.samples(int(frame), float(t), np.asarray(embedding))
        return self._scored(samples)

    def flush(self) -> Scored:
        """The open window scored as it is (the stream ended), as a file's last, shorter chunk is; waits for the
        scoring thread to finish every window."""
        if self._next_end is not None and self._captions:
            self._submit(self._next_end)
            self._captions.clear()
        if self._worker is not None:
            self._jobs.put(None)
            self._worker.join()
            self._worker = None
        return self._scored(self._scored_so_far())

    def _scored(self, samples: list[Sample]) -> Scored:
        self._labels.extend((s[0], s[3]) for s in samples)
        self._texts.extend((s[0], s[5]) for s in samples)
        return Scored(
            np.array([s[0] for s in samples], np.int64),
            np.array([s[1] for s in samples], np.float64),
            np.array([s[2] for s in samples], np.float32),
            np.array([s[4] for s in samples], np.float64),
        )

    def label(self, frame: int) -> str | None:
        return next((label for f, label in reversed(self._labels) if f <= frame), None)

    def explain(self, message: Message) -> None:
        """The window's top unit as the label; the LLM's reason once the event is reported."""
        ev = message.event
        ev.label = self.label(ev.peak_frame) or ev.label
        if message.type == "new" and ev.reason is None:
            ev.reason = self.reason(ev.peak_frame)

    def samples(self, frame: int, t: float, embedding: np.ndarray) -> list[Sample]:
        """Every frame whose window has been scored since the last call, oldest first: windows close here, with
        this frame, and are scored by the LLM in a thread of their own (a slow LLM never holds up the camera)."""
        if self._next_end is None:
            self._next_end = t + self.window_s if self.method == "judge" else t + self.stride_s
            self._start = t
        while t >= self._next_end:
            self._submit(self._next_end)
            self._next_end += self.stride_s
        self._captions.append((frame, t, self._last, np.asarray(embedding, np.float32)))
        return self._scored_so_far()

    def _submit(self, end: float) -> None:
        """The window ending at ``end``, with the captions inside it now, to the scoring thread."""
        start = end - self.window_s
        while self._captions and self._captions[0][1] < start:
            self._captions.popleft()
        inside = [c for c in self._captions if c[1] < end]
        if inside:
            if self._worker is None:
                self._worker = threading.Thread(target=self._work, name="oddsight-llm-windows", daemon=True)
                self._worker.start()
            self._jobs.put((start, end, inside))

    def _work(self) -> None:
        while True:
            job = self._jobs.get()
            try:
                if job is None:
                    return
                samples = self._score_window(*job)
                with self._lock:
                    self._done += samples
            except BaseException as exc:  # the LLM failed: raised in the camera's thread, at its next frame
                with self._lock:
                    self._failure = exc
            finally:
                self._jobs.task_done()

    def _scored_so_far(self) -> list[Sample]:
        with self._lock:
            done, self._done = self._done, []
            failure, self._failure = self._failure, None
        if failure is not None:
            raise failure
        return done

    def _score_window(self, start: float, end: float, inside: list) -> list[Sample]:
        with self._llm:
            text = self.scorer.window_text([c[2] for c in inside])
            raw, top = self.scorer.score_text(text)
        total, count = self._readable
        if raw is None:  # no readable verdict: the mean of the readable windows so far, as a file fills with the mean
            raw = total / count if count else 0.0
        else:
            self._readable = (total + raw, count + 1)
        score = raw
        vector = self.scorer.text_vector(text)
        if self.method == "lavad" and vector is not None and self.refine_k > 1:
            vector = vector / max(float(np.linalg.norm(vector)), 1e-12)
            self._past.append((vector, raw))
            bank = np.stack([v for v, _ in self._past])
            raws = np.array([r for _, r in self._past])
            score = float(refine((bank @ vector)[None, :], raws, self.refine_k, self.temperature)[0])
        self.calm.add(score)
        if self.normal.matches(np.mean([c[3] for c in inside], axis=0)):  # the captions of a false alarm again
            score = self.calm.cap(score)
        self.windows.append({"start_s": max(start, self._start), "end_s": end, "text": text, "score": score})
        label = top or None
        last_stride = [c for c in inside if c[1] >= end - self.stride_s]
        return [(c[0], c[1], score, label, end, text) for c in last_stride]

    def reason(self, frame: int) -> str | None:
        """The LLM's reason for the text of the window ``frame`` was scored in (asked once an event is reported)."""
        text = next((t for f, t in reversed(self._texts) if f <= frame), None)
        if not self.reasons or not text:
            return None
        with self._llm:
            return self.scorer.reason(text)

    def set_normal(self, embeddings: np.ndarray | None) -> None:
        """Caption vectors of false alarms: a window like them scores as a calm one (None: forget them)."""
        self.normal.set(embeddings)
