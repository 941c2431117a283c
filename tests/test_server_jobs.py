"""The server's job runner in this process (no HTTP): cancelling a language job, a frame folder's stored fps."""

from __future__ import annotations

import json

import pytest

from oddsight.llm.base import LLM
from oddsight.server import jobs as jobs_module
from oddsight.server.jobs import Runner
from oddsight.server.store import Store


class _CancellingLLM(LLM):
    """Answers every question evenly; on its first call someone cancels the job (as the Cancel button does)."""

    model_id = "fake-llm"

    def __init__(self, on_first_call) -> None:
        self.on_first_call, self.calls = on_first_call, 0

    @property
    def cache_key(self) -> str:
        return "fake-llm"

    def choice_probabilities(self, messages, choices):
        self.calls += 1
        if self.calls == 1:
            self.on_first_call()
        return {c: 1 / len(choices) for c in choices}

    def generate(self, messages, max_tokens=64):
        return "a reason"


@pytest.mark.parametrize("method", ["judge", "lavad"])
def test_cancelling_a_language_job_stops_it_between_llm_batches(tmp_path, video, monkeypatch, method):
    import oddsight.language.session
    import oddsight.models.loader

    store = Store(tmp_path / "data")
    captions = tmp_path / "captions.jsonl"
    rows = [{"video": video.name, "start_frame": i, "end_frame": i, "text": f"Person {i} walks by."} for i in range(60)]
    captions.write_text("\n".join(json.dumps(r) for r in rows) + "\n")
    video_id = store.add_video(video.name, str(video), "media", {"fps": 10.0}, None)["id"]
    options = {"method": method, "captions": str(captions), "no_cache": True, "llm": "openai:http://127.0.0.1:9/v1#m"}
    job = store.add_job("analysis", options, video_id)
    job = store.claim_job(1)
    llm = _CancellingLLM(lambda: store.cancel_job(job["id"]))
    monkeypatch.setattr(oddsight.language.session, "make_llm", lambda *_a, **_k: llm)
    monkeypatch.setattr(oddsight.models.loader, "load_text_encoder", lambda *_a, **_k: None)
    monkeypatch.setattr(jobs_module, "PROGRESS_EVERY_S", 0.0)
    Runner(store).run(job)
    done = store.job(job["id"])
    assert done["state"] == "cancelled", done
    assert 1 <= llm.calls <= 16  # the first batch of 16 questions, of 60: it stopped at the next check
    assert store.results() == []


class _CountingCaptioner:
    model_id, input_size = "fake-captioner", (32, 32)

    def __init__(self) -> None:
        self.calls = 0

    def caption(self, images):
        self.calls += 1
        return ["a quiet street"] * len(images)


def test_cancelling_a_language_job_stops_it_between_caption_batches(tmp_path, video, monkeypatch):
    import oddsight.language.captioners
    import oddsight.language.session
    import oddsight.models.loader

    store = Store(tmp_path / "data")
    video_id = store.add_video(video.name, str(video), "media", {"fps": 10.0}, None)["id"]
    options = {"method": "lavad", "captioner": "hf:org/tiny", "fps": 10, "batch_size": 4, "no_cache": True}
    store.add_job("analysis", options, video_id)
    job = store.claim_job(1)
    store.cancel_job(job["id"])  # cancelled as soon as it started: 15 batches of 4 frames to caption
    captioner = _CountingCaptioner()
    monkeypatch.setattr(oddsight.language.captioners, "make_captioner", lambda *_a, **_k: captioner)
    monkeypatch.setattr(oddsight.language.session, "make_llm", lambda *_a, **_k: _CancellingLLM(lambda: None))
    monkeypatch.setattr(oddsight.models.loader, "load_text_encoder", lambda *_a, **_k: None)
    Runner(store).run(job)
    assert store.job(job["id"])["state"] == "cancelled"
    assert captioner.calls == 1  # stopped after the first batch, not after captioning the whole video
