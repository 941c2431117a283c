"""The server's figures in the Prometheus text format (version 0.0.4): per camera (frames decoded, scored and
dropped, lag, reconnects, outages, threshold, last score, events by kind, up) and per job kind (queue, states,
durations). Read from the store, so it covers every camera process and worker."""

from __future__ import annotations

import time
from typing import Any

from oddsight.server.camera_store import CameraStore
from oddsight.server.store import Store, all_rows

# (name, type, help, where in a camera's status) for what each camera process reports in its heartbeat
CAMERA_STREAM = (
    ("oddsight_camera_frames_decoded_total", "counter", "Frames decoded from the stream.", "decoded"),
    ("oddsight_camera_frames_scored_total", "counter", "Frames sampled and scored.", "sampled"),
    ("oddsight_camera_frames_dropped_total", "counter", "Sampled frames dropped (the scorer was behind).", "dropped"),
    ("oddsight_camera_reconnects_total", "counter", "Times the stream was opened again.", "reconnects"),
    ("oddsight_camera_outages_total", "counter", "Outages the stream got over.", "outage_count"),
    ("oddsight_camera_lag_seconds", "gauge", "From a frame's decoding to the scorer taking it.", "lag_s"),
    ("oddsight_camera_worst_lag_seconds", "gauge", "The largest lag since the camera started.", "worst_lag_s"),
    ("oddsight_camera_behind_seconds", "gauge", "How far decoding is behind the stream's clock.", "behind_s"),
)


def _label(value: object) -> str:
    return str(value).replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


class _Family:
    def __init__(self, name: str, kind: str, help_text: str) -> None:
        self.lines = [f"# HELP {name} {help_text}", f"# TYPE {name} {kind}"]
        self.name = name

    def add(self, value: float | None, suffix: str = "", **labels: object) -> None:
        if value is None:
            return
        inside = ",".join(f'{k}="{_label(v)}"' for k, v in labels.items())
        where = f"{{{inside}}}" if inside else ""
        self.lines.append(f"{self.name}{suffix}{where} {float(value):.6g}")


def render(store: Store, cameras: CameraStore) -> str:
    """Every figure, as the text a Prometheus server scrapes."""
    families: list[_Family] = []

    def family(name: str, kind: str, help_text: str) -> _Family:
        families.append(_Family(name, kind, help_text))
        return families[-1]

    rows = cameras.cameras()
    up = family("oddsight_camera_up", "gauge", "1 while the camera's process runs and its stream is connected.")
    stream = [(family(name, kind, text), key) for name, kind, text, key in CAMERA_STREAM]
    threshold = family("oddsight_camera_threshold", "gauge", "The camera's event threshold now.")
    last = family("oddsight_camera_last_score", "gauge", "The camera's latest smoothed score.")
    events = family("oddsight_camera_events_total", "counter", "Events raised, by kind (anomaly, tamper).")
    disk = family("oddsight_camera_disk_bytes", "gauge", "The camera's files on disk, by kind (clips, snapshots ...).")
    counts = _camera_event_counts(store)
    scores = _last_scores(store)
    for cam in rows:
        status: dict[str, Any] = cam.get("status") or {}
        figures = status.get("stream") or {}
        connected = cam["state"] == "running" and bool(figures.get("connected"))
        up.add(1.0 if connected else 0.0, camera=cam["id"])
        for fam, key in stream:
            fam.add(figures.get(key), camera=cam["id"])
        threshold.add((status.get("calibration") or {}).get("threshold"), camera=cam["id"])
        last.add(scores.get(cam["id"]), camera=cam["id"])
        for kind in ("anomaly", "tamper"):
            events.add(counts.get((cam["id"], kind), 0), camera=cam["id"], kind=kind)
        for kind, used in (status.get("disk") or {}).items():
            disk.add(used, camera=cam["id"], kind=kind)

    jobs = family("oddsight_jobs", "gauge", "Jobs by kind and state (queued: the queue's length).")
    duration = family("oddsight_job_duration_seconds", "summary", "Run time of finished jobs, by kind.")
    with store.read() as con:
        states = all_rows(con.execute("SELECT kind, state, COUNT(*) AS n FROM jobs GROUP BY kind, state"))
        runs = all_rows(
            con.execute(
                "SELECT kind, COUNT(*) AS n, SUM(finished_at - started_at) AS s FROM jobs "
                "WHERE started_at IS NOT NULL AND finished_at IS NOT NULL GROUP BY kind"
            )
        )
    for row in states:
        jobs.add(row["n"], kind=row["kind"], state=row["state"])
    for row in runs:
        duration.add(row["s"] or 0.0, "_sum", kind=row["kind"])
        duration.add(row["n"], "_count", kind=row["kind"])
    scraped = family("oddsight_scrape_timestamp_seconds", "gauge", "When these figures were read.")
    scraped.add(time.time())
    return "\n".join(line for f in families for line in f.lines) + "\n"


def _camera_event_counts(store: Store) -> dict[tuple[str, str], int]:
    with store.read() as con:
        rows = all_rows(con.execute("SELECT camera_id, kind, COUNT(*) AS n FROM camera_events GROUP BY 1, 2"))
    return {(r["camera_id"], r["kind"]): int(r["n"]) for r in rows}


def _last_scores(store: Store) -> dict[str, float]:
    with store.read() as con:
        rows = all_rows(
            con.execute(
                "SELECT camera_id, smoothed FROM camera_scores AS s WHERE wall = "
                "(SELECT MAX(wall) FROM camera_scores WHERE camera_id = s.camera_id)"
            )
        )
    return {r["camera_id"]: float(r["smoothed"]) for r in rows}
