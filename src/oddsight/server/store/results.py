"""The store's results and their events."""

from __future__ import annotations

import json
import time
from typing import Any

from oddsight.server.store.base import StoreBase
from oddsight.server.store.schema import (
    EVENT_FIELDS,
    all_rows,
    box_text,
    event_row,
    first_row,
    insert_row,
    new_id,
)


class ResultTables(StoreBase):
    # --- results and events -------------------------------------------------------------------------------

    def add_result(
        self,
        document: dict[str, Any],
        options: dict[str, Any],
        video_id: str | None,
        job_id: str | None = None,
    ) -> str | None:
        """A result (the ``detect`` JSON document) and one row per event, in one transaction; with ``job_id``
        the job is marked done in the same transaction. A job asked to stop meanwhile (cancelled, or its video
        deleted: ``delete_video`` asks) keeps no result: the job ends cancelled, with the reason, and None is
        returned."""
        result_id = new_id()
        now = time.time()
        with self.connect() as con:
            if job_id is not None and _stopped(con, job_id):
                con.execute("UPDATE jobs SET state='cancelled', finished_at=? WHERE id=?", (now, job_id))
                return None
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
                        "box": box_text(e.get("box")),
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

    def delete_results_before(self, before: float) -> list[str]:
        """Results stored before ``before`` (Unix seconds) removed with their events; the events' ids."""
        with self.connect() as con:
            ids = [
                r[0]
                for r in con.execute(
                    "SELECT e.id FROM events e JOIN results r ON e.result_id = r.id WHERE r.created_at < ?", (before,)
                )
            ]
            con.execute(
                "DELETE FROM events WHERE result_id IN (SELECT id FROM results WHERE created_at < ?)", (before,)
            )
            con.execute("DELETE FROM results WHERE created_at < ?", (before,))
        return ids

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
            return [event_row(r) for r in all_rows(con.execute(sql, (*args, limit, offset)))]

    def event(self, event_id: str) -> dict | None:
        with self.read() as con:
            sql = f"SELECT {', '.join(EVENT_FIELDS)} FROM events WHERE id=?"
            return event_row(first_row(con.execute(sql, (event_id,))))

    def review_event(self, event_id: str, review: str | None, note: str | None) -> dict | None:
        with self.connect() as con:
            if review is not None:
                con.execute("UPDATE events SET review=? WHERE id=?", (review, event_id))
            if note is not None:
                con.execute("UPDATE events SET note=? WHERE id=?", (note, event_id))
        return self.event(event_id)


def _stopped(con, job_id: str) -> bool:
    row = con.execute("SELECT cancel FROM jobs WHERE id=?", (job_id,)).fetchone()
    return bool(row and row[0])
