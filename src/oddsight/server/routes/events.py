"""Events of stored results: listed across videos (JSON or CSV), reviewed, and their peak frame and clip."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any, Literal

from fastapi import APIRouter, HTTPException, Query
from fastapi.responses import FileResponse, Response
from pydantic import BaseModel, Field

from oddsight.server import media
from oddsight.server.routes.deps import SettingsDep, StoreDep, found, inside_media
from oddsight.server.settings import Settings
from oddsight.server.store import Store

router = APIRouter(tags=["events"])
MAX_OFFSET = 10**9


class Event(BaseModel):
    id: str
    result_id: str
    video_id: str | None
    source: str | None
    start_frame: int
    end_frame: int
    start_s: float
    end_s: float
    peak_frame: int
    peak_s: float
    peak_score: float
    mean_score: float
    label: str | None
    reason: str | None
    box: list[int] | None = None
    review: Literal["new", "confirmed", "false_alarm"]
    note: str | None
    created_at: float


@router.get("/events", response_model=list[Event], summary="Events across videos, filtered and sorted")
async def list_events(
    store: StoreDep,
    video_id: str | None = None,
    result_id: str | None = None,
    min_score: float | None = Query(None, allow_inf_nan=False),
    review: Literal["new", "confirmed", "false_alarm"] | None = None,
    since: float | None = Query(None, description="created at or after (Unix seconds)", allow_inf_nan=False),
    until: float | None = Query(None, description="created at or before (Unix seconds)", allow_inf_nan=False),
    sort: Literal["created_at", "peak_score", "start_s"] = "created_at",
    limit: int = Query(1000, ge=1, le=100_000),
    offset: int = Query(0, ge=0, le=MAX_OFFSET),
    format: Literal["json", "csv"] = "json",
) -> Any:
    # in the event loop: an indexed read of one page takes about a millisecond, less than a thread hop costs
    rows = store.events(
        video_id=video_id,
        result_id=result_id,
        min_score=min_score,
        review=review,
        since=since,
        until=until,
        sort=sort,
        limit=limit,
        offset=offset,
    )
    if format == "csv":
        buf = io.StringIO()
        from oddsight.report.files import csv_row

        columns = list(Event.model_fields)
        writer = csv.DictWriter(buf, fieldnames=columns)
        writer.writeheader()
        writer.writerows(csv_row(row, columns) for row in rows)
        return Response(
            buf.getvalue(),
            media_type="text/csv",
            headers={"content-disposition": 'attachment; filename="oddsight-events.csv"'},
        )
    return Response(json.dumps(rows), media_type="application/json")  # rows as stored: no second validation


class Review(BaseModel):
    review: Literal["new", "confirmed", "false_alarm"] | None = None
    note: str | None = Field(None, max_length=2000)


@router.patch("/events/{event_id}", response_model=Event, summary="Confirm an event or mark it a false alarm")
def review_event(event_id: str, body: Review, store: StoreDep) -> dict:
    found(store.event(event_id), "event", event_id)
    return store.review_event(event_id, body.review, body.note)  # type: ignore[return-value]


def _event_source(store: Store, settings: Settings, event: dict) -> tuple[Path, float]:
    """The event's video and its frame rate: the stored video (a frame folder's fps as registered), else the file
    its result names, held to --media like any path."""
    video = store.video(event["video_id"]) if event["video_id"] else None
    path = Path(video["path"]) if video else inside_media(settings, event["source"] or "")
    if not path.exists():
        raise HTTPException(404, "the event's video is no longer on this server")
    return path, float((video or {}).get("fps") or 25.0)


def _event_file(
    store: Store, settings: Settings, event_id: str, suffix: str, make: Callable[[Path, float, dict, Path], Any]
) -> Path:
    """The event's picture or clip, made on first request (``make(video, fps, event, out)``) and kept."""
    event = found(store.event(event_id), "event", event_id)
    out = store.folder / "media" / f"{event_id}{suffix}"
    if not out.exists():
        path, fps = _event_source(store, settings, event)
        make(path, fps, event, out)
    return out


@router.get("/events/{event_id}/thumbnail.jpg", summary="The event's peak frame", response_class=FileResponse)
def event_thumbnail(event_id: str, store: StoreDep, settings: SettingsDep) -> FileResponse:
    def make(path: Path, fps: float, event: dict, out: Path) -> None:
        media.thumbnail(path, event["peak_s"], out, folder_fps=fps, box=event.get("box"))

    return FileResponse(_event_file(store, settings, event_id, ".jpg", make), media_type="image/jpeg")


@router.get(
    "/events/{event_id}/clip.mp4", summary="The event with a few seconds around it", response_class=FileResponse
)
def event_clip(event_id: str, store: StoreDep, settings: SettingsDep) -> FileResponse:
    def make(path: Path, fps: float, event: dict, out: Path) -> None:
        media.clip(path, event["start_s"], event["end_s"], fps, out, folder_fps=fps)

    return FileResponse(_event_file(store, settings, event_id, ".mp4", make), media_type="video/mp4")
