"""Synthetic features with known anomalies, for detector tests; small real HTTP servers for the language tests."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import numpy as np

from oddsight.features.types import Features
from oddsight.video.source import VideoInfo


def synthetic_features(n=60, dim=32, anomalous=range(40, 46), seed=0, model_id="test-model", fps=2.0) -> Features:
    scene = np.random.default_rng(1234)  # the same scene for every seed; only the noise differs
    base, odd = scene.normal(size=dim), scene.normal(size=dim) * 1.5
    rng = np.random.default_rng(seed)
    x = base + 0.15 * rng.normal(size=(n, dim))
    for i in anomalous:
        x[i] = odd + 0.15 * rng.normal(size=dim)
    info = VideoInfo("synthetic", "file", 64, 48, 30.0, n * 15, n / fps)
    t = np.arange(n) / fps
    return Features(x.astype(np.float32), np.arange(n) * 15, t, info, model_id, f"fps{fps:g}")


class FakeTextEncoder:
    """Text 'embeddings' that point at known directions: a real TextEncoder for the contract."""

    model_id = "test-model"
    logit_scale = 50.0

    def __init__(self, directions: dict[str, np.ndarray]) -> None:
        self.directions = directions

    def encode_text(self, texts: list[str]) -> np.ndarray:
        out = []
        for text in texts:
            key = next(k for k in self.directions if k in text)
            v = self.directions[key]
            out.append(v / np.linalg.norm(v))
        return np.asarray(out, np.float32)


def send_json(handler, status: int, body) -> None:
    """Reply from a ``BaseHTTPRequestHandler``: ``body`` as JSON (raw bytes are sent as they are)."""
    import json

    data = body if isinstance(body, bytes) else json.dumps(body).encode()
    handler.send_response(status)
    handler.send_header("Content-Type", "application/json")
    handler.send_header("Content-Length", str(len(data)))
    handler.end_headers()
    handler.wfile.write(data)


QUIET_STREET, FIRE_STREET = "a quiet street", "a huge red fire fills the street"


class _ColourVLM(BaseHTTPRequestHandler):
    """A real HTTP server speaking the OpenAI chat API; answers with what the mean colour it saw suggests."""

    def do_POST(self):
        import base64
        import io
        import json

        from PIL import Image

        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        parts = body["messages"][0]["content"]
        url = next(p["image_url"]["url"] for p in parts if p["type"] == "image_url")
        assert url.startswith("data:image/jpeg;base64,")
        image = np.asarray(Image.open(io.BytesIO(base64.b64decode(url.split(",", 1)[1]))))
        red = image[..., 0].mean() > 150 and image[..., 1].mean() < 120
        text = FIRE_STREET if red else QUIET_STREET
        send_json(self, 200, {"choices": [{"message": {"role": "assistant", "content": text}}]})

    def log_message(self, *args):
        pass


@contextmanager
def colour_vlm() -> Iterator[str]:
    """A captioning VLM on 127.0.0.1 (its base URL): red frames are a fire, anything else a quiet street."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), _ColourVLM)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
