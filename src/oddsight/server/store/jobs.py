"""The store's jobs: the queue the worker processes claim from."""

from __future__ import annotations

import json
import time
from typing import Any

from oddsight.server.store.base import StoreBase
from oddsight.server.store.schema import all_rows, first_row, insert_row, new_id


class JobTables(StoreBase):
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

    def cancel_requested(self, job_id: str) -> bool:
        """Whether someone asked the job to stop (a read: no progress written)."""
        with self.read() as con:
            row = con.execute("SELECT cancel FROM jobs WHERE id=?", (job_id,)).fetchone()
        return bool(row and row[0])

    def finish_job(self, job_id: str, state: str, error: str | None = None, output: Any = None) -> None:
        """A job's end; ``output`` (an evaluation's report) is stored as JSON with it. A cancelled job keeps the
        reason it was cancelled for (its video deleted), if any."""
        saved = None if output is None else json.dumps(output)
        with self.connect() as con:
            con.execute(
                "UPDATE jobs SET state=?, error=CASE WHEN ?='cancelled' THEN COALESCE(?, error) ELSE ? END, "
                "output=?, finished_at=?, "
                "progress=CASE WHEN ?='done' THEN 1 ELSE progress END WHERE id=?",
                (state, state, error, error, saved, time.time(), state, job_id),
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


def _job(row: dict | None) -> dict | None:
    if row is None:
        return None
    row["options"] = json.loads(row["options"])
    row["output"] = json.loads(row["output"]) if row["output"] else None
    row["cancel"] = bool(row["cancel"])
    return row
