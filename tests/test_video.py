from __future__ import annotations

import http.server
import threading
from functools import partial

import numpy as np
import pytest

from oddsight.errors import InputError, StreamError, VideoDecodeError
from oddsight.video.prefetch import prefetch
from oddsight.video.sampling import Sampling
from oddsight.video.source import open_source
from tests.conftest import make_video


def test_fps_sampling_uses_real_timestamps(tmp_path):
    for fps, step in ((10, 5), (25, 12.5), (30, 15)):
        src = open_source(make_video(tmp_path / f"v{fps}.mp4", n_frames=int(fps * 3), fps=fps))
        frames = list(src.frames(Sampling(fps=2)))
        assert src.info.fps == pytest.approx(fps)
        assert [f.t for f in frames] == pytest.approx([0, 0.5, 1.0, 1.5, 2.0, 2.5], abs=1 / fps)
        assert all(abs(f.index - k * step) <= 1 for k, f in enumerate(frames))
        assert src.report.frames_decoded == int(fps * 3)


def test_stride_resize_and_span(video):
    src = open_source(video)
    frames = list(src.frames(Sampling(fps=None, stride=7), size=(32, 24)))
    assert [f.index for f in frames] == list(range(0, 60, 7))
    assert frames[0].image.shape == (24, 32, 3) and frames[0].image.dtype == np.uint8
    span = list(src.frames(Sampling(fps=None, stride=1, start_s=1.0, end_s=2.0)))
    assert [f.index for f in span] == list(range(10, 20))


def test_the_kept_scaler_gives_each_frame_the_pixels_of_its_own_scaler(tmp_path):
    """to_rgb and the tamper check's grey picture convert on scalers kept per thread and output (a frame's own
    scaler costs its setup each frame): frames of two sizes, interleaved, at three output shapes, match PyAV's own
    pixels."""
    import av

    from oddsight.live.tamper import grey_picture
    from oddsight.video.frames import to_rgb

    videos = []
    for name, size in (("a.mp4", (96, 64)), ("b.mp4", (160, 90))):
        with av.open(str(make_video(tmp_path / name, n_frames=6, size=size))) as c:
            videos.append(list(c.decode(video=0)))
    alternating = [f for pair in zip(*videos, strict=True) for f in pair]  # the scaler is set up anew each time
    for frame in alternating:
        assert np.array_equal(
            to_rgb(frame, (32, 24)), frame.to_ndarray(width=32, height=24, format="rgb24", interpolation="AREA")
        )
        assert np.array_equal(to_rgb(frame, None), frame.to_ndarray(format="rgb24"))
        grey = frame.to_ndarray(width=160, height=120, format="gray").astype(np.float32)
        assert np.array_equal(grey_picture(frame), grey)


def test_containers(tmp_path):
    for name, codec in (("a.avi", "mpeg4"), ("b.mkv", "libx264"), ("c.mov", "libx264"), ("d.webm", "libvpx")):
        src = open_source(make_video(tmp_path / name, n_frames=20, codec=codec))
        assert len(list(src.frames())) == 20, name


def test_frame_folder_natural_order(frame_folder):
    src = open_source(frame_folder, folder_fps=4)
    frames = list(src.frames(Sampling(fps=2)))
    assert src.info.kind == "frames" and src.info.frame_count == 12
    assert [f.index for f in frames] == [0, 2, 4, 6, 8, 10]
    assert frames[1].t == pytest.approx(0.5)


def test_bad_inputs(tmp_path):
    with pytest.raises(InputError, match="no such file"):
        open_source(tmp_path / "missing.mp4")
    (tmp_path / "empty.mp4").write_bytes(b"")
    with pytest.raises(VideoDecodeError, match="empty"):
        open_source(tmp_path / "empty.mp4")
    (tmp_path / "text.mp4").write_text("not a video at all\n" * 50)
    with pytest.raises(VideoDecodeError, match="not a video"):
        open_source(tmp_path / "text.mp4")
    (tmp_path / "empty_dir").mkdir()
    with pytest.raises(InputError, match="no video files or image frames"):
        open_source(tmp_path / "empty_dir")


def test_audio_only_file_has_no_video_stream(tmp_path):
    import av

    path = tmp_path / "tone.wav"
    with av.open(str(path), "w") as out:
        stream = out.add_stream("pcm_s16le", rate=8000)
        frame = av.AudioFrame.from_ndarray(np.zeros((1, 8000), np.int16), format="s16", layout="mono")
        frame.sample_rate = 8000
        for packet in stream.encode(frame):
            out.mux(packet)
    with pytest.raises(VideoDecodeError, match="no video stream"):
        open_source(path)


def test_truncated_file_keeps_decoded_frames_and_says_so(tmp_path):
    full = make_video(tmp_path / "full.avi", n_frames=100)
    data = full.read_bytes()
    cut = tmp_path / "cut.avi"
    cut.write_bytes(data[: len(data) // 2])
    src = open_source(cut)
    frames = list(src.frames())
    assert 0 < len(frames) < 100
    assert src.report.frames_decoded == len(frames)
    assert any("truncated" in w or "stopped" in w for w in src.report.warnings)


def test_http_stream_and_unreachable_url(tmp_path):
    make_video(tmp_path / "served.mp4", n_frames=30)
    handler = partial(http.server.SimpleHTTPRequestHandler, directory=str(tmp_path))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        src = open_source(f"http://127.0.0.1:{server.server_port}/served.mp4")
        assert src.is_live and src.info.width == 96
        assert len(list(src.frames())) == 30
    finally:
        server.shutdown()
    with pytest.raises(StreamError, match="cannot open stream"):
        open_source(f"http://127.0.0.1:{server.server_port}/served.mp4", reconnects=0)


def test_a_stream_is_sampled_by_its_own_timestamps_like_the_same_file_on_disk(tmp_path):
    make_video(tmp_path / "served.mp4", n_frames=80, fps=10)
    handler = partial(http.server.SimpleHTTPRequestHandler, directory=str(tmp_path))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:  # served far faster than real time: the wall clock would see one sample, the timestamps see 16
        stream = open_source(f"http://127.0.0.1:{server.server_port}/served.mp4")
        live = [(f.index, round(f.t, 3)) for f in stream.frames(Sampling(fps=2))]
    finally:
        server.shutdown()
    disk = [(f.index, round(f.t, 3)) for f in open_source(tmp_path / "served.mp4").frames(Sampling(fps=2))]
    assert live == disk and len(live) == 16 and stream.report.warnings == []


def test_stream_password_is_redacted():
    with pytest.raises(StreamError) as err:
        open_source("rtsp://admin:hunter2@127.0.0.1:1/live", reconnects=0)
    assert "hunter2" not in str(err.value) and "rtsp://***@127.0.0.1:1/live" in str(err.value)


def test_prefetch_order_errors_and_early_stop():
    assert list(prefetch(iter(range(100)), maxsize=2)) == list(range(100))

    def broken():
        yield 1
        raise ValueError("boom")

    with pytest.raises(ValueError, match="boom"):
        list(prefetch(broken()))
    produced = []

    def endless():
        i = 0
        while True:
            produced.append(i)
            yield i
            i += 1

    gen = prefetch(endless(), maxsize=2)
    assert next(gen) == 0
    gen.close()
    count = len(produced)
    assert count < 10
    threading.Event().wait(0.3)
    assert len(produced) == count  # the worker stopped


@pytest.mark.parametrize("t", [0.4, 22.5])
def test_a_span_shows_the_frame_scored_at_that_time(shared, t):
    """One clock: the server's thumbnails and clips (a seek, then ``span``) show the very frame `detect` decoded
    at the same time, to the pixel."""
    source = open_source(shared / "ucf_crime" / "videos" / "Fighting033_x264.mp4")
    scored = next(f for f in source.frames(Sampling(fps=None, stride=1)) if f.t >= t - 1e-6)
    shown = next(source.span(t))
    assert shown.t == pytest.approx(scored.t, abs=1e-6)
    assert np.array_equal(shown.image, scored.image)
