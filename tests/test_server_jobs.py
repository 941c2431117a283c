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


# --- a frame folder's frame rate is the video's, stored at registration ----------------------------------------


def test_a_frame_folders_stored_rate_is_used_by_its_analysis(tmp_path, frame_folder, monkeypatch):
    import oddsight.report.files
    from tests.test_server_store import DOC

    store = Store(tmp_path / "data")
    video_id = store.add_video("frames", str(frame_folder), "media", {"fps": 5.0}, None)["id"]
    store.add_job("analysis", {"frames_fps": 25.0, "model": "motion"}, video_id)  # e.g. queued before the rule
    job = store.claim_job(1)
    seen = []

    class Session:
        def run(self, path, on_progress=None):
            return object()

    runner = Runner(store)
    monkeypatch.setattr(runner, "_detection", lambda key, options: (seen.append(options) or Session(), None))
    monkeypatch.setattr(oddsight.report.files, "result_to_dict", lambda _: json.loads(json.dumps(DOC)))
    runner.run(job)
    assert store.job(job["id"])["state"] == "done"
    assert seen[0].frames_fps == 5.0 and store.results()[0]["options"]["frames_fps"] == 5.0


def test_frames_fps_that_disagrees_with_the_stored_rate_is_refused(tmp_path, frame_folder, video):
    from fastapi.testclient import TestClient

    from oddsight.server.app import Settings, create_app

    app = create_app(Settings(data=tmp_path / "data", media=[tmp_path], workers=0))
    with TestClient(app, base_url="http://127.0.0.1/api/v1") as api:
        folder = api.post("/videos/register", json={"path": "frames", "frames_fps": 5})
        assert folder.status_code == 201 and folder.json()["fps"] == 5.0
        again = api.post("/videos/register", json={"path": "frames", "frames_fps": 6})
        assert again.status_code == 422 and "registered at 5 fps" in again.json()["detail"]
        assert api.post("/videos/register", json={"path": "frames"}).status_code == 200
        folder_id = folder.json()["id"]
        refused = api.post("/analyses", json={"video_id": folder_id, "frames_fps": 25, "model": "motion"})
        assert refused.status_code == 422 and "frames_fps" in refused.json()["detail"]
        for agreeing in ({"frames_fps": 5}, {}):
            reply = api.post("/analyses", json={"video_id": folder_id, "model": "motion", **agreeing})
            assert reply.status_code == 202, reply.text
        file_id = api.post("/videos/register", json={"path": video.name}).json()["id"]
        reply = api.post("/analyses", json={"video_id": file_id, "frames_fps": 7, "model": "motion"})
        assert reply.status_code == 202  # a file's rate is its decoder's: frames_fps does not apply to it
        fit = api.post("/detectors", json={"video_ids": [folder_id], "frames_fps": 25, "model": "motion"})
        assert fit.status_code == 422 and "registered at 5 fps" in fit.json()["detail"]
