"""Bad input through the real CLI and the Python API, table-driven: each case gets exactly one message line on
stderr, a non-zero exit, no traceback, and leaves no partial or invalid file behind.

The mechanisms under test: one validated configuration (``oddsight.validate``, used by ``DetectConfig`` and
``Sampling``), one atomic writer (``oddsight.atomic``), and URL redaction on every message (``oddsight.redact``).
"""

from __future__ import annotations

import json
import os
import resource
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from oddsight.cli import app
from oddsight.config import DetectConfig
from oddsight.detection import Detection, detect
from oddsight.errors import ConfigError, InputError
from oddsight.video.sampling import Sampling
from tests.conftest import make_video

runner = CliRunner()

NUMERIC = {
    # option: values that must be refused (exit 2, the option named in the message)
    "--fps": ["inf", "nan", "-1", "0", "1e9"],
    "--start": ["nan", "-1", "inf"],
    "--end": ["nan", "-5", "inf"],
    "--smooth": ["nan", "-1", "inf"],
    "--min-event": ["nan", "-1", "inf"],
    "--merge-gap": ["nan", "-2", "inf"],
    "--threshold": ["nan", "inf", "-inf"],
    "--batch-size": ["0", "-3"],
    "--frames-fps": ["-5", "0", "nan", "inf"],
    "--stride": ["0", "-1"],
    "--window": ["0", "-1", "nan"],
    "--refine-k": ["0", "-2"],
    "--chunk": ["0", "nan"],
    "--group": ["2", "-0.5", "nan"],
}
CHOICES = {"--device": ["gpu", "tpu"], "--split": ["words"], "--summary": ["long"], "--method": ["magic", "NOVELTY"]}
DETECT_CASES = [(opt, v) for opt, values in {**NUMERIC, **CHOICES}.items() for v in values]


def _one_clean_line(r, code: int | None = None) -> str:
    assert r.exit_code != 0, r.output
    if code is not None:
        assert r.exit_code == code, (r.exit_code, r.stderr)
    assert r.stderr.count("\n") == 1 and r.stderr.startswith("oddsight: error: "), r.stderr
    assert "Traceback" not in r.stderr and "Traceback" not in r.stdout
    return r.stderr


@pytest.fixture(scope="module")
def clip(tmp_path_factory) -> Path:
    return make_video(tmp_path_factory.mktemp("clip") / "clip.mp4", n_frames=40, fps=10, anomaly=range(20, 30))


@pytest.mark.parametrize(("option", "value"), DETECT_CASES)
def test_detect_refuses_a_bad_option_value(clip, tmp_path, option, value):
    out = tmp_path / "out"
    message = _one_clean_line(runner.invoke(app, ["detect", str(clip), "--out", str(out), "-q", option, value]), 2)
    assert option.lstrip("-").split("-")[0] in message or "method" in message
    assert not out.exists() or list(out.iterdir()) == []  # nothing written


@pytest.mark.parametrize(("option", "value"), [("--nu", "0"), ("--nu", "1.5"), ("--nu", "nan"), ("--k", "0")])
def test_fit_refuses_bad_parameters_before_encoding(clip, tmp_path, option, value):
    r = runner.invoke(app, ["fit", str(clip), "-o", str(tmp_path / "s.oddsight"), "--kind", "knn", option, value])
    _one_clean_line(r, 2)
    assert not (tmp_path / "s.oddsight").exists()


@pytest.mark.parametrize(("option", "value"), [("--iou", "0"), ("--iou", "1.5"), ("--iou", "nan"), ("--sweep", "nu")])
def test_eval_refuses_bad_options(clip, tmp_path, option, value):
    root = tmp_path / "data"
    root.mkdir()
    (root / "clip.mp4").write_bytes(clip.read_bytes())
    (root / "labels.csv").write_text("video,start,end\nclip,20,29\n")
    _one_clean_line(runner.invoke(app, ["eval", "--dataset", "csv", "--root", str(root), "-q", option, value]), 2)


def _blocked_outputs(tmp_path: Path) -> list[tuple[str, Path]]:
    a_file = tmp_path / "a-file"
    a_file.write_text("keep me")
    return [("under a regular file", a_file / "out"), ("is a regular file", a_file)]


def test_detect_out_that_cannot_be_a_folder(clip, tmp_path):
    for _, out in _blocked_outputs(tmp_path):
        message = _one_clean_line(runner.invoke(app, ["detect", str(clip), "--out", str(out), "-q"]), 6)
        assert message.startswith(f"oddsight: error: cannot write {out}")
    assert (tmp_path / "a-file").read_text() == "keep me"


def test_eval_checks_out_before_the_run(clip, tmp_path, monkeypatch):
    root = tmp_path / "data"
    root.mkdir()
    (root / "clip.mp4").write_bytes(clip.read_bytes())
    (root / "labels.csv").write_text("video,start,end\nclip,20,29\n")

    def no_run(*args, **kwargs):
        raise AssertionError("eval ran before checking --out")

    monkeypatch.setattr("oddsight.evaluate.runner.evaluate", no_run)
    for _, out in _blocked_outputs(tmp_path):
        r = runner.invoke(app, ["eval", "--dataset", "csv", "--root", str(root), "--out", str(out), "-q"])
        assert _one_clean_line(r, 6).startswith(f"oddsight: error: cannot write {out}")


def test_fit_output_that_cannot_be_written(clip, tmp_path):
    folder = tmp_path / "a-folder"
    folder.mkdir()
    for target in (folder, *[p for _, p in _blocked_outputs(tmp_path)[:1]]):
        r = runner.invoke(app, ["fit", str(clip), "-o", str(target), "-q"])
        assert _one_clean_line(r, 6).startswith("oddsight: error: cannot write")


@pytest.mark.parametrize(
    "url",
    [
        "rtsp://user:se/cret@127.0.0.1:9/stream",
        "rtsp://:secret@127.0.0.1:9/stream",
        "http://user:p@ss-secret@127.0.0.1:9/cam.mjpg",
        "rtsp://secret-token@127.0.0.1:9/stream",
        "rtsps://admin:secret:with:colons@127.0.0.1:9/s?x=1",
    ],
)
def test_credentials_never_reach_a_message(tmp_path, url):
    message = _one_clean_line(runner.invoke(app, ["detect", url, "--out", str(tmp_path / "o"), "-q"]))
    assert "secret" not in message and "se/cret" not in message and "***@127.0.0.1:9" in message


def _cli(*args: str, limit: int | None = None, env: dict | None = None) -> subprocess.CompletedProcess:
    def cap():
        if limit is not None:
            resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))

    exe = [sys.executable, "-c", "from oddsight.cli import main; main()"]
    return subprocess.run(
        [*exe, *args], capture_output=True, text=True, preexec_fn=cap, env={**os.environ, **(env or {})}, timeout=300
    )


def test_a_file_size_limit_is_one_line_and_leaves_no_partial_file(clip, tmp_path):
    out = tmp_path / "out"
    r = _cli("detect", str(clip), "--out", str(out), "-q", "--no-cache", limit=20_000)  # the PNG needs more
    assert r.returncode == 6, r.stderr
    assert r.stderr.count("\n") == 1 and "cannot write" in r.stderr and "Traceback" not in r.stderr
    for f in out.iterdir():  # what was written is whole and valid; nothing half-written is left
        assert not f.name.startswith(".")
        if f.suffix == ".json":
            json.loads(f.read_text())
    assert not (out / "clip.png").exists()


def test_two_runs_into_one_out_always_leave_valid_json(clip, tmp_path):
    out = tmp_path / "out"
    exe = [sys.executable, "-c", "from oddsight.cli import main; main()"]
    args = ["detect", str(clip), "--out", str(out), "-q"]
    for round_ in range(3):
        runs = [subprocess.Popen([*exe, *args, "--threshold", str(0.5 + i)]) for i in range(2)]
        assert [p.wait(timeout=300) for p in runs] == [0, 0], round_
        data = json.loads((out / "clip.json").read_text())  # valid, and from one of the two runs
        assert data["threshold"] in (0.5, 1.5)
        assert [f.name for f in out.iterdir() if f.name.startswith(".")] == []


def test_python_api_checks_types_before_decoding(clip):
    with pytest.raises(ConfigError, match="DetectConfig"):
        detect(clip, "fast")  # type: ignore[arg-type]
    with pytest.raises(InputError, match="path or URL"):
        Detection(DetectConfig(progress=False)).run(123)  # type: ignore[arg-type]
    for bad in ({"threshold": "0.5"}, {"smooth_s": float("nan")}, {"batch_size": 2.5}, {"device": "gpu"}):
        with pytest.raises(ConfigError):
            DetectConfig(**bad)
    for bad in ({"fps": float("inf")}, {"start_s": float("nan")}, {"stride": 0, "fps": None}):
        with pytest.raises(ConfigError):
            Sampling(**bad)


def test_json_never_holds_nan(tmp_path):
    from oddsight.atomic import write_json
    from oddsight.errors import OutputError

    out = tmp_path / "out"
    with pytest.raises(OutputError, match="NaN"):
        write_json(out / "x.json", {"score": float("nan")})
    assert not out.exists() or list(out.iterdir()) == []


def _rewrite(src: Path, dst: Path, manifest_edit=None, arrays_edit=None) -> Path:
    import io
    import zipfile

    import numpy as np

    with zipfile.ZipFile(src) as zf:
        manifest = json.loads(zf.read("manifest.json"))
        with np.load(io.BytesIO(zf.read("arrays.npz")), allow_pickle=False) as data:
            arrays = {k: data[k] for k in data.files}
    if manifest_edit:
        manifest_edit(manifest)
    if arrays_edit:
        arrays_edit(arrays)
    buffer = io.BytesIO()
    np.savez(buffer, **arrays)
    with zipfile.ZipFile(dst, "w") as zf:
        zf.writestr("manifest.json", json.dumps(manifest))
        zf.writestr("arrays.npz", buffer.getvalue())
    return dst


def _set(path: list[str], value):
    def edit(d):
        for key in path[:-1]:
            d = d[key]
        d[path[-1]] = value

    return edit


def _array(name, change):
    def edit(arrays):
        arrays[name] = change(arrays[name])

    return edit


BAD_DETECTOR_FILES = {
    "unknown param": (_set(["params", "evil"], 1), None),
    "unknown state": (_set(["state", "__class__"], "x"), None),
    "threshold is text": (_set(["state", "threshold_"], "high"), None),
    "threshold is NaN": (_set(["state", "threshold_"], float("nan")), None),
    "k is zero": (_set(["params", "k"], 0), None),
    "kind unknown": (_set(["params", "kind"], "svm"), None),
    "no encoder": (lambda m: m.pop("encoder"), None),
    "state disagrees with encoder": (_set(["state", "model_id_"], "dinov2-small"), None),
    "grid is text": (_set(["state", "grid_"], "16"), None),
    "params not an object": (_set(["params"], [1, 2]), None),
    "NaN in the memory": (None, _array("train_", lambda a: a * float("nan"))),
    "memory of the wrong shape": (None, _array("train_", lambda a: a[:, :10])),
    "memory flattened": (None, _array("train_", lambda a: a.reshape(len(a), -1))),
    "zero scale": (None, _array("scale_", lambda a: a * 0)),
    "scale of another length": (None, _array("scale_", lambda a: a[:2])),
    "integer arrays": (None, _array("mean_", lambda a: a.astype("int64"))),
    "extra array": (None, lambda arrays: arrays.update(extra=arrays["mean_"])),
    "missing array": (None, lambda arrays: arrays.pop("train_")),
}


@pytest.fixture(scope="module")
def fitted(clip, tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("fitted") / "site.oddsight"
    r = runner.invoke(app, ["fit", str(clip), "-o", str(path), "--fps", "10", "-q"])
    assert r.exit_code == 0, r.output
    return path


@pytest.mark.parametrize("case", list(BAD_DETECTOR_FILES))
def test_a_bad_detector_file_is_refused_whole_on_load(clip, fitted, tmp_path, case):
    manifest_edit, arrays_edit = BAD_DETECTOR_FILES[case]
    bad = _rewrite(fitted, tmp_path / "bad.oddsight", manifest_edit, arrays_edit)
    r = runner.invoke(
        app, ["detect", str(clip), "-m", "oneclass", "--detector", str(bad), "-q", "--out", str(tmp_path)]
    )
    assert "detector" in _one_clean_line(r, 4)


def test_the_untouched_detector_file_still_loads(clip, fitted, tmp_path):
    same = _rewrite(fitted, tmp_path / "same.oddsight")
    r = runner.invoke(
        app, ["detect", str(clip), "-m", "oneclass", "--detector", str(same), "-q", "--out", str(tmp_path)]
    )
    assert r.exit_code == 0, r.stderr


def test_a_truncated_feature_cache_entry_is_recomputed(clip, tmp_path):
    from oddsight.features.cache import FeatureCache

    config = DetectConfig(progress=False)
    first = Detection(config).run(clip)
    entries = list(FeatureCache().root.rglob("*.npz"))
    assert entries
    for f in entries:
        f.write_bytes(f.read_bytes()[: len(f.read_bytes()) // 2])  # cut in half: a BadZipFile inside numpy
    again = Detection(config).run(clip)
    assert not again.from_cache and again.sample_scores.tolist() == first.sample_scores.tolist()


def test_an_unwritable_cache_keeps_the_result_and_says_so(clip, tmp_path, monkeypatch):
    from oddsight.features.cache import FeatureCache

    blocked = tmp_path / "blocked"
    blocked.write_text("a file where the cache folder should be")
    monkeypatch.setenv("ODDSIGHT_HOME", str(blocked / "home"))  # the hash memo cannot be written either
    result = Detection(DetectConfig(progress=False), cache=FeatureCache(blocked / "features")).run(clip)
    assert len(result.frame_scores) == 40 and any("features not cached" in w for w in result.warnings)


def test_a_decompression_bomb_in_a_frame_folder_is_one_clear_error(frame_folder, tmp_path, monkeypatch):
    from PIL import Image

    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 100)  # the 64x48 frames now count as bombs (> 2x the limit)
    r = runner.invoke(app, ["detect", str(frame_folder), "-q", "--out", str(tmp_path / "o")])
    assert "decompression bomb" in _one_clean_line(r, 2)


def test_fit_reports_decoder_warnings_as_detect_does(tmp_path):
    whole = make_video(tmp_path / "whole.avi", n_frames=120, fps=10)  # avi: still readable when cut short
    cut = tmp_path / "cut.avi"
    cut.write_bytes(whole.read_bytes()[: int(whole.stat().st_size * 0.6)])
    r = runner.invoke(app, ["fit", str(cut), "-o", str(tmp_path / "s.oddsight"), "-q", "--fps", "5"])
    assert r.exit_code == 0, r.stderr
    assert "oddsight: warning:" in r.stderr and "cut.avi" in r.stderr


def _config_property_cases():
    from hypothesis import strategies as st

    values = st.one_of(
        st.floats(allow_nan=True, allow_infinity=True), st.integers(-10, 10), st.text(max_size=3), st.none()
    )
    fields = st.sampled_from(["threshold", "smooth_s", "hysteresis", "min_event_s", "merge_gap_s", "folder_fps"])
    return st.dictionaries(fields, values, max_size=4), st.dictionaries(
        st.sampled_from(["fps", "start_s", "end_s"]), values, max_size=3
    )


def test_any_option_values_give_a_valid_config_or_one_config_error():
    import math

    from hypothesis import given, settings

    config_values, sampling_values = _config_property_cases()

    @settings(max_examples=300, deadline=None)
    @given(config_values, sampling_values)
    def check(config_kw, sampling_kw):
        try:
            sampling = Sampling(**sampling_kw)
            config = DetectConfig(sampling=sampling, **config_kw)
        except ConfigError as exc:
            assert str(exc) and "\n" not in str(exc)
            return
        for name in ("threshold", "smooth_s", "hysteresis", "min_event_s", "merge_gap_s", "folder_fps"):
            value = getattr(config, name)
            assert value is None or (isinstance(value, (int, float)) and math.isfinite(value))
        assert config.sampling.fps is None or 0 < config.sampling.fps <= 1000

    check()


def test_a_gpu_asked_for_and_absent_is_a_warning(clip, tmp_path):
    from oddsight.pipeline import cuda_available

    r = runner.invoke(app, ["detect", str(clip), "--device", "cuda", "-q", "--out", str(tmp_path / "o")])
    assert r.exit_code == 0, r.stderr
    assert ("no CUDA device" in r.stderr) != cuda_available()


def test_decoding_goes_on_past_corrupt_packets(shared, tmp_path):
    import numpy as np

    from oddsight.video.source import open_source

    data = bytearray((shared / "ucf_crime" / "videos" / "RoadAccidents017_x264.mp4").read_bytes())
    rng = np.random.default_rng(0)
    for k in range(5):  # five bursts of garbage through the middle of the file
        pos = int(len(data) * (0.3 + 0.1 * k))
        data[pos : pos + 3000] = rng.integers(0, 256, 3000, dtype=np.uint8).tobytes()
    corrupt = tmp_path / "corrupt.mp4"
    corrupt.write_bytes(bytes(data))
    source = open_source(corrupt)
    frames = sum(1 for _ in source.frames())
    assert frames >= 200 and source.report.frames_decoded == frames  # stopping at the first error gave 67 of 243
    assert any("corrupt packet(s) skipped" in w for w in source.report.warnings)
    r = runner.invoke(app, ["detect", str(corrupt), "-q", "--out", str(tmp_path / "o")])
    assert r.exit_code == 0 and "corrupt packet(s) skipped" in r.stderr


def _inputs(tmp: Path, clip: Path) -> dict[str, tuple[list[str], int, str]]:
    """name -> (CLI arguments, exit code, words the message must hold)."""
    (tmp / "empty.mp4").write_bytes(b"")
    (tmp / "notes.mp4").write_text("hello, not a video")
    (tmp / "no-videos").mkdir()
    (tmp / "no-videos" / "readme.txt").write_text("x")
    (tmp / "bad-frames").mkdir()
    (tmp / "bad-frames" / "000.jpg").write_bytes(b"\xff\xd8 not really a jpeg")
    (tmp / "det-folder").mkdir()
    (tmp / "ds").mkdir()
    out = ["--out", str(tmp / "o"), "-q"]
    return {
        "missing file": (["detect", str(tmp / "missing.mp4"), *out], 2, "no such file"),
        "empty file": (["detect", str(tmp / "empty.mp4"), *out], 2, "empty"),
        "text renamed .mp4": (["detect", str(tmp / "notes.mp4"), *out], 2, "not a video"),
        "folder without videos": (["detect", str(tmp / "no-videos"), *out], 2, "no video files"),
        "corrupt frame image": (["detect", str(tmp / "bad-frames"), *out], 2, "not a readable image"),
        "unknown model": (["detect", str(clip), "--model", "nosuch", *out], 2, "unknown model"),
        "missing model path": (
            ["detect", str(clip), "--model-path", str(tmp / "nope.onnx"), *out],
            3,
            "does not exist",
        ),
        "detector is a folder": (
            ["detect", str(clip), "-m", "oneclass", "--detector", str(tmp / "det-folder"), *out],
            4,
            "detector",
        ),
        "missing detector": (
            ["detect", str(clip), "-m", "oneclass", "--detector", str(tmp / "no.oddsight"), *out],
            4,
            "no such detector",
        ),
        "lavad without captions": (
            ["detect", str(clip), "-m", "lavad", "--llm", "openai:http://127.0.0.1:9/v1#m", *out],
            2,
            "needs captions",
        ),
        "missing captions file": (
            [
                "detect",
                str(clip),
                "-m",
                "judge",
                "--captions",
                str(tmp / "c.txt"),
                "--llm",
                "openai:http://127.0.0.1:9/v1#m",
                *out,
            ],
            2,
            "c.txt",
        ),
        "unknown dataset kind": (
            ["eval", "--dataset", "kinetics", "--root", str(tmp / "ds"), "-q"],
            2,
            "unknown dataset kind",
        ),
        "missing dataset root": (["eval", "--dataset", "csv", "--root", str(tmp / "nowhere"), "-q"], 2, "not found"),
        "missing labels csv": (
            ["eval", "--dataset", "csv", "--root", str(tmp / "ds"), "-q"],
            2,
            "labels CSV not found",
        ),
        "fit on nothing usable": (
            ["fit", str(tmp / "no-videos"), "-o", str(tmp / "s.oddsight"), "-q"],
            2,
            "no video files",
        ),
        "pull an unknown model": (["models", "pull", "nosuch"], 2, "unknown model"),
    }


INPUT_CASES = [
    "missing file",
    "empty file",
    "text renamed .mp4",
    "folder without videos",
    "corrupt frame image",
    "unknown model",
    "missing model path",
    "detector is a folder",
    "missing detector",
    "lavad without captions",
    "missing captions file",
    "unknown dataset kind",
    "missing dataset root",
    "missing labels csv",
    "fit on nothing usable",
    "pull an unknown model",
]


@pytest.mark.parametrize("case", INPUT_CASES)
def test_a_bad_input_is_one_line_with_its_exit_code(clip, tmp_path, case):
    args, code, words = _inputs(tmp_path, clip)[case]
    message = _one_clean_line(runner.invoke(app, args), code)
    assert words in message, message
