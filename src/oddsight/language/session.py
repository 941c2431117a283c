"""The language methods end to end: captions (given, or made here) -> LLM scores -> events with reasons.

Used by ``Detection`` for videos and by the evaluation runner for text datasets, so both take
the same path. The LLM, the text encoder and the answer cache are loaded once per session.
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np

from oddsight.config import DetectConfig
from oddsight.engine import Engine
from oddsight.errors import ConfigError, InputError
from oddsight.extras import EXTRAS, require_extra
from oddsight.features.extract import Progress, expected_samples
from oddsight.language.captions import TextSegment, read_captions
from oddsight.language.methods import LanguageScorer, TextScores
from oddsight.llm.base import LLM
from oddsight.llm.cache import AnswerCache, answer_key
from oddsight.methods.scorers import Scored, Scorer
from oddsight.result import DetectionResult
from oddsight.temporal.events import Event
from oddsight.video.source import VideoInfo

DEFAULT_LLM = "qwen2.5-coder-1.5b"
DEFAULT_TEXT_MODEL = "minilm-l6"
DEFAULT_THRESHOLD = 0.6  # ~99th percentile of the LLM score of texts of normal videos (ucf_descriptions dev)


def make_llm(name: str | None, path: str | None = None, *, concurrency: int = 4) -> LLM:
    """``openai:<base url>#<model>`` for a server; else llama.cpp with a registered GGUF model id, a
    hub file ``hf:<org>/<repo>/<file>.gguf``, or a local ``path``."""
    name = name or DEFAULT_LLM
    if name.startswith("openai:"):
        from oddsight.llm.openai_http import OpenAIChat, parse_endpoint

        return OpenAIChat(*parse_endpoint(name), concurrency=concurrency)
    from oddsight.llm.gguf import gguf_path, hub_gguf
    from oddsight.llm.llamacpp import LlamaCpp

    if path is None and name.startswith("hf:"):
        return LlamaCpp(hub_gguf(name), model_id=name.rsplit("/", 1)[-1].removesuffix(".gguf"))
    file = gguf_path(name, path)
    return LlamaCpp(file, model_id=Path(path).stem if path else name)


class LanguageSession:
    def __init__(self, config: DetectConfig, *, llm: LLM | None = None) -> None:
        from oddsight.models.loader import load_text_encoder

        local_llm = not (config.llm or "").startswith("openai:")
        require_extra("llm", f"--method {config.method}", EXTRAS["llm"] if local_llm else EXTRAS["transformers"])
        self.config = config
        self.cache = AnswerCache(enabled=config.use_cache)
        encoder = load_text_encoder(config.model or DEFAULT_TEXT_MODEL, config.model_path, device=config.device)
        self.llm = llm or make_llm(config.llm, config.llm_path)
        self.scorer = LanguageScorer(
            self.llm, cache=self.cache, encoder=encoder, params=config.language, progress=config.progress
        )

    def prepare(self, videos: list[list[TextSegment]]) -> None:
        self.scorer.prepare(videos)

    def run_video(self, video: str | Path, on_progress: Progress | None = None) -> DetectionResult:
        """Captions for ``video`` (from ``config.captions`` or the captioner), then :meth:`score`;
        ``on_progress(done, expected)`` after each batch of captioned frames."""
        from oddsight.video.source import open_source

        c = self.config
        source = open_source(video, folder_fps=c.folder_fps)
        info = source.info
        warnings: list[str] = []
        if c.captions:
            segments = read_captions(Path(c.captions), fps=info.fps, video=Path(str(video)).name)
        elif c.captioner:
            segments, warnings = self._caption(video, source, on_progress)
        else:
            raise ConfigError(
                f"--method {c.method} needs captions: --captions FILE (made elsewhere) or --captioner "
                "hf:<model>|openai:<url>#<model> (no captioning model ships offline)"
            )
        n_frames = info.frame_count or max(s.end for s in segments) + 1
        if info.frame_count and max(s.end for s in segments) >= info.frame_count:
            warnings.append(f"captions reach frame {max(s.end for s in segments)} of a {n_frames}-frame video")
        return self.score(info, segments, n_frames, warnings)

    def _caption(self, video: str | Path, source, on_progress: Progress | None) -> tuple[list[TextSegment], list[str]]:
        from tqdm.auto import tqdm

        from oddsight.features.cache import content_hash
        from oddsight.language.captioners import make_captioner
        from oddsight.video.source import is_stream_url

        c = self.config
        if is_stream_url(str(video)):
            raise InputError("the language methods need a file or frame folder, not a live stream (yet)")
        # cleaned captions depend on the cleaning model too
        cleaner = [c.model, Path(c.model_path).name if c.model_path else None]
        key = answer_key("captions", c.captioner, content_hash(Path(video)), c.sampling.key, cleaner)
        hit = self.cache.get(key)
        if hit is not None:
            return [TextSegment(*s) for s in hit["segments"]], hit["warnings"]
        captioner = make_captioner(c.captioner or "", device=c.device)
        frames, segments = [], []
        indices = []
        with tqdm(desc="caption", unit="frame", disable=not c.progress, leave=False) as bar:
            for frame in source.frames(c.sampling, captioner.input_size):
                frames.append(frame.image)
                indices.append(frame.index)
                if len(frames) == c.batch_size:
                    segments += captioner.caption(frames)
                    bar.update(len(frames))
                    frames = []
                    if on_progress is not None:
                        on_progress(len(indices), expected_samples(source, c.sampling))
            if frames:
                segments += captioner.caption(frames)
                bar.update(len(frames))
        if not indices:
            raise InputError(f"{video}: no frame was sampled to caption")
        ends = [*indices[1:], (source.report.frames_decoded or indices[-1] + 1)]
        warnings = list(source.report.warnings)
        segments, note = self._clean(video, indices, segments)
        warnings += [note] if note else []
        out = [TextSegment(a, max(a, b - 1), t) for a, b, t in zip(indices, ends, segments, strict=True)]
        self.cache.put(key, {"segments": [[s.start, s.end, s.text] for s in out], "warnings": warnings})
        self.cache.flush()
        return out, warnings

    def _clean(self, video: str | Path, indices: list[int], captions: list[str]) -> tuple[list[str], str | None]:
        """LAVAD's caption cleaning, with the session's model when it is image-text aligned."""
        from dataclasses import replace

        from oddsight.language.methods import clean_captions
        from oddsight.models.base import ImageEncoder
        from oddsight.pipeline import VisualDetection

        encoder = self.scorer.encoder
        if not isinstance(encoder, ImageEncoder):
            name = encoder.model_id if encoder is not None else "no model"
            return captions, f"captions not cleaned: {name} has no image tower (give --model clip-vit-b32 or similar)"
        features, _ = VisualDetection(replace(self.config, method="novelty"), encoder=encoder).features(video)
        if features.indices.tolist() != indices:
            return captions, "captions not cleaned: the encoder sampled other frames than the captioner"
        return clean_captions(features.embeddings, captions, encoder), None

    def score(
        self, info: VideoInfo, segments: list[TextSegment], n_frames: int, warnings: list[str] | None = None
    ) -> DetectionResult:
        """Scores for every frame and events that carry the text and the reason behind them."""
        from oddsight.video.sampling import Sampling

        c = self.config
        t0 = time.perf_counter()
        scored = self.scorer.run(c.method, segments, info.fps, n_frames, reasons=c.reasons)
        engine = Engine(c, Scorer(DEFAULT_THRESHOLD))
        times = scored.indices / info.fps
        engine.push_scored(Scored(scored.indices, times, scored.scores), info.fps)
        engine.close(n_frames, fps=info.fps)
        self._explain(engine.events, scored)
        warnings = list(warnings or [])
        if scored.unscored:
            warnings.append(f"{scored.unscored} window(s) got no readable verdict from the LLM; filled with the mean")
        self.cache.flush()
        return engine.result(
            info,
            self.llm.model_id,
            sampling=c.sampling if not c.captions else Sampling(fps=None, stride=1),
            warnings=warnings,
            timings={"scoring_s": round(time.perf_counter() - t0, 4)},
            params=self.scorer.get_params(),
            sample_texts=scored.texts,
        )

    def _explain(self, events: list[Event], scored: TextScores) -> None:
        """Each event gets what it was (its most abnormal clause), the text, and the LLM's reason."""
        for event in events:
            i = int(np.argmin(np.abs(scored.indices - event.peak_frame)))
            event.label = scored.top_units[i] or None
            event.details["summary"] = scored.texts[i]
            event.details["llm_score"] = round(float(scored.raw_scores[i]), 4)
            if self.config.reasons:
                event.reason = scored.reasons.get(i) or self.scorer.reason(scored.texts[i])

    def close(self) -> None:
        self.cache.close()
        self.llm.close()
