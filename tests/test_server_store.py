"""The server's SQLite store on its own: schema versions, transactions, job states; and chart decimation."""

from __future__ import annotations

import json
import sqlite3

import numpy as np
import pytest

from oddsight.errors import OutputError
from oddsight.server.display import decimate
from oddsight.server.store import SCHEMA_VERSION, Store

DOC = {
    "schema_version": 1,
    "video": {"source": "a.mp4", "fps": 10.0},
    "method": "novelty",
    "model": "motion",
    "threshold": 1.0,
    "frame_scores": [0.0, 2.0, 0.0],
    "events": [
        {
            "start_frame": 1,
            "end_frame": 1,
            "start_s": 0.1,
            "end_s": 0.1,
            "peak_frame": 1,
            "peak_s": 0.1,
            "peak_score": 2.0,
            "mean_score": 2.0,
            "label": None,
            "reason": "why",
            "box": [10, 20, 30, 40],
        }
    ],
}


def test_new_store_is_wal_at_the_current_schema(tmp_path):
    store = Store(tmp_path / "s")
    con = sqlite3.connect(store.path)
    assert con.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert con.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
    assert Store(tmp_path / "s").migrate() == SCHEMA_VERSION  # opening again changes nothing


def test_a_newer_schema_or_a_foreign_file_is_refused(tmp_path):
    store = Store(tmp_path / "s")
    con = sqlite3.connect(store.path)
    con.execute(f"PRAGMA user_version={SCHEMA_VERSION + 1}")
    con.close()
    with pytest.raises(OutputError, match="newer than this oddsight"):
        Store(tmp_path / "s")
    (tmp_path / "t").mkdir()
    (tmp_path / "t" / "oddsight.db").write_bytes(b"not a database, just text " * 100)
    with pytest.raises(OutputError, match="not an oddsight database"):
        Store(tmp_path / "t")


def test_result_and_events_are_one_transaction(tmp_path):
    store = Store(tmp_path / "s")
    job = store.add_job("analysis", {}, "v")
    result_id = store.add_result(DOC, {}, "v", job_id=job["id"])
    assert store.job(job["id"])["state"] == "done" and store.job(job["id"])["result_id"] == result_id
    (event,) = store.events(result_id=result_id)
    assert event["reason"] == "why" and event["review"] == "new" and event["box"] == [10, 20, 30, 40]
    assert store.event(event["id"])["box"] == [10, 20, 30, 40]
    broken = {**DOC, "events": [*DOC["events"], {"start_frame": 5}]}  # the second event lacks fields
    other = store.add_job("analysis", {}, "v")
    with pytest.raises(KeyError):
        store.add_result(broken, {}, "v", job_id=other["id"])
    assert len(store.results()) == 1 and len(store.events()) == 1  # nothing of the broken one
    assert store.job(other["id"])["state"] == "queued"
    with pytest.raises(ValueError):
        store.add_result({**DOC, "frame_scores": [float("nan")]}, {}, "v")  # never NaN in a stored document
    assert len(store.results()) == 1


def test_job_states(tmp_path):
    store = Store(tmp_path / "s")
    a, b = store.add_job("analysis", {"x": 1}), store.add_job("fit", {})
    claimed = store.claim_job(pid=123)
    assert claimed["id"] == a["id"] and claimed["state"] == "running" and claimed["options"] == {"x": 1}
    assert store.cancel_job(b["id"])["state"] == "cancelled"  # queued: at once
    assert store.cancel_job(a["id"])["state"] == "running" and store.set_progress(a["id"], 0.5)  # asked to stop
    assert store.interrupt_running(pid=999) == 0 and store.interrupt_running(pid=123) == 1
    assert store.job(a["id"])["state"] == "interrupted"
    resumed = store.resume_job(a["id"])
    assert resumed["state"] == "queued" and not resumed["cancel"] and resumed["progress"] == 0
    assert store.claim_job(pid=5)["id"] == a["id"] and store.claim_job(pid=5) is None


def test_delete_video_takes_its_results_and_events(tmp_path):
    store = Store(tmp_path / "s")
    video = store.add_video("a.mp4", "/x/a.mp4", "upload", {"fps": 10.0}, 10)
    store.add_result(DOC, {}, video["id"])
    assert store.delete_video(video["id"])
    assert store.results() == [] and store.events() == [] and store.video(video["id"]) is None


def test_decimate_keeps_every_peak_and_dip():
    rng = np.random.default_rng(1)
    scores = rng.random(108_000)
    spikes = rng.choice(len(scores), 40, replace=False)
    scores[spikes] = 10 + np.arange(40)
    scores[7] = -5
    keep = decimate(scores, 2000)
    assert len(keep) <= 2000 and keep[0] == 0 and keep[-1] == len(scores) - 1
    bucket = len(scores) / (2000 // 2 - 1)
    for i in spikes:  # each spike is drawn, or a higher one beside it (two in one bucket show as one)
        near = keep[np.abs(keep - i) <= bucket]
        assert scores[near].max() >= scores[i]
    assert 7 in keep
    assert len(set(spikes) - set(keep.tolist())) <= 2
    assert np.all(np.diff(keep) > 0)
    np.testing.assert_array_equal(decimate(scores[:50], 2000), np.arange(50))


def test_camera_messages_become_one_event_row_and_a_restart_closes_an_open_one(tmp_path):
    import time

    from oddsight.server.camera_store import SCORES_KEPT_S, CameraStore

    cams = CameraStore(Store(tmp_path))
    cams.add({"id": "door", "name": "door", "url": "rtsp://h/c", "options": {}, "fps": 2.0, "warmup_s": 0.0})
    ev = {"id": "door-1", "start_frame": 10, "end_frame": 12, "start_s": 5.0, "end_s": 6.0, "peak_s": 5.5}
    ev |= {"peak_score": 2.0, "label": "a fire", "reason": "flames", "snapshot": "/x.jpg", "clip": None}
    ev |= {"box": [1, 2, 3, 4]}
    cams.event_message("door", {"type": "new", "time": 100.0, "event": ev})
    cams.event_message("door", {"type": "update", "time": 101.0, "event": {**ev, "end_s": 8.0, "peak_score": 3.0}})
    row = cams.event("door-1")
    assert row["state"] == "open" and row["end_s"] == 8.0 and row["peak_score"] == 3.0 and row["reason"] == "flames"
    assert row["opened_at"] == 100.0 and row["box"] == [1, 2, 3, 4] and cams.events("door")[0]["box"] == [1, 2, 3, 4]
    cams.event_message("door", {"type": "new", "time": 102.0, "event": {**ev, "id": "door-2"}})
    cams.event_message("door", {"type": "end", "time": 103.0, "event": {**ev, "clip": "/x.mp4", "note": "ok"}})
    assert cams.event("door-1")["state"] == "ended" and cams.event("door-1")["clip"] == "/x.mp4"
    assert cams.close_open_events("door", "closed on restart") == 1
    assert cams.event("door-2")["state"] == "ended" and cams.event("door-2")["note"] == "closed on restart"
    now = time.time()
    old = now - 2 * SCORES_KEPT_S  # older than the chart keeps: pruned
    cams.report(
        "door", {"stream": {}}, [(old, 0.0, 0.1, 0.1), (now, 0.5, 0.1, 0.1), (now + 1, 1.0, 0.2, 0.2)], [], "running"
    )
    assert [s["t"] for s in cams.scores("door", since=now)] == [1.0]
    assert [s["t"] for s in cams.scores("door")] == [0.5, 1.0]
    assert cams.delete("door") and cams.events("door") == [] and cams.scores("door") == []


# --- a video deleted while its analysis waits or runs --------------------------------------------------------


def _video_and_job(store: Store) -> tuple[str, str]:
    video = store.add_video("a.mp4", "/nowhere/a.mp4", "media", {"fps": 10.0}, None)
    job = store.add_job("analysis", {}, video["id"])
    return video["id"], job["id"]


def test_a_result_for_a_video_deleted_meanwhile_is_dropped(tmp_path):
    store = Store(tmp_path / "s")
    video_id, job_id = _video_and_job(store)
    assert store.claim_job(1)["id"] == job_id
    store.delete_video(video_id)
    assert store.job(job_id)["cancel"]  # the running job is asked to stop
    assert store.add_result(DOC, {}, video_id, job_id=job_id) is None  # its worker finished anyway
    assert store.results() == [] and store.events() == []
    job = store.job(job_id)
    assert job["state"] == "cancelled" and job["result_id"] is None
    assert f"video {video_id} was deleted" in job["error"]


def test_a_queued_analysis_of_a_deleted_video_is_cancelled(tmp_path):
    store = Store(tmp_path / "s")
    video_id, job_id = _video_and_job(store)
    _, other_job = _video_and_job(store)
    store.delete_video(video_id)
    job = store.job(job_id)
    assert job["state"] == "cancelled" and "was deleted" in job["error"]
    assert store.claim_job(1)["id"] == other_job  # the other video's job is untouched


@pytest.mark.parametrize("progress_after", [False, True])
def test_the_worker_keeps_no_result_when_the_video_goes_mid_run(tmp_path, monkeypatch, progress_after):
    """The video is deleted while the worker scores it: the worker either stops at its next progress check or
    finishes; either way no result is stored and the job says why."""
    import oddsight.report.files
    from oddsight.server.jobs import Runner

    store = Store(tmp_path / "s")
    video_id, job_id = _video_and_job(store)
    job = store.claim_job(1)

    class Session:
        def run(self, path, on_progress=None):
            store.delete_video(video_id)  # a DELETE /videos/{id} arrives mid-run
            if progress_after:
                on_progress(1, 2)
            return object()

    runner = Runner(store)
    monkeypatch.setattr(runner, "_detection", lambda *_: (Session(), None))
    monkeypatch.setattr(oddsight.report.files, "result_to_dict", lambda _: json.loads(json.dumps(DOC)))
    runner.run(job)
    job = store.job(job_id)
    assert job["state"] == "cancelled" and f"video {video_id} was deleted" in job["error"]
    assert store.results() == [] and store.events() == []


def test_camera_processes_write_through_the_one_writer(tmp_path):
    """What a camera process reports goes over its own pipe, as JSON, to the server's writer thread: written in
    order; a pipe that breaks mid-message (a killed process) is dropped without touching the others."""
    import multiprocessing
    import time

    from oddsight.server.camera_link import CameraLink, StoreWriter
    from oddsight.server.camera_store import CameraStore

    cams = CameraStore(Store(tmp_path))
    for name in ("door", "gate"):
        cams.add({"id": name, "name": name, "url": f"rtsp://h/{name}", "options": {}, "fps": 2.0, "warmup_s": 0.0})
    writer = StoreWriter(cams)
    links = {}
    for name in ("door", "gate"):
        reader, sender = multiprocessing.Pipe(duplex=False)
        writer.add(name, reader)
        links[name] = (CameraLink(sender, cams), sender)
    writer.start()
    door, _ = links["door"]
    ev = {"id": "door-1", "start_frame": 1, "end_frame": 2, "start_s": 0.5, "end_s": 1.0, "peak_s": 0.5}
    door.event_message("door", {"type": "new", "time": 1.0, "event": {**ev, "peak_score": 2.0}})
    door.event_message("door", {"type": "end", "time": 2.0, "event": {**ev, "peak_score": 3.0}})
    door.set_state("door", "running", None, 1234)
    assert door.camera("door")["id"] == "door"  # reads go to the store directly
    links["gate"][1].send_bytes(b'["report", ["gate", {"stream"')  # cut off mid-message
    links["gate"][1].close()
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and (cams.event("door-1") or {}).get("state") != "ended":
        time.sleep(0.05)
    assert cams.event("door-1")["state"] == "ended" and cams.event("door-1")["peak_score"] == 3.0
    assert cams.camera("door")["state"] == "running" and cams.camera("door")["worker_pid"] == 1234
    with pytest.raises(AttributeError):
        door.delete("door")  # only the reports a camera makes are sent, nothing else
    links["door"][1].close()
    writer.stop()
    assert cams.camera("gate")["state"] == "starting"  # the broken message wrote nothing
