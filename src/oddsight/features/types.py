"""The value passed from encoders to detectors: embeddings of sampled frames with index and time."""

from __future__ import annotations

from dataclasses import dataclass, field, replace

import numpy as np

from oddsight.video.source import VideoInfo


@dataclass
class Features:
    """Embeddings of the sampled frames of one video, in time order.

    ``info.frame_count`` is the number of frames actually decoded (every frame, sampled or not).
    """

    embeddings: np.ndarray  # (n, dim) float16 as stored; detectors compute in float32 blocks
    indices: np.ndarray  # (n,) int64 frame index of each sampled frame
    timestamps: np.ndarray  # (n,) float64 seconds from the first frame
    info: VideoInfo
    model_id: str
    sampling_key: str
    warnings: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        n = len(self.embeddings)
        if not (len(self.indices) == len(self.timestamps) == n):
            raise ValueError(f"features: {n} embeddings but {len(self.indices)} indices, {len(self.timestamps)} times")

    def __len__(self) -> int:
        return len(self.embeddings)

    def __getitem__(self, item: slice) -> Features:
        return replace(
            self, embeddings=self.embeddings[item], indices=self.indices[item], timestamps=self.timestamps[item]
        )

    @property
    def n_frames(self) -> int:
        return int(self.info.frame_count or (self.indices[-1] + 1 if len(self.indices) else 0))
