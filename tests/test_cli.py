from __future__ import annotations

import json
import subprocess
import sys

import pytest
from typer.testing import CliRunner

from oddsight.cli import app
from tests.conftest import make_video

runner = CliRunner()


def run(*args: str):
    return runner.invoke(app, list(args))


def test_detect_writes_json_csv_png_and_video(video, tmp_path):
    out = tmp_path / "out"
    r = run("detect", str(video), "--fps", "5", "--out", str(out), "--save-video", "-q")
    assert r.exit_code == 0, r.output
    data = json.loads((out / "clip.json").read_text())
    assert data["schema_version"] == 2 and data["method"] == "novelty" and data["model"] == "motion"
    assert len(data["frame_scores"]) == 60 and data["video"]["fps"] == 10
    assert (out / "clip.events.csv").read_text().startswith("video,event,start_frame")
    assert (out / "clip.png").read_bytes()[:4] == b"\x89PNG"
    import av

    with av.open(str(out / "clip.annotated.mp4")) as c:
        assert c.streams.video[0].frames == 60 or sum(1 for _ in c.decode(video=0)) == 60


def test_json_to_stdout_and_a_folder_of_videos(tmp_path):
    folder = tmp_path / "videos"
    folder.mkdir()
    make_video(folder / "a.mp4", n_frames=30, anomaly=range(10, 20))
    make_video(folder / "b.avi", n_frames=30)
    (folder / "notes.txt").write_text("ignored")
    r = run("detect", str(folder), "--fps", "5", "--out", str(tmp_path / "o"), "--json", "--threshold", "0.05")
    assert r.exit_code == 0, r.output
    payload = json.loads(r.stdout)
    assert [res["video"]["source"].rsplit("/", 1)[-1] for res in payload["results"]] == ["a.mp4", "b.avi"]
    assert all(len(res["frame_scores"]) == 30 for res in payload["results"])


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda p: p / "missing.mp4", "no such file"),
        (lambda p: ((p / "empty.mp4").write_bytes(b"") and p / "empty.mp4") or p / "empty.mp4", "empty"),
        (lambda p: (p / "notes.mp4").write_text("hello") and p / "notes.mp4", "not a video"),
    ],
)
def test_bad_input_is_one_line_and_nonzero(tmp_path, make, message):
    path = make(tmp_path)
    r = run("detect", str(path), "-q", "--out", str(tmp_path / "o"))
    assert r.exit_code != 0
    assert r.stderr.count("\n") == 1 and message in r.stderr and "Traceback" not in r.stderr


def test_bad_method_and_missing_detector(video, tmp_path):
    r = run("detect", str(video), "--method", "magic", "-q")
    assert r.exit_code == 2 and "unknown method" in r.stderr
    r = run("detect", str(video), "--method", "oneclass", "-q", "--out", str(tmp_path))
    assert r.exit_code == 2 and "--detector" in r.stderr


def test_fit_then_detect_oneclass_and_refuse_other_encoder(tmp_path):
    normal = make_video(tmp_path / "normal.mp4", n_frames=80)
    odd = make_video(tmp_path / "odd.mp4", n_frames=60, anomaly=range(30, 45))
    model = tmp_path / "site.oddsight"
    r = run("fit", str(normal), "-o", str(model), "--fps", "10", "-q")
    assert r.exit_code == 0, r.output
    # 80 frames: too few for the threshold's 99.5 % quantile, and the fit says so (it still fits)
    assert "quantile of the scores of 80 normal frames, too few" in r.stderr and "--threshold" in r.stderr
    longer = make_video(tmp_path / "longer.mp4", n_frames=200)
    r = run("fit", str(longer), "-o", str(tmp_path / "longer.oddsight"), "--fps", "10", "-q")
    assert r.exit_code == 0 and "too few" not in r.stderr, r.output
    r = run(
        "detect",
        str(odd),
        "--method",
        "oneclass",
        "--detector",
        str(model),
        "--fps",
        "10",
        "--json",
        "-q",
        "--smooth",
        "0.5",
        "--out",
        str(tmp_path / "o"),
    )
    assert r.exit_code == 0, r.output
    res = json.loads(r.stdout)["results"][0]
    scores = res["frame_scores"]
    assert max(scores[30:45]) > max(scores[:20]) and res["events"]
    r = run("detect", str(odd), "--method", "oneclass", "--detector", str(model), "--model", "clip-vit-b32", "-q")
    assert r.exit_code == 4 and "fitted on motion" in r.stderr
    (tmp_path / "bad.oddsight").write_text("nope")
    r = run("detect", str(odd), "--method", "oneclass", "--detector", str(tmp_path / "bad.oddsight"), "-q")
    assert r.exit_code == 4 and "not an oddsight detector file" in r.stderr


def test_models_list_and_pull(tmp_path):
    r = run("models", "list", "--json")
    rows = {row["id"]: row for row in json.loads(r.stdout)}
    assert rows["dinov2-small"]["available"] in ("pip", "cache")
    assert rows["clip-vit-b32"]["available"] == "missing"
    r = run("models", "pull", "dinov2-small", "--to", str(tmp_path / "carry"))
    assert r.exit_code == 0 and (tmp_path / "carry" / "model.onnx").exists()
    r = run("models", "pull", "clip-vit-b32")
    assert r.exit_code == 3 and "cannot download" in r.stderr


def test_help_does_not_import_heavy_libraries():
    code = (
        "import sys, oddsight.cli; print(sorted(m for m in ('numpy','onnxruntime','torch','av') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


@pytest.mark.parametrize("command", ["detect", "eval", "fit", "watch", "serve"])
def test_help_names_what_each_option_takes_not_its_python_type(command):
    r = run(command, "--help")
    assert r.exit_code == 0
    options = [line for line in r.stdout.splitlines() if line.lstrip("│ ").startswith("--")]
    assert options and not [line for line in options if "list[" in line], r.stdout


@pytest.mark.parametrize(
    ("hidden", "args", "extra"),
    [
        ({"llama_cpp"}, ["-m", "lavad"], "llm"),
        ({"transformers", "torch"}, ["-m", "judge", "--llm", "openai:http://127.0.0.1:9/v1#m"], "llm"),
        ({"transformers"}, ["-m", "zeroshot", "--anomaly", "a fire"], "transformers"),
    ],
)
def test_a_missing_extra_is_one_line_naming_it(video, tmp_path, monkeypatch, hidden, args, extra):
    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name in hidden else real(name, *a))
    captions = tmp_path / "c.txt"
    captions.write_text("a person walks\n" * 60)
    r = run("detect", str(video), *args, "--captions", str(captions), "-q", "--out", str(tmp_path / "o"))
    assert r.exit_code == 3, r.output
    assert r.stderr.count("\n") == 1 and f"pip install 'oddsight[{extra}]'" in r.stderr, r.stderr


def test_version():
    from oddsight.version import __version__

    r = run("--version")
    assert r.exit_code == 0 and r.stdout.strip() == f"oddsight {__version__}"


def test_a_copy_seen_before_is_named_after_itself_not_the_old_file(video, tmp_path):
    """The feature cache is keyed by content: a copy under a new name must still write outputs named after it."""
    out = tmp_path / "out"
    assert run("detect", str(video), "--fps", "5", "--out", str(out), "-q").exit_code == 0
    lobby = tmp_path / "lobby_cam.mp4"
    lobby.write_bytes(video.read_bytes())
    r = run("detect", str(lobby), "--fps", "5", "--out", str(out), "-q")
    assert r.exit_code == 0, r.output
    data = json.loads((out / "lobby_cam.json").read_text())
    assert data["video"]["source"] == str(lobby)
    assert (out / "lobby_cam.events.csv").exists()
    assert json.loads((out / "clip.json").read_text())["video"]["source"] == str(video)


def test_models_pull_into_a_path_under_a_file_is_one_line(tmp_path):
    (tmp_path / "afile").write_text("x")
    r = run("models", "pull", "dinov2-small", "--to", str(tmp_path / "afile" / "carry"))
    assert r.exit_code == 6 and "cannot make this folder" in r.stderr and "Traceback" not in r.output, r.output


@pytest.mark.parametrize("manifest", [[1, 2], "text", 3, None])
def test_a_detector_whose_manifest_is_not_an_object_is_one_line(video, tmp_path, manifest):
    import zipfile

    bad = tmp_path / "list.oddsight"
    with zipfile.ZipFile(bad, "w") as zf:
        zf.writestr("manifest.json", json.dumps(manifest))
        zf.writestr("arrays.npz", b"")
    r = run("detect", str(video), "--method", "oneclass", "--detector", str(bad), "-q")
    assert r.exit_code != 0 and "not an oddsight detector file" in r.stderr, r.output
    assert not isinstance(r.exception, (TypeError, AttributeError))
