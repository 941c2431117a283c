"""The store's live side: cameras, their events, a rolling window of their scores, and their outages.

Written by each camera's process (``cameras.py``) and read by the API; the same SQLite database as the rest.
"""

from __future__ import annotations

import json
import time
from typing import Any

from oddsight.server.store import Store, all_rows, first_row, insert_row, new_id
from oddsight.server.store.schema import box_text, event_row

SCORES_KEPT_S = 3600.0  # the rolling score chart's history per camera
EVENT_COLUMNS = (
    "start_frame",
    "end_frame",
    "start_s",
    "end_s",
    "peak_s",
    "peak_score",
    "label",
    "reason",
    "box",
    "kind",
    "snapshot",
    "clip",
)


class CameraStore:
    """Camera rows and what their monitors report, over a :class:`Store`."""

    def __init__(self, store: Store) -> None:
        self.store = store

    # --- cameras --------------------------------------------------------------------------------------------

    def add(self, row: dict[str, Any]) -> dict:
        row = {
            "id": new_id(),
            "created_at": time.time(),
            **row,
            "options": json.dumps(row["options"]),
            "alerts": json.dumps(row.get("alerts", [])),
        }
        with self.store.connect() as con:
            insert_row(con, "cameras", row)
        return self.camera(row["id"])

    def cameras(self) -> list[dict]:
        with self.store.read() as con:
            return [_camera(r) for r in all_rows(con.execute("SELECT * FROM cameras ORDER BY created_at"))]

    def camera(self, camera_id: str) -> dict | None:
        with self.store.read() as con:
            row = first_row(con.execute("SELECT * FROM cameras WHERE id=?", (camera_id,)))
        return _camera(row) if row is not None else None

    def delete(self, camera_id: str) -> bool:
        with self.store.connect() as con:
            return con.execute("DELETE FROM cameras WHERE id=?", (camera_id,)).rowcount > 0

    def set_zones(self, camera_id: str, zones: dict[str, Any]) -> None:
        """The camera's masks and zones (:class:`~oddsight.live.zones.Zones` as a dict)."""
        self._set_json(camera_id, "zones", zones)

    def set_alerting(self, camera_id: str, alerting: dict[str, Any]) -> None:
        """The camera's alerting policy (:class:`~oddsight.live.policy.AlertPolicy` as a dict)."""
        self._set_json(camera_id, "alerting", alerting)

    def _set_json(self, camera_id: str, column: str, value: dict[str, Any]) -> None:
        assert column in ("zones", "alerting")  # a column name, never from a client
        with self.store.connect() as con:
            sql = f"UPDATE cameras SET {column}=?, updated_at=? WHERE id=?"
            con.execute(sql, (json.dumps(value), time.time(), camera_id))

    def set_state(self, camera_id: str, state: str, error: str | None = None, pid: int | None = None) -> None:
        with self.store.connect() as con:
            con.execute(
                "UPDATE cameras SET state=?, error=?, worker_pid=COALESCE(?, worker_pid), updated_at=? WHERE id=?",
                (state, error, pid, time.time(), camera_id),
            )

    # --- what a running monitor reports -----------------------------------------------------------------------

    def report(
        self,
        camera_id: str,
        status: dict[str, Any],
        scores: list[tuple[float, float, float, float]],
        outages: list[dict[str, float]],
        state: str,
    ) -> None:
        """One heartbeat from the camera's process: its status, the scores since the last one, new outages."""
        now = time.time()
        with self.store.connect() as con:
            con.execute(
                "UPDATE cameras SET status=?, state=?, error=NULL, updated_at=? WHERE id=?",
                (json.dumps(status), state, now, camera_id),
            )
            con.executemany(
                "INSERT INTO camera_scores (camera_id, wall, t, score, smoothed) VALUES (?, ?, ?, ?, ?)",
                [(camera_id, *row) for row in scores],
            )
            con.executemany(
                "INSERT INTO camera_outages (camera_id, started, ended, s) VALUES (?, ?, ?, ?)",
                [(camera_id, o["from"], o["to"], o["s"]) for o in outages],
            )
            con.execute("DELETE FROM camera_scores WHERE camera_id=? AND wall < ?", (camera_id, now - SCORES_KEPT_S))

    def record_outage(self, camera_id: str, outage: dict[str, float]) -> None:
        """An outage the server saw (a camera's Ray node lost): ``from`` / ``to`` Unix seconds, ``s`` long."""
        with self.store.connect() as con:
            con.execute(
                "INSERT INTO camera_outages (camera_id, started, ended, s) VALUES (?, ?, ?, ?)",
                (camera_id, outage["from"], outage["to"], outage["s"]),
            )

    def event_message(self, camera_id: str, payload: dict[str, Any]) -> None:
        """A new/update/end message (the webhook's body) into the camera's events."""
        ev = payload["event"]
        values = {k: ev.get(k) for k in EVENT_COLUMNS}
        values["box"], values["kind"] = box_text(values["box"]), values["kind"] or "anomaly"
        details = ev.get("details") or {}
        values["start_wall"], values["end_wall"] = details.get("start_wall"), details.get("end_wall")
        values["zones"] = json.dumps(details["zones"]) if isinstance(details.get("zones"), list) else None
        state = "ended" if payload["type"] == "end" else "open"
        now = time.time()
        with self.store.connect() as con:
            exists = con.execute("SELECT 1 FROM camera_events WHERE id=?", (ev["id"],)).fetchone()
            if exists:
                sets = ", ".join(f"{k}=COALESCE(?, {k})" for k in values)
                con.execute(
                    f"UPDATE camera_events SET {sets}, state=?, note=COALESCE(?, note), updated_at=? WHERE id=?",
                    (*values.values(), state, ev.get("note"), now, ev["id"]),
                )
            else:
                row = {"id": ev["id"], "camera_id": camera_id, "state": state, "note": ev.get("note"), **values}
                insert_row(con, "camera_events", {**row, "opened_at": payload.get("time", now), "updated_at": now})

    def prune_events(self, camera_id: str, before: float) -> int:
        """Ended events of ``camera_id`` opened before ``before`` (Unix seconds) removed; how many."""
        with self.store.connect() as con:
            sql = "DELETE FROM camera_events WHERE camera_id=? AND state='ended' AND opened_at < ?"
            return con.execute(sql, (camera_id, before)).rowcount

    def close_open_events(self, camera_id: str, note: str) -> int:
        """Events left open by a monitor that stopped (a kill, a crash): ended now, with ``note``."""
        with self.store.connect() as con:
            return con.execute(
                "UPDATE camera_events SET state='ended', note=?, updated_at=? WHERE camera_id=? AND state='open'",
                (note, time.time(), camera_id),
            ).rowcount

    # --- reads for the API ------------------------------------------------------------------------------------

    def scores(self, camera_id: str, since: float = 0.0, limit: int = 20000) -> list[dict]:
        with self.store.read() as con:
            return all_rows(
                con.execute(
                    "SELECT wall, t, score, smoothed FROM camera_scores WHERE camera_id=? AND wall > ? "
                    "ORDER BY wall LIMIT ?",
                    (camera_id, since, limit),
                )
            )

    def outages(self, camera_id: str, limit: int = 100) -> list[dict]:
        with self.store.read() as con:
            return all_rows(
                con.execute(
                    "SELECT started, ended, s FROM camera_outages WHERE camera_id=? ORDER BY started DESC LIMIT ?",
                    (camera_id, limit),
                )
            )

    def events(self, camera_id: str | None = None, limit: int = 200) -> list[dict]:
        sql, args = "SELECT * FROM camera_events", ()
        if camera_id is not None:
            sql, args = sql + " WHERE camera_id=?", (camera_id,)
        with self.store.read() as con:
            rows = all_rows(con.execute(sql + " ORDER BY opened_at DESC LIMIT ?", (*args, limit)))
        return [event_row(r) for r in rows]

    def event(self, event_id: str) -> dict | None:
        with self.store.read() as con:
            return event_row(first_row(con.execute("SELECT * FROM camera_events WHERE id=?", (event_id,))))

    def review(self, event_id: str, review: str) -> dict | None:
        with self.store.connect() as con:
            con.execute("UPDATE camera_events SET review=?, updated_at=? WHERE id=?", (review, time.time(), event_id))
        return self.event(event_id)


def _camera(row: dict) -> dict:
    row["options"] = json.loads(row["options"])
    row["alerts"] = json.loads(row["alerts"])
    row["status"] = json.loads(row["status"]) if row["status"] else None
    row["realtime"] = bool(row["realtime"])
    row["alerting"] = json.loads(row["alerting"]) if row.get("alerting") else None
    row["zones"] = json.loads(row["zones"]) if row.get("zones") else None
    return row
