"""lavad and judge end to end with the real LLM (a handful of calls): captions brought along or made
by a (tiny) captioner, events that say what happened and why, in JSON, CSV and the plot."""

from __future__ import annotations

import csv
import json

import numpy as np
import pytest
from typer.testing import CliRunner

from oddsight.cli import app
from oddsight.llm.base import LLM
from tests.helpers import FIRE_STREET, QUIET_STREET, colour_vlm

runner = CliRunner()
CALM = "A man walks slowly along an empty street."
FIRE = "A man pours petrol on a parked car and sets it on fire."


def run(*args: str):
    return runner.invoke(app, list(args))


@pytest.fixture
def captions(tmp_path):
    """One segment a second for the 6 s test video; seconds 3-4 describe an arson."""
    rows = [
        {"video": "clip.mp4", "start_frame": s * 10, "end_frame": s * 10 + 9, "text": FIRE if s in (3, 4) else CALM}
        for s in range(6)
    ]
    path = tmp_path / "captions.jsonl"
    path.write_text("\n".join(json.dumps(r) for r in rows) + "\n")
    return path


@pytest.mark.parametrize("method", ["judge", "lavad"])
def test_language_methods_find_the_event_and_say_why(method, video, captions, tmp_path, gguf_file):
    out = tmp_path / "out"
    args = ["detect", str(video), "--method", method, "--captions", str(captions), "--smooth", "0", "-o", str(out)]
    r = run(*args, "--window", "1", "--chunk", "1")  # one caption per window / chunk in this 6 s video
    assert r.exit_code == 0, r.output
    data = json.loads((out / "clip.json").read_text())
    assert data["method"] == method and data["model"] == "qwen2.5-coder-1.5b"
    assert len(data["frame_scores"]) == 60 and FIRE in " ".join(data["samples"]["text"])
    assert len(data["events"]) == 1
    event = data["events"][0]
    assert event["start_frame"] <= 35 <= event["end_frame"] and event["end_frame"] - event["start_frame"] < 45
    assert "fire" in event["label"] and FIRE in event["details"]["summary"]
    assert event["reason"]  # written by the LLM
    with open(out / "clip.events.csv", newline="") as f:
        row = next(csv.DictReader(f))
    assert row["reason"] == event["reason"] and row["label"] == event["label"]
    assert (out / "clip.png").read_bytes()[:4] == b"\x89PNG"
    scores = np.array(data["frame_scores"])
    assert scores[30:50].mean() > scores[:20].mean() + 0.2


class _RefusingLLM(LLM):
    """Same cache identity as the real model, but any question to it fails the test."""

    model_id = "qwen2.5-coder-1.5b"

    def __init__(self, key: str) -> None:
        self.key = key

    @property
    def cache_key(self) -> str:
        return self.key

    def choice_probabilities(self, messages, choices):
        raise AssertionError("the model was asked on a warm run")

    def generate(self, messages, max_tokens=64):
        raise AssertionError("the model was asked on a warm run")


def test_warm_rerun_asks_the_model_nothing(video, captions, tmp_path, gguf_file):
    from oddsight.config import DetectConfig
    from oddsight.language.session import LanguageSession, make_llm

    config = DetectConfig(method="judge", captions=str(captions), progress=False)
    llm = make_llm(None)
    first = LanguageSession(config, llm=llm).run_video(video)
    llm.close()
    warm = LanguageSession(config, llm=_RefusingLLM(llm.cache_key)).run_video(video)
    assert [e.to_dict() for e in warm.events] == [e.to_dict() for e in first.events] and first.events
    np.testing.assert_array_equal(warm.frame_scores, first.frame_scores)


def test_language_methods_explain_missing_captions_and_bad_llm(video, tmp_path):
    r = run("detect", str(video), "--method", "lavad", "-o", str(tmp_path / "o"), "-q")
    assert r.exit_code == 2 and "needs captions" in r.stderr and "Traceback" not in r.stderr
    r = run("detect", str(video), "--method", "judge", "--captions", str(tmp_path / "none.jsonl"), "-q")
    assert r.exit_code == 2 and "no such captions file" in r.stderr
    bad = tmp_path / "bad.gguf"
    bad.write_text("not a model")
    caps = tmp_path / "c.txt"
    caps.write_text("a man walks\n" * 60)
    r = run("detect", str(video), "-m", "judge", "--captions", str(caps), "--llm-path", str(bad), "-q")
    assert r.exit_code == 4 and "not a GGUF" in r.stderr
    r = run("detect", str(video), "-m", "judge", "--captions", str(caps), "--llm", "openai:no-url", "-q")
    assert r.exit_code == 2 and "openai:<base url>#<model>" in r.stderr


def test_captioner_then_lavad_with_caption_cleaning(video, tmp_path, gguf_file):
    from tests.tiny_models import save_tiny_captioner, save_tiny_clip

    cap = save_tiny_captioner(tmp_path / "tiny-git")
    clip = save_tiny_clip(tmp_path / "tiny-clip")
    args = ["detect", str(video), "-m", "lavad", "--captioner", f"hf:{cap}", "--fps", "2", "--no-reasons"]
    args += ["--model", "clip-vit-b32", "--model-path", str(clip), "-o", str(tmp_path / "o"), "--json"]
    r = run(*args)
    assert r.exit_code == 0, r.output
    result = json.loads(r.stdout)["results"][0]
    assert len(result["frame_scores"]) == 60 and len(result["samples"]["text"]) > 0
    assert result["params"]["text_encoder"] == "clip-vit-b32"
    assert not any("not cleaned" in w for w in result["warnings"])
    plain = run(
        "detect",
        str(video),
        "-m",
        "lavad",
        "--captioner",
        f"hf:{cap}",
        "--no-reasons",
        "--json",
        "-o",
        str(tmp_path / "p"),
    )
    assert plain.exit_code == 0, plain.output
    assert any("not cleaned" in w for w in json.loads(plain.stdout)["results"][0]["warnings"])


def test_vlm_captioner_over_an_openai_compatible_endpoint():
    from oddsight.language.captioners import make_captioner

    with colour_vlm() as url:
        captioner = make_captioner(f"openai:{url}#tiny-vlm")
        red = np.zeros((64, 64, 3), np.uint8)
        red[..., 0] = 230
        grey = np.full((64, 64, 3), 128, np.uint8)
        assert captioner.caption([grey, red, grey]) == [QUIET_STREET, FIRE_STREET, QUIET_STREET]
