"""The evaluation loop: run the same detection path the product uses over a labelled dataset."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from oddsight.config import DetectConfig
from oddsight.detection import Detection
from oddsight.engine import Engine
from oddsight.errors import ConfigError
from oddsight.evaluate import metrics
from oddsight.evaluate.datasets import LabeledVideo
from oddsight.methods.registry import LANGUAGE_METHODS
from oddsight.methods.scorers import Scored, Scorer
from oddsight.result import DetectionResult
from oddsight.temporal.events import Event
from oddsight.validate import number
from oddsight.video.sampling import Sampling
from oddsight.video.source import VideoInfo

TEXT_METHODS = ("text-sim", "lavad", "judge")


@dataclass
class VideoEval:
    name: str
    labels: np.ndarray
    result: DetectionResult
    auc: float | None
    warnings: list[str] = field(default_factory=list)

    @property
    def scores(self) -> np.ndarray:
        return self.result.frame_scores

    def to_dict(self) -> dict[str, Any]:
        return {
            "video": self.name,
            "n_frames": len(self.labels),
            "n_anomalous_frames": int(self.labels.sum()),
            "auc": self.auc,
            "n_events": len(self.result.events),
            "events": [[e.start_frame, e.end_frame] for e in self.result.events],
            "truth": metrics.spans_of(self.labels),
            "warnings": self.warnings,
        }


@dataclass
class EvalReport:
    dataset: str
    method: str
    model: str
    videos: list[VideoEval]
    summary: dict[str, Any]

    def to_dict(self) -> dict[str, Any]:
        return {
            "dataset": self.dataset,
            "method": self.method,
            "model": self.model,
            **self.summary,
            "per_video": [v.to_dict() for v in self.videos],
        }


def evaluate(
    videos: list[LabeledVideo],
    config: DetectConfig,
    *,
    dataset: str = "",
    min_iou: float = 0.1,
    on_video: Callable[[str, int, int], None] | None = None,
    results: dict[str, DetectionResult] | None = None,
) -> EvalReport:
    """Score every video with ``config`` and compute frame- and event-level metrics. ``results`` (by video
    source) are used instead of running the visual methods here (``eval --ray`` scores them on a cluster)."""
    number("--iou", min_iou, low=0, low_open=True, high=1)
    t0 = time.perf_counter()
    text_mode = config.method in TEXT_METHODS
    has_text = all(v.texts is not None for v in videos)
    if has_text and not text_mode:
        raise ConfigError(f"text datasets need a text method: {', '.join(TEXT_METHODS)}")
    if config.method == "text-sim" and not has_text:
        raise ConfigError("--method text-sim needs a text dataset")
    text_mode = has_text
    runner = _TextRunner(config) if text_mode else (None if results is not None else Detection(config))
    if text_mode:
        runner.prepare(videos)
    evals = []
    for i, video in enumerate(videos):
        if on_video:
            on_video(video.name, i, len(videos))
        if text_mode:
            result = runner.run(video)  # type: ignore[arg-type]
        elif results is not None:
            result = results[str(video.source)]
        else:
            result = runner.run(video.source)
        warnings = list(result.warnings)
        n = len(result.frame_scores)
        if video.n_frames is not None and video.n_frames != n and video.frame_labels is None:
            warnings.append(f"labels say {video.n_frames} frames, {n} were decoded; scored {n}")
        warnings += video.check_against(n, result.info.fps)
        y = video.labels(n, result.info.fps)
        auc = metrics.roc_auc(y, result.frame_scores) if 0 < y.sum() < n else None
        evals.append(VideoEval(video.name, y, result, auc, warnings))
    summary = _summary(evals, min_iou)
    summary["seconds"] = round(time.perf_counter() - t0, 2)
    model = evals[0].result.model_id if evals else ""
    if text_mode and runner.language is not None:
        summary["llm"] = runner.language.scorer.stats.to_dict()
    return EvalReport(dataset, config.method, model, evals, summary)


def _summary(evals: list[VideoEval], min_iou: float) -> dict[str, Any]:
    y = np.concatenate([v.labels for v in evals])
    s = np.concatenate([v.scores for v in evals])
    both = 0 < y.sum() < len(y)
    out: dict[str, Any] = {
        "n_videos": len(evals),
        "n_frames": len(y),
        "n_anomalous_frames": int(y.sum()),
        "auc": metrics.roc_auc(y, s) if both else None,
        "ap": metrics.average_precision(y, s) if y.any() else None,
        "pr_auc": metrics.pr_auc_trapezoid(y, s) if y.any() else None,
        "eer": metrics.equal_error_rate(y, s) if both else None,
        "macro_auc": metrics.macro_auc([v.labels for v in evals], [v.scores for v in evals]),
    }
    out.update(event_figures([(v.labels, v.result.events, v.result.info.fps) for v in evals], min_iou))
    out["threshold"] = evals[0].result.threshold if evals else None
    return out


def event_figures(videos: list[tuple[np.ndarray, list[Event], float]], min_iou: float) -> dict[str, Any]:
    """Event precision and recall (one-to-one IoU matching) and false alarms per hour of normal video,
    over (labels, predicted events, fps) per video."""
    n_pred = n_true = hit_pred = hit_true = 0
    normal_events, normal_hours = 0, 0.0
    for labels, events, fps in videos:
        predicted = [(e.start_frame, e.end_frame) for e in events]
        truth = metrics.spans_of(labels)
        a, b = metrics.event_matches(predicted, truth, min_iou)
        n_pred, n_true, hit_pred, hit_true = n_pred + len(predicted), n_true + len(truth), hit_pred + a, hit_true + b
        if not truth:
            normal_events += len(predicted)
            normal_hours += len(labels) / fps / 3600
    return {
        "event_iou": min_iou,
        "event_precision": hit_pred / n_pred if n_pred else None,
        "event_recall": hit_true / n_true if n_true else None,
        "false_alarms_per_hour": normal_events / normal_hours if normal_hours else None,
    }


class _TextRunner:
    """Scores the texts of a text dataset and turns them into per-frame scores and events."""

    def __init__(self, config: DetectConfig) -> None:
        self.config = config
        self.language = None
        if config.method in LANGUAGE_METHODS:
            from oddsight.language.session import LanguageSession

            self.language = LanguageSession(config)
            return
        from oddsight.detectors.text_similarity import TextSimilarityScorer
        from oddsight.models.loader import load_text_encoder

        model = config.model or "minilm-l6"
        encoder = load_text_encoder(model, config.model_path, device=config.device)
        self.scorer = TextSimilarityScorer(encoder, config.anomaly_prompts, config.normal_prompts)

    def prepare(self, videos: list[LabeledVideo]) -> None:
        """Ask the LLM about every distinct text of the dataset in one pass (one progress bar)."""
        if self.language is not None:
            self.language.prepare([v.texts or [] for v in videos])

    def run(self, video: LabeledVideo) -> DetectionResult:
        c = self.config
        assert video.texts is not None and video.n_frames is not None
        fps = c.folder_fps
        if self.language is not None:
            info = VideoInfo(video.name, "text", 0, 0, fps, video.n_frames, video.n_frames / fps)
            return self.language.score(info, video.texts, video.n_frames)
        raw = self.scorer.score_texts([t.text for t in video.texts])
        mids = np.array([(t.start + t.end) / 2 for t in video.texts])
        order = np.argsort(mids, kind="stable")
        mids, raw = mids[order], raw[order]
        engine = Engine(c, Scorer(self.scorer.default_threshold()))
        engine.push_scored(Scored(mids, mids / fps, np.asarray(raw, np.float32)), fps)
        engine.close(video.n_frames, fps=fps)
        info = VideoInfo(video.name, "text", 0, 0, fps, video.n_frames, video.n_frames / fps)
        sampling = Sampling(fps=None, stride=1)
        return engine.result(info, self.scorer.encoder.model_id, sampling=sampling, params=self.scorer.get_params())
