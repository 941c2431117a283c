"""The store's schema (``MIGRATIONS``, one entry per version) and the row helpers every table group uses."""

from __future__ import annotations

import json
import sqlite3
import uuid
from typing import Any

# one entry per schema version; a database at version N runs the entries after N, in order
MIGRATIONS: list[str] = [
    """
    CREATE TABLE videos (
        id TEXT PRIMARY KEY, name TEXT NOT NULL, path TEXT NOT NULL, origin TEXT NOT NULL,
        size INTEGER, width INTEGER, height INTEGER, fps REAL, frame_count INTEGER, duration_s REAL,
        codec TEXT, created_at REAL NOT NULL
    );
    CREATE TABLE detectors (
        id TEXT PRIMARY KEY, name TEXT NOT NULL, path TEXT NOT NULL, encoder TEXT, kind TEXT, sampling TEXT,
        n_train INTEGER, threshold REAL, videos TEXT NOT NULL, created_at REAL NOT NULL
    );
    CREATE TABLE jobs (
        id TEXT PRIMARY KEY, kind TEXT NOT NULL, video_id TEXT, options TEXT NOT NULL,
        state TEXT NOT NULL, progress REAL NOT NULL DEFAULT 0, error TEXT, cancel INTEGER NOT NULL DEFAULT 0,
        result_id TEXT, detector_id TEXT, output TEXT, worker_pid INTEGER,
        created_at REAL NOT NULL, started_at REAL, finished_at REAL
    );
    CREATE INDEX jobs_state ON jobs(state, created_at);
    CREATE TABLE results (
        id TEXT PRIMARY KEY, video_id TEXT, job_id TEXT, method TEXT NOT NULL, model TEXT, threshold REAL,
        options TEXT NOT NULL, document TEXT NOT NULL, created_at REAL NOT NULL
    );
    CREATE INDEX results_video ON results(video_id);
    CREATE TABLE events (
        id TEXT PRIMARY KEY, result_id TEXT NOT NULL REFERENCES results(id) ON DELETE CASCADE, video_id TEXT,
        source TEXT, idx INTEGER NOT NULL, start_frame INTEGER NOT NULL, end_frame INTEGER NOT NULL,
        start_s REAL NOT NULL, end_s REAL NOT NULL, peak_frame INTEGER NOT NULL, peak_s REAL NOT NULL,
        peak_score REAL NOT NULL, mean_score REAL NOT NULL, label TEXT, reason TEXT,
        review TEXT NOT NULL DEFAULT 'new', note TEXT, created_at REAL NOT NULL
    );
    CREATE INDEX events_video ON events(video_id, start_s);
    CREATE INDEX events_score ON events(peak_score);
    CREATE INDEX events_created ON events(created_at);
    """,
    # 2: live cameras (camera_store.py)
    """
    CREATE TABLE cameras (
        id TEXT PRIMARY KEY, name TEXT NOT NULL, url TEXT NOT NULL, options TEXT NOT NULL, fps REAL NOT NULL,
        warmup_s REAL NOT NULL, realtime INTEGER NOT NULL DEFAULT 0, alerts TEXT NOT NULL DEFAULT '[]',
        cooldown_s REAL NOT NULL DEFAULT 0, state TEXT NOT NULL DEFAULT 'starting', error TEXT, status TEXT,
        worker_pid INTEGER, created_at REAL NOT NULL, updated_at REAL
    );
    CREATE TABLE camera_events (
        id TEXT PRIMARY KEY, camera_id TEXT NOT NULL REFERENCES cameras(id) ON DELETE CASCADE,
        state TEXT NOT NULL, start_frame INTEGER, end_frame INTEGER, start_s REAL, end_s REAL, peak_s REAL,
        peak_score REAL, label TEXT, reason TEXT, snapshot TEXT, clip TEXT, note TEXT,
        review TEXT NOT NULL DEFAULT 'new',
        opened_at REAL NOT NULL, updated_at REAL NOT NULL
    );
    CREATE INDEX camera_events_camera ON camera_events(camera_id, opened_at);
    CREATE TABLE camera_scores (
        camera_id TEXT NOT NULL REFERENCES cameras(id) ON DELETE CASCADE, wall REAL NOT NULL, t REAL NOT NULL,
        score REAL NOT NULL, smoothed REAL NOT NULL
    );
    CREATE INDEX camera_scores_camera ON camera_scores(camera_id, wall);
    CREATE TABLE camera_outages (
        camera_id TEXT NOT NULL REFERENCES cameras(id) ON DELETE CASCADE, started REAL NOT NULL,
        ended REAL NOT NULL, s REAL NOT NULL
    );
    """,
    # 3: where an event happened (a JSON [x0, y0, x1, y1] in the video's pixels); a camera event's kind
    # (anomaly, or tamper: its label says covered, blurred, moved, frozen or offline); a camera's alerting policy
    # (armed, snoozed until, schedule; JSON); a camera event's span on the wall clock; masks and zones of a
    # camera and the zones of its events (JSON)
    """
    ALTER TABLE events ADD COLUMN box TEXT;
    ALTER TABLE camera_events ADD COLUMN box TEXT;
    ALTER TABLE camera_events ADD COLUMN kind TEXT NOT NULL DEFAULT 'anomaly';
    ALTER TABLE cameras ADD COLUMN alerting TEXT;
    ALTER TABLE camera_events ADD COLUMN start_wall REAL;
    ALTER TABLE camera_events ADD COLUMN end_wall REAL;
    ALTER TABLE camera_events ADD COLUMN zones TEXT;
    ALTER TABLE cameras ADD COLUMN zones TEXT;
    """,
    # 5: a camera's main stream, that clips are cut from while its substream (url) is scored
    """
    ALTER TABLE cameras ADD COLUMN record_url TEXT;
    """,
    # 6: why a fitted detector's threshold is a rough one (too few normal frames for its percentile), or NULL
    """
    ALTER TABLE detectors ADD COLUMN note TEXT;
    """,
]
SCHEMA_VERSION = len(MIGRATIONS)
JOB_STATES = ("queued", "running", "done", "failed", "cancelled", "interrupted")
REVIEW_STATES = ("new", "confirmed", "false_alarm")
EVENT_FIELDS = (
    "id",
    "result_id",
    "video_id",
    "source",
    "start_frame",
    "end_frame",
    "start_s",
    "end_s",
    "peak_frame",
    "peak_s",
    "peak_score",
    "mean_score",
    "label",
    "reason",
    "box",
    "review",
    "note",
    "created_at",
)


def video_gone(video_id: str) -> str:
    """A job's error when its video was deleted before it finished."""
    return f"video {video_id} was deleted while the job waited or ran: no result kept"


def new_id() -> str:
    return uuid.uuid4().hex[:16]


def insert_row(con: sqlite3.Connection, table: str, row: dict[str, Any]) -> None:
    names = ", ".join(row)
    marks = ", ".join("?" for _ in row)
    con.execute(f"INSERT INTO {table} ({names}) VALUES ({marks})", tuple(row.values()))


def box_text(box: object) -> str | None:
    """An event's box as stored (JSON), or None."""
    return json.dumps([int(v) for v in box]) if isinstance(box, (list, tuple)) and len(box) == 4 else None


def event_row(row: dict | None) -> dict | None:
    """An event row as the API gives it: its box (and a camera event's zones) lists again."""
    for key in ("box", "zones"):
        if row is not None and isinstance(row.get(key), str):
            row[key] = json.loads(row[key])
    return row


def first_row(cursor: sqlite3.Cursor) -> dict | None:
    row = cursor.fetchone()
    return dict(row) if row is not None else None


def all_rows(cursor: sqlite3.Cursor) -> list[dict]:
    return [dict(r) for r in cursor.fetchall()]
