"""A seed-style implementation, kept as the speed baseline: OpenCV reads every frame, PIL
preprocesses each kept frame, and the encoder is called per frame at batch 1 (fp32 DINOv2, the
model as the seed repos run it). It keeps the same frames as oddsight (2 per second of video)."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import onnxruntime as ort
from PIL import Image

MEAN = np.array([0.485, 0.456, 0.406], np.float32)
STD = np.array([0.229, 0.224, 0.225], np.float32)


def seed_embed_video(session: ort.InferenceSession, video: Path, fps: float = 2.0) -> np.ndarray:
    cap = cv2.VideoCapture(str(video))
    native = cap.get(cv2.CAP_PROP_FPS) or 30.0
    every = max(1, round(native / fps))
    embeddings, index = [], 0
    while True:
        ok, frame = cap.read()
        if not ok:
            break
        if index % every == 0:
            image = Image.fromarray(cv2.cvtColor(frame, cv2.COLOR_BGR2RGB)).resize((224, 224), Image.BILINEAR)
            x = ((np.asarray(image, np.float32) / 255.0 - MEAN) / STD).transpose(2, 0, 1)[None]
            (tokens,) = session.run(None, {"input_image": x})
            embeddings.append(np.concatenate([tokens[0, 0], tokens[0, 1:].mean(0)]))
        index += 1
    cap.release()
    return np.asarray(embeddings)
