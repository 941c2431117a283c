"""The visual pipeline, and fitting a one-class model on normal footage.

source -> sampled frames -> features (cached) -> detector -> scores -> every-frame scores -> events
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

from oddsight.config import DetectConfig
from oddsight.detectors.base import Detector
from oddsight.detectors.registry import make_detector
from oddsight.engine import Engine
from oddsight.errors import ConfigError, InputError, OutputError
from oddsight.features.cache import FeatureCache, ScoreMemo, content_hash
from oddsight.features.extract import Progress, extract_features
from oddsight.features.types import Features
from oddsight.methods.scorers import Scorer
from oddsight.models.base import ImageEncoder
from oddsight.result import DetectionResult
from oddsight.video.source import open_source


def cuda_available() -> bool:
    """Whether ONNX Runtime (the default encoders' runtime) can use a CUDA GPU here."""
    import onnxruntime as ort

    return "CUDAExecutionProvider" in ort.get_available_providers()


class VisualDetection:
    """The visual methods (novelty, oneclass, zeroshot) over many videos: the encoder and detector load once."""

    def __init__(
        self, config: DetectConfig, cache: FeatureCache | None = None, encoder: ImageEncoder | None = None
    ) -> None:
        self.config = config
        self.cache = cache or FeatureCache()
        self.model_id = config.model_id
        self._encoder: ImageEncoder | None = encoder  # loaded on first use when not given
        self._detector: Detector | None = None

    @property
    def encoder(self) -> ImageEncoder:
        if self._encoder is None:
            from oddsight.models.loader import load_image_encoder

            self._encoder = load_image_encoder(self.model_id, self.config.model_path, device=self.config.device)
        return self._encoder

    @property
    def detector(self) -> Detector:
        if self._detector is None:
            self._detector = self._build_detector()
            if self.config.use_cache and hasattr(self._detector, "use_memo"):  # re-runs skip the scoring
                self._detector.use_memo(ScoreMemo(self.cache.root))
        return self._detector

    def _build_detector(self) -> Detector:
        c = self.config
        if c.method == "oneclass":
            if not c.detector_path:
                raise ConfigError("--method oneclass needs --detector FILE (make one with `oddsight fit`)")
            from oddsight.detectors.persist import load_detector

            return load_detector(Path(c.detector_path), expect_encoder=self.model_id)
        if c.method == "zeroshot":
            from oddsight.models.base import TextEncoder

            encoder = self.encoder
            if not isinstance(encoder, TextEncoder):
                raise ConfigError(f"--method zeroshot needs an image-text model; {self.model_id} has no text tower")
            return make_detector(
                "zeroshot", text_encoder=encoder, anomaly_prompts=c.anomaly_prompts, normal_prompts=c.normal_prompts
            )
        return make_detector(c.method)

    def features(self, video: str | Path, on_progress: Progress | None = None) -> tuple[Features, bool]:
        """Features of ``video``, from the cache when it has them. Returns (features, from_cache).

        A cache hit neither opens nor decodes the video, and never loads the encoder.
        """
        from oddsight.video.source import is_stream_url

        c = self.config
        digest = None
        if c.use_cache and not is_stream_url(str(video)):
            if not Path(video).exists():
                raise InputError(f"{video}: no such file or folder")
            digest = content_hash(Path(video))
            cached = self.cache.get(digest, self._cache_model_key(), self._sampling_key(video), str(video))
            if cached is not None:
                return cached, True
        source = open_source(video, folder_fps=c.folder_fps)
        features = extract_features(
            source, self.encoder, c.sampling, batch_size=c.batch_size, progress=c.progress, on_progress=on_progress
        )
        if len(features) == 0:
            if getattr(self.encoder, "needs_previous", False):
                raise InputError(f"{video}: {self.model_id} compares frames with the one before: it needs two frames")
            raise InputError(f"{video}: no frame was sampled (is --start past the end of the video?)")
        if digest is not None:
            try:
                self.cache.put(digest, features, self._cache_model_key(), self._sampling_key(video))
            except OutputError as exc:  # the cache only saves time: the result stands, with a warning
                features.warnings.append(f"features not cached ({exc})")
        return features, False

    def _sampling_key(self, video: str | Path) -> str:
        # frame folders have no timestamps of their own: their assumed rate is part of the key
        key = self.config.sampling.key
        return f"{key}-at{self.config.folder_fps:g}" if Path(video).is_dir() else key

    def _cache_model_key(self) -> str:
        # named before loading the model, so a warm run never loads the encoder; the fingerprint
        # changes with the model's variant (input size, quantization), so stale features are never reused
        from oddsight.models.registry import get_spec

        key = f"{self.model_id}-{get_spec(self.model_id).fingerprint}"
        return key if self.config.model_path is None else f"{key}-{Path(self.config.model_path).name}"

    def scorer(self) -> Scorer:
        """The method's scorer in the config's mode (``live``: the past only)."""
        from oddsight.detectors.novelty import CELL_THRESHOLD, GLOBAL_THRESHOLD
        from oddsight.methods.scorers import CausalNovelty, FrameScorer, WholeVideo
        from oddsight.models.registry import cell_grid

        mode = "live" if self.config.live else "offline"
        detector = self.detector
        if self.config.method != "novelty":
            return FrameScorer(detector, mode)
        grid = cell_grid(self.model_id)
        default = getattr(detector, "threshold", None) or (CELL_THRESHOLD if grid else GLOBAL_THRESHOLD)
        if mode == "offline":
            return WholeVideo(detector, default)
        if grid is None:
            raise ConfigError(f"live novelty needs a cell encoder such as 'motion', not {self.model_id!r}")
        return CausalNovelty(grid, default)

    def engine(self, *, camera: str | None = None, record: bool = True) -> Engine:
        """An engine for this method: its scorer, then the timeline (live: warm-up calibration from the config)."""
        return Engine(self.config, self.scorer(), warmup_s=self.config.warmup_s, camera=camera, record=record)

    def history(self) -> list[Features]:
        """The features of the camera's normal footage (``config.history``, live only), oldest first by name."""
        from oddsight.video.inputs import expand_inputs

        if not self.config.history:
            return []
        return [self.features(video)[0] for video in expand_inputs([self.config.history])]

    def run(self, video: str | Path, on_progress: Progress | None = None) -> DetectionResult:
        """Scores and events of one video: its features replayed through the engine; ``on_progress(done,
        expected)`` as frames are encoded."""
        t0 = time.perf_counter()
        engine = self.engine()  # a bad detector file or option fails before any decoding
        engine.prime(self.history())
        features, from_cache = self.features(video, on_progress)
        t1 = time.perf_counter()
        engine.push(features)
        engine.close(features.n_frames, fps=features.info.fps)
        warnings = list(features.warnings) + self._gap_warning(features) + self._device_warning()
        t2 = time.perf_counter()
        return engine.result(
            features.info,
            features.model_id,
            warnings=warnings,
            timings={"features_s": round(t1 - t0, 4), "scoring_s": round(t2 - t1, 4)},
            from_cache=from_cache,
            params=self.detector.get_params(),
        )

    def _device_warning(self) -> list[str]:
        """``--device cuda`` on a machine without a usable GPU runs on the CPU, and says so."""
        if self.config.device != "cuda" or cuda_available():
            return []
        return ["--device cuda: no CUDA device is usable here (ONNX Runtime has no CUDA provider); ran on the CPU"]

    def _gap_warning(self, features: Features) -> list[str]:
        """novelty compares frames more than gap_s apart: a shorter video has nothing to compare with."""
        gap = getattr(self.detector, "gap_s", None)
        span = float(features.timestamps[-1] - features.timestamps[0]) if len(features) else 0.0
        if gap is None or span > gap:
            return []
        return [
            f"{Path(features.info.source).name}: {span:.1f} s of samples, not more than novelty's {gap:g} s gap: "
            "no frame has another to differ from, so every score is 0"
        ]


def fit_oneclass(
    videos: Sequence[str | Path],
    config: DetectConfig,
    *,
    kind: str | None = None,
    on_video: Callable[[str], None] | None = None,
    on_warning: Callable[[str], None] | None = None,
    on_progress: Progress | None = None,
    features: Sequence[Features] | None = None,
    **params: Any,
):
    """Fit a one-class detector on the features of normal ``videos`` (encoded with ``config``); each video's
    decoding warnings (a truncated file, say) go to ``on_warning``, as ``detect`` reports them, and so does a
    threshold fitted on too few frames (see ``OneClassDetector.threshold_note``). ``kind`` defaults
    to ``knn`` on cell features (``motion``), which it scores per location, and ``ocsvm`` on one vector a frame."""
    from oddsight.detectors.oneclass import OneClassDetector
    from oddsight.models.registry import cell_grid

    kind = kind or ("knn" if cell_grid(config.model_id) else "ocsvm")
    detector = OneClassDetector(kind=kind, **params).check_params()  # before any encoding

    def reported(f: Features) -> Features:
        for warning in f.warnings if on_warning else ():
            on_warning(warning)
        return f

    if features is not None:  # extracted elsewhere (`fit --ray`)
        feats = [reported(f) for f in features]
    else:
        session = VisualDetection(replace(config, method="novelty"))
        feats = []
        for video in videos:
            if on_video:
                on_video(str(video))
            feats.append(reported(session.features(video, on_progress)[0]))
    detector.fit(feats)
    note = detector.threshold_note()
    if note and on_warning:
        on_warning(note)
    return detector
