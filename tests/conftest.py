"""Shared fixtures: synthetic videos made with PyAV, frame folders, the ../shared data, an isolated cache."""

from __future__ import annotations

import os
from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest

SHARED = Path(__file__).resolve().parents[1].parent / "shared" / "data"


def shared_data() -> Path:
    """../shared/data, which CI always has: fail (never skip) there when it is missing."""
    if not SHARED.exists():
        if os.environ.get("CI") == "true":
            pytest.fail(f"{SHARED} is missing, but CI must have it")
        pytest.skip(f"{SHARED} not present on this machine")
    return SHARED


@pytest.fixture
def shared() -> Path:
    return shared_data()


@pytest.fixture(autouse=True)
def oddsight_home(tmp_path, tmp_path_factory, monkeypatch):
    """Each test gets its own feature cache; the derived DINOv2 model is shared across the session."""
    models = tmp_path_factory.getbasetemp() / "shared-models"
    models.mkdir(exist_ok=True)
    home = tmp_path / "oddsight-home"
    home.mkdir()
    (home / "models").symlink_to(models, target_is_directory=True)
    monkeypatch.setenv("ODDSIGHT_HOME", str(home))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    yield home


def scene(i: int, width: int, height: int, anomaly: bool = False) -> np.ndarray:
    """A textured background with a small square moving smoothly; ``anomaly`` paints a bright blob that darts
    across the frame (unusual in both appearance and motion)."""
    yy, xx = np.mgrid[0:height, 0:width]
    img = np.stack([(xx * 255 // width), (yy * 255 // height), np.full_like(xx, 90)], axis=-1).astype(np.uint8)
    x = 10 + (i * 3) % (width - 40)
    img[20:40, x : x + 20] = (250, 250, 250)
    if anomaly:
        x0 = (i * 9) % (width // 2)
        img[height // 4 : 3 * height // 4, x0 : x0 + width // 2] = (255, 30, 0)
    return img


def make_video(
    path: Path, n_frames: int = 60, fps: float = 10, size=(96, 64), anomaly: range | None = None, codec="mpeg4"
) -> Path:
    import av

    with av.open(str(path), "w") as out:
        stream = out.add_stream(codec, rate=Fraction(fps).limit_denominator(1001))
        stream.width, stream.height = size
        stream.pix_fmt = "yuv420p"
        for i in range(n_frames):
            frame = av.VideoFrame.from_ndarray(scene(i, *size, anomaly=anomaly is not None and i in anomaly), "rgb24")
            for packet in stream.encode(frame):
                out.mux(packet)
        for packet in stream.encode():
            out.mux(packet)
    return path


@pytest.fixture
def video(tmp_path) -> Path:
    """6 s at 10 fps, an anomaly from frame 30 to 39."""
    return make_video(tmp_path / "clip.mp4", n_frames=60, fps=10, anomaly=range(30, 40))


@pytest.fixture
def frame_folder(tmp_path) -> Path:
    from PIL import Image

    folder = tmp_path / "frames"
    folder.mkdir()
    for i in range(12):
        Image.fromarray(scene(i, 64, 48)).save(folder / f"{i}.png")  # natural order: 2 before 10
    return folder


@pytest.fixture(scope="session")
def gguf_file(tmp_path_factory) -> Path:
    """The offline Qwen2.5-Coder-1.5B GGUF, joined from its 22 pip parts (sha256-checked) once."""
    from oddsight.llm.gguf import gguf_path

    home = tmp_path_factory.getbasetemp() / "llm-home"
    home.mkdir(exist_ok=True)
    models = tmp_path_factory.getbasetemp() / "shared-models"
    models.mkdir(exist_ok=True)
    if not (home / "models").exists():
        (home / "models").symlink_to(models, target_is_directory=True)
    old = os.environ.get("ODDSIGHT_HOME")
    os.environ["ODDSIGHT_HOME"] = str(home)
    try:
        return gguf_path("qwen2.5-coder-1.5b")
    finally:
        if old is None:
            os.environ.pop("ODDSIGHT_HOME")
        else:
            os.environ["ODDSIGHT_HOME"] = old


from tests.live_servers import mosquitto, rtsp, webhook  # noqa: E402, F401  (the real servers' fixtures, for every test)
