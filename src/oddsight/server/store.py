"""The server's store: one SQLite database in WAL mode, versioned by ``PRAGMA user_version`` with migrations.

Every write that belongs together (a result and its events; a job's end and its result) is one transaction, so
a crash never leaves half of it. Connections are short-lived, one per call, so any thread or process may use it.
"""

from __future__ import annotations

import json
import sqlite3
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from oddsight.errors import OutputError

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
    "review",
    "note",
    "created_at",
)


def default_data_dir() -> Path:
    """``$ODDSIGHT_HOME/server``: where ``serve`` and ``import`` keep the store unless told otherwise."""
    from oddsight.paths import home

    return home() / "server"


def new_id() -> str:
    return uuid.uuid4().hex[:16]


class Store:
    """The database at ``folder/oddsight.db``, plus ``uploads/``, ``detectors/`` and ``media/`` beside it."""

    def __init__(self, folder: Path) -> None:
        self.folder = Path(folder)
        try:
            for sub in ("uploads", "detectors", "media"):
                (self.folder / sub).mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise OutputError(f"{self.folder}: cannot make the server's data folder ({exc.strerror})") from None
        self.path = self.folder / "oddsight.db"
        self._local = threading.local()
        self.migrate()

    # --- connections and schema ---------------------------------------------------------------------------

    @contextmanager
    def connect(self) -> Iterator[sqlite3.Connection]:
        """A connection whose block is one transaction: committed at the end, rolled back on any error."""
        try:
            con = sqlite3.connect(self.path, timeout=30, isolation_level=None)
        except sqlite3.Error as exc:
            raise OutputError(f"{self.path}: cannot open the database ({exc})") from None
        con.row_factory = sqlite3.Row
        try:
            con.execute("PRAGMA foreign_keys=ON")
            con.execute("PRAGMA busy_timeout=30000")
            con.execute("BEGIN IMMEDIATE")
            yield con
            con.execute("COMMIT")
        except BaseException:
            if con.in_transaction:
                con.execute("ROLLBACK")
            raise
        finally:
            con.close()

    @contextmanager
    def read(self) -> Iterator[sqlite3.Connection]:
        """A read-only connection, kept open per thread: reads take no write lock (WAL lets them run beside a
        writer), and each query sees one consistent snapshot."""
        con = getattr(self._local, "con", None)
        if con is None:
            try:
                con = sqlite3.connect(self.path, timeout=30, isolation_level=None)
            except sqlite3.Error as exc:
                raise OutputError(f"{self.path}: cannot open the database ({exc})") from None
            con.row_factory = sqlite3.Row
            con.execute("PRAGMA query_only=ON")
            con.execute("PRAGMA busy_timeout=30000")
            self._local.con = con
        yield con

    def migrate(self) -> int:
        """Bring the schema to ``SCHEMA_VERSION``; a database from a newer oddsight is refused."""
        try:
            con = sqlite3.connect(self.path, timeout=30, isolation_level=None)
            con.execute("PRAGMA journal_mode=WAL")
            con.execute("PRAGMA synchronous=NORMAL")
            version = con.execute("PRAGMA user_version").fetchone()[0]
        except sqlite3.DatabaseError as exc:
            raise OutputError(f"{self.path}: not an oddsight database ({exc})") from None
        try:
            if version > SCHEMA_VERSION:
                raise OutputError(f"{self.path}: schema {version} is newer than this oddsight's ({SCHEMA_VERSION})")
            for number in range(version, SCHEMA_VERSION):
                con.execute("BEGIN IMMEDIATE")
                for statement in MIGRATIONS[number].split(";"):
                    if statement.strip():
                        con.execute(statement)
                con.execute(f"PRAGMA user_version={number + 1}")
                con.execute("COMMIT")
        finally:
            con.close()
        return SCHEMA_VERSION

    # --- videos -------------------------------------------------------------------------------------------

    def add_video(self, name: str, path: str, origin: str, info: dict[str, Any], size: int | None) -> dict:
        row = {
            "id": new_id(),
            "name": name,
            "path": path,
            "origin": origin,
            "size": size,
            "width": info.get("width"),
            "height": info.get("height"),
            "fps": info.get("fps"),
            "frame_count": info.get("frame_count"),
            "duration_s": info.get("duration_s"),
            "codec": info.get("codec"),
            "created_at": time.time(),
        }
        with self.connect() as con:
            insert_row(con, "videos", row)
        return row

    def videos(self) -> list[dict]:
        with self.read() as con:
            return all_rows(con.execute("SELECT * FROM videos ORDER BY created_at DESC"))

    def video(self, video_id: str) -> dict | None:
        with self.read() as con:
            return first_row(con.execute("SELECT * FROM videos WHERE id=?", (video_id,)))

    def video_by_path(self, path: str) -> dict | None:
        with self.read() as con:
            return first_row(con.execute("SELECT * FROM videos WHERE path=?", (path,)))

    def delete_video(self, video_id: str) -> bool:
        """The video, its results and their events, in one transaction."""
        with self.connect() as con:
            con.execute("DELETE FROM events WHERE video_id=?", (video_id,))
            con.execute("DELETE FROM results WHERE video_id=?", (video_id,))
            return con.execute("DELETE FROM videos WHERE id=?", (video_id,)).rowcount > 0

    # --- jobs ---------------------------------------------------------------------------------------------

    def add_job(self, kind: str, options: dict[str, Any], video_id: str | None = None) -> dict:
        row = {
            "id": new_id(),
            "kind": kind,
            "video_id": video_id,
            "options": json.dumps(options),
            "state": "queued",
            "progress": 0.0,
            "created_at": time.time(),
        }
        with self.connect() as con:
            insert_row(con, "jobs", row)
        return self.job(row["id"])  # type: ignore[return-value]

    def job(self, job_id: str) -> dict | None:
        with self.read() as con:
            return _job(first_row(con.execute("SELECT * FROM jobs WHERE id=?", (job_id,))))

    def jobs(self, limit: int = 200) -> list[dict]:
        with self.read() as con:
            rows = all_rows(con.execute("SELECT * FROM jobs ORDER BY created_at DESC LIMIT ?", (limit,)))
        return [_job(r) for r in rows]  # type: ignore[misc]

    def claim_job(self, pid: int) -> dict | None:
        """The oldest queued job, now running in process ``pid``; None when nothing waits."""
        with self.connect() as con:
            row = first_row(
                con.execute(
                    "UPDATE jobs SET state='running', worker_pid=?, started_at=?, progress=0, error=NULL "
                    "WHERE id=(SELECT id FROM jobs WHERE state='queued' ORDER BY created_at LIMIT 1) RETURNING *",
                    (pid, time.time()),
                )
            )
        return _job(row)

    def set_progress(self, job_id: str, progress: float) -> bool:
        """Record progress; returns whether the job was asked to stop."""
        with self.connect() as con:
            con.execute("UPDATE jobs SET progress=? WHERE id=? AND state='running'", (progress, job_id))
            row = con.execute("SELECT cancel FROM jobs WHERE id=?", (job_id,)).fetchone()
        return bool(row and row[0])

    def finish_job(self, job_id: str, state: str, error: str | None = None, output: Any = None) -> None:
        """A job's end; ``output`` (an evaluation's report) is stored as JSON with it."""
        with self.connect() as con:
            con.execute(
                "UPDATE jobs SET state=?, error=?, output=?, finished_at=?, "
                "progress=CASE WHEN ?='done' THEN 1 ELSE progress END WHERE id=?",
                (state, error, None if output is None else json.dumps(output), time.time(), state, job_id),
            )

    def cancel_job(self, job_id: str) -> dict | None:
        """A queued job is cancelled at once; a running one is asked to stop (its worker ends it)."""
        with self.connect() as con:
            con.execute(
                "UPDATE jobs SET state='cancelled', finished_at=? WHERE id=? AND state IN ('queued','interrupted')",
                (time.time(), job_id),
            )
            con.execute("UPDATE jobs SET cancel=1 WHERE id=? AND state='running'", (job_id,))
        return self.job(job_id)

    def resume_job(self, job_id: str) -> dict | None:
        """An interrupted, failed or cancelled job queued again (cached features make the rerun cheap)."""
        with self.connect() as con:
            con.execute(
                "UPDATE jobs SET state='queued', cancel=0, error=NULL, progress=0, finished_at=NULL "
                "WHERE id=? AND state IN ('interrupted','failed','cancelled')",
                (job_id,),
            )
        return self.job(job_id)

    def interrupt_running(self, pid: int | None = None) -> int:
        """Mark running jobs (all, or those of worker ``pid``) interrupted: their process is gone."""
        with self.connect() as con:
            sql = "UPDATE jobs SET state='interrupted', error='the server stopped while it ran', finished_at=? "
            if pid is None:
                return con.execute(sql + "WHERE state='running'", (time.time(),)).rowcount
            return con.execute(sql + "WHERE state='running' AND worker_pid=?", (time.time(), pid)).rowcount

    # --- results and events -------------------------------------------------------------------------------

    def add_result(
        self,
        document: dict[str, Any],
        options: dict[str, Any],
        video_id: str | None,
        job_id: str | None = None,
    ) -> str:
        """A result (the ``detect`` JSON document) and one row per event, in one transaction; with ``job_id``
        the job is marked done in the same transaction."""
        result_id = new_id()
        now = time.time()
        with self.connect() as con:
            insert_row(
                con,
                "results",
                {
                    "id": result_id,
                    "video_id": video_id,
                    "job_id": job_id,
                    "method": document["method"],
                    "model": document.get("model"),
                    "threshold": document.get("threshold"),
                    "options": json.dumps(options),
                    "document": json.dumps(document, allow_nan=False),
                    "created_at": now,
                },
            )
            source = document.get("video", {}).get("source")
            for i, e in enumerate(document.get("events", [])):
                insert_row(
                    con,
                    "events",
                    {
                        "id": new_id(),
                        "result_id": result_id,
                        "video_id": video_id,
                        "source": source,
                        "idx": i,
                        **{k: e[k] for k in EVENT_FIELDS[4:12]},
                        "label": e.get("label"),
                        "reason": e.get("reason")
                        or (e.get("details") or {}).get("reason"),  # schema 1 kept it in details
                        "created_at": now,
                    },
                )
            if job_id is not None:
                con.execute(
                    "UPDATE jobs SET state='done', progress=1, result_id=?, finished_at=? WHERE id=?",
                    (result_id, now, job_id),
                )
        return result_id

    def result(self, result_id: str) -> dict | None:
        with self.read() as con:
            row = first_row(con.execute("SELECT * FROM results WHERE id=?", (result_id,)))
        if row is None:
            return None
        row["document"] = json.loads(row["document"])
        row["options"] = json.loads(row["options"])
        return row

    def results(self, video_id: str | None = None) -> list[dict]:
        sql = "SELECT id, video_id, job_id, method, model, threshold, options, created_at FROM results"
        with self.read() as con:
            if video_id:
                rows = all_rows(con.execute(sql + " WHERE video_id=? ORDER BY created_at DESC", (video_id,)))
            else:
                rows = all_rows(con.execute(sql + " ORDER BY created_at DESC"))
        for r in rows:
            r["options"] = json.loads(r["options"])
        return rows

    def events(
        self,
        *,
        video_id: str | None = None,
        result_id: str | None = None,
        min_score: float | None = None,
        review: str | None = None,
        since: float | None = None,
        until: float | None = None,
        sort: str = "created_at",
        limit: int = 1000,
        offset: int = 0,
    ) -> list[dict]:
        where, args = [], []
        for column, op, value in (
            ("video_id", "=", video_id),
            ("result_id", "=", result_id),
            ("peak_score", ">=", min_score),
            ("review", "=", review),
            ("created_at", ">=", since),
            ("created_at", "<=", until),
        ):
            if value is not None:
                where.append(f"{column} {op} ?")
                args.append(value)
        order = {
            "created_at": "created_at DESC, idx",
            "peak_score": "peak_score DESC",
            "start_s": "video_id, start_s",
        }[sort]
        sql = f"SELECT {', '.join(EVENT_FIELDS)} FROM events"
        if where:
            sql += " WHERE " + " AND ".join(where)
        sql += f" ORDER BY {order} LIMIT ? OFFSET ?"
        with self.read() as con:
            return all_rows(con.execute(sql, (*args, limit, offset)))

    def event(self, event_id: str) -> dict | None:
        with self.read() as con:
            return first_row(con.execute(f"SELECT {', '.join(EVENT_FIELDS)} FROM events WHERE id=?", (event_id,)))

    def review_event(self, event_id: str, review: str | None, note: str | None) -> dict | None:
        with self.connect() as con:
            if review is not None:
                con.execute("UPDATE events SET review=? WHERE id=?", (review, event_id))
            if note is not None:
                con.execute("UPDATE events SET note=? WHERE id=?", (note, event_id))
        return self.event(event_id)

    # --- fitted detectors ---------------------------------------------------------------------------------

    def add_detector(self, row: dict[str, Any], job_id: str | None = None) -> str:
        """A fitted detector's row; with ``job_id`` that job is marked done in the same transaction."""
        row = {"id": new_id(), "created_at": time.time(), **row, "videos": json.dumps(row.get("videos", []))}
        with self.connect() as con:
            insert_row(con, "detectors", row)
            if job_id is not None:
                con.execute(
                    "UPDATE jobs SET state='done', progress=1, detector_id=?, finished_at=? WHERE id=?",
                    (row["id"], row["created_at"], job_id),
                )
        return row["id"]

    def detectors(self) -> list[dict]:
        with self.read() as con:
            rows = all_rows(con.execute("SELECT * FROM detectors ORDER BY created_at DESC"))
        for r in rows:
            r["videos"] = json.loads(r["videos"])
        return rows

    def detector(self, detector_id: str) -> dict | None:
        with self.read() as con:
            row = first_row(con.execute("SELECT * FROM detectors WHERE id=?", (detector_id,)))
        if row is not None:
            row["videos"] = json.loads(row["videos"])
        return row


def insert_row(con: sqlite3.Connection, table: str, row: dict[str, Any]) -> None:
    names = ", ".join(row)
    marks = ", ".join("?" for _ in row)
    con.execute(f"INSERT INTO {table} ({names}) VALUES ({marks})", tuple(row.values()))


def first_row(cursor: sqlite3.Cursor) -> dict | None:
    row = cursor.fetchone()
    return dict(row) if row is not None else None


def all_rows(cursor: sqlite3.Cursor) -> list[dict]:
    return [dict(r) for r in cursor.fetchall()]


def _job(row: dict | None) -> dict | None:
    if row is None:
        return None
    row["options"] = json.loads(row["options"])
    row["output"] = json.loads(row["output"]) if row["output"] else None
    row["cancel"] = bool(row["cancel"])
    return row
