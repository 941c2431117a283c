"""An MP4 copy of the video with the score, threshold and an event marker drawn on each frame."""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import numpy as np

from oddsight.atomic import atomic_file
from oddsight.result import DetectionResult
from oddsight.video.source import open_source


class VideoSink:
    """Write RGB frames to an H.264 MP4 (a context manager)."""

    def __init__(self, path: Path, width: int, height: int, fps: float) -> None:
        import av

        self.container = av.open(str(path), mode="w", format="mp4", options={"movflags": "+faststart"})
        rate = Fraction(fps).limit_denominator(1001)
        self.stream = self.container.add_stream("libx264", rate=rate)
        self.stream.width, self.stream.height = width - width % 2, height - height % 2
        self.stream.pix_fmt = "yuv420p"
        self.stream.options = {"preset": "veryfast", "crf": "23"}

    def write(self, image: np.ndarray) -> None:
        import av

        image = image[: self.stream.height, : self.stream.width]
        frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(image), format="rgb24")
        for packet in self.stream.encode(frame):
            self.container.mux(packet)

    def __enter__(self) -> VideoSink:
        return self

    def __exit__(self, *exc: object) -> None:
        for packet in self.stream.encode():
            self.container.mux(packet)
        self.container.close()


def write_annotated_video(result: DetectionResult, path: Path, *, progress: bool = False) -> Path:
    from PIL import Image, ImageDraw
    from tqdm.auto import tqdm

    source = open_source(result.info.source)
    scores = result.frame_scores
    top = max(float(scores.max()) if len(scores) else 1.0, result.threshold * 1.5, 1e-6)
    in_event = np.zeros(len(scores), dtype=bool)
    for e in result.events:
        in_event[e.start_frame : e.end_frame + 1] = True
    info = source.info
    with atomic_file(path) as tmp, VideoSink(tmp, info.width, info.height, info.fps) as sink:
        for frame in tqdm(source.frames(), total=len(scores), desc="annotate", disable=not progress, leave=False):
            i = min(frame.index, len(scores) - 1)
            im = Image.fromarray(frame.image)
            draw = ImageDraw.Draw(im)
            w, h = im.size
            bar = int(w * min(scores[i] / top, 1.0))
            colour = (220, 40, 40) if in_event[i] else (40, 120, 220)
            draw.rectangle([0, h - 10, bar, h], fill=colour)
            x_thr = int(w * min(result.threshold / top, 1.0))
            draw.line([x_thr, h - 14, x_thr, h], fill=(255, 255, 255), width=2)
            draw.text((6, 6), f"{result.method} {scores[i]:.3f}", fill=(255, 255, 255))
            if in_event[i]:
                draw.rectangle([0, 0, w - 1, h - 1], outline=(220, 40, 40), width=4)
                draw.text((6, 20), "ANOMALY", fill=(255, 60, 60))
            sink.write(np.asarray(im))
    return path
