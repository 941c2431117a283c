"""The store's videos and fitted detectors."""

from __future__ import annotations

import json
import time
from typing import Any

from oddsight.server.store.base import StoreBase
from oddsight.server.store.schema import all_rows, first_row, insert_row, new_id, video_gone


class VideoTables(StoreBase):
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
        """The video, its results and their events, in one transaction; its queued analyses are cancelled and
        its running ones asked to stop (a worker that finishes anyway keeps no result: see ``add_result``)."""
        gone = video_gone(video_id)
        with self.connect() as con:
            con.execute(
                "UPDATE jobs SET state='cancelled', error=?, finished_at=? WHERE video_id=? AND state IN "
                "('queued','interrupted')",
                (gone, time.time(), video_id),
            )
            con.execute("UPDATE jobs SET cancel=1, error=? WHERE video_id=? AND state='running'", (gone, video_id))
            con.execute("DELETE FROM events WHERE video_id=?", (video_id,))
            con.execute("DELETE FROM results WHERE video_id=?", (video_id,))
            return con.execute("DELETE FROM videos WHERE id=?", (video_id,)).rowcount > 0

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
