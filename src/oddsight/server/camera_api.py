"""The API's live side under ``/api/v1``: cameras (add a URL, see its picture, scores, events, outages) and
feedback on their events. Each camera is watched by its own process (``cameras.py``)."""

from __future__ import annotations

import asyncio
import re
import shutil
import time
from pathlib import Path
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Body, HTTPException, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import FileResponse, Response, StreamingResponse
from pydantic import BaseModel

from oddsight.errors import ConfigError, InputError
from oddsight.live.engine import LIVE_METHODS, check_live
from oddsight.options import DetectOptions
from oddsight.redact import redact_value
from oddsight.server.api import _detection_options, _found, _store, inside_media
from oddsight.server.camera_store import CameraStore
from oddsight.server.cameras import LIVE_PICTURE, camera_folder
from oddsight.server.trust import CAMERA_SOURCES, check_camera_url, looks_like_url

router = APIRouter()
NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,59}$")
STALE_S = 10.0  # a camera whose process has not reported for this long is shown as not responding
MJPEG_BOUNDARY = "oddsight-frame"
MAX_ALERTS = 16
CAMERA_FIELDS = ("url", "name", "warmup", "realtime", "cooldown", "alerts")


def _cameras(request: Request) -> CameraStore:
    return request.app.state.camera_store


def _public(row: dict) -> dict:
    row = redact_value({k: v for k, v in row.items() if k != "worker_pid"})  # url, alerts, options, error
    row["responding"] = row["updated_at"] is not None and time.time() - row["updated_at"] < STALE_S
    return row


def _source(request: Request, url: Any) -> tuple[str, bool]:
    """The camera's source and whether it is a file (played in real time, as a camera would deliver it)."""
    if not isinstance(url, str) or not url.strip():
        raise HTTPException(422, f"url is required: {CAMERA_SOURCES}")
    url = url.strip()
    if looks_like_url(url):
        check_camera_url(url)
        return url, False
    return str(inside_media(request, url)), True


@router.post("/cameras", status_code=201, summary="Watch a camera: its process starts now, and with the server")
def add_camera(
    request: Request,
    body: Annotated[
        dict[str, Any],
        Body(
            examples=[{"url": "rtsp://cam1/stream", "name": "door", "method": "novelty", "fps": 2, "warmup": 300}],
            description="url, name (letters, digits, . _ -; default from the URL), warmup (seconds that set the "
            "threshold when none is given), cooldown, alerts (webhook:URL or mqtt://host/prefix), then any "
            "`oddsight watch` option by its CLI name (method, fps, threshold, detector_id, model, ...)",
        ),
    ],
) -> dict:
    from oddsight.live.alerts import check_alert
    from oddsight.live.monitor import camera_name
    from oddsight.validate import number

    cameras = _cameras(request)
    values = dict(body)
    fields = {k: values.pop(k, None) for k in CAMERA_FIELDS}
    url, is_file = _source(request, fields["url"])
    warmup = 300.0 if fields["warmup"] is None else fields["warmup"]
    cooldown = 0.0 if fields["cooldown"] is None else fields["cooldown"]
    number("warmup", warmup, low=0, high=86400)
    number("cooldown", cooldown, low=0, high=86400)
    alerts = fields["alerts"] or []
    if not isinstance(alerts, list):
        raise ConfigError("alerts is a list of webhook:URL or mqtt://host/prefix")
    if len(alerts) > MAX_ALERTS:
        raise ConfigError(f"alerts: at most {MAX_ALERTS} per camera, got {len(alerts)}")
    if fields["realtime"] is not None and not isinstance(fields["realtime"], bool):
        raise ConfigError(f"realtime must be true or false, got {fields['realtime']!r}")
    for spec in alerts:
        check_alert(spec)
    values.setdefault("fps", 2.0)
    options = _detection_options(request, values, LIVE_METHODS)
    check_live(DetectOptions.parse(options).to_config(methods=LIVE_METHODS))
    taken = {c["id"] for c in cameras.cameras()}
    name = fields["name"]
    if name is None:
        base = camera_name(url if not is_file else Path(url).stem)
        name = next(n for n in (base, *(f"{base}-{i}" for i in range(2, 1000))) if n not in taken)
    elif not isinstance(name, str) or not NAME.match(name):
        raise HTTPException(422, "name: 1-60 letters, digits, '.', '_' or '-', starting with a letter or digit")
    elif name in taken:
        raise HTTPException(409, f"a camera named {name} exists")
    row = {
        "id": name,
        "name": name,
        "url": url,
        "options": options,
        "fps": float(options.get("fps", 2.0)),
        "warmup_s": float(warmup),
        "realtime": is_file or bool(fields["realtime"]),
        "alerts": alerts,
        "cooldown_s": float(cooldown),
    }
    camera = cameras.add(row)
    request.app.state.camera_processes.launch(camera["id"])
    return _public(camera)


@router.get("/cameras", summary="Every camera with its state, calibration and stream figures")
def list_cameras(request: Request) -> list[dict]:
    return [_public(c) for c in _cameras(request).cameras()]


@router.get("/cameras/{camera_id}", summary="A camera, with its outages")
def get_camera(request: Request, camera_id: str) -> dict:
    cameras = _cameras(request)
    camera = _public(_found(cameras.camera(camera_id), "camera", camera_id))
    camera["outages"] = cameras.outages(camera_id)
    return camera


@router.delete("/cameras/{camera_id}", status_code=204, summary="Stop watching; delete its events and clips")
async def delete_camera(request: Request, camera_id: str) -> Response:
    cameras = _cameras(request)
    _found(cameras.camera(camera_id), "camera", camera_id)
    await run_in_threadpool(request.app.state.camera_processes.stop_camera, camera_id)
    cameras.delete(camera_id)
    shutil.rmtree(camera_folder(_store(request), camera_id), ignore_errors=True)
    return Response(status_code=204)


@router.post("/cameras/{camera_id}/restart", summary="Start a stopped, ended or failed camera again")
def restart_camera(request: Request, camera_id: str) -> dict:
    cameras = _cameras(request)
    _found(cameras.camera(camera_id), "camera", camera_id)
    cameras.set_state(camera_id, "starting")
    request.app.state.camera_processes.launch(camera_id)
    return _public(cameras.camera(camera_id))  # type: ignore[arg-type]


@router.get("/cameras/{camera_id}/scores", summary="The camera's scores after `since` (unix seconds), oldest first")
def camera_scores(request: Request, camera_id: str, since: float = Query(0.0, ge=0)) -> list[dict]:
    cameras = _cameras(request)
    _found(cameras.camera(camera_id), "camera", camera_id)
    return cameras.scores(camera_id, since)


@router.get("/cameras/{camera_id}/events", summary="The camera's events, newest first (open ones included)")
def camera_events(request: Request, camera_id: str, limit: int = Query(200, ge=1, le=5000)) -> list[dict]:
    cameras = _cameras(request)
    _found(cameras.camera(camera_id), "camera", camera_id)
    return [_event(e) for e in cameras.events(camera_id, limit)]


def _picture(request: Request, camera_id: str) -> Path:
    _found(_cameras(request).camera(camera_id), "camera", camera_id)
    path = camera_folder(_store(request), camera_id) / LIVE_PICTURE
    if not path.exists():
        raise HTTPException(404, f"camera {camera_id} has no picture yet")
    return path


@router.get("/cameras/{camera_id}/live.jpg", summary="The camera's latest scored frame", response_class=FileResponse)
def camera_picture(request: Request, camera_id: str) -> FileResponse:
    return FileResponse(_picture(request, camera_id), media_type="image/jpeg", headers={"cache-control": "no-store"})


@router.get("/cameras/{camera_id}/live.mjpg", summary="The camera's picture as an MJPEG stream (about 1 frame/s)")
async def camera_mjpeg(request: Request, camera_id: str) -> StreamingResponse:
    path = _picture(request, camera_id)

    async def frames():
        last = None
        while not await request.is_disconnected():
            try:
                stamp = path.stat().st_mtime_ns
                if stamp != last:
                    data = await run_in_threadpool(path.read_bytes)
                    last = stamp
                    head = f"--{MJPEG_BOUNDARY}\r\nContent-Type: image/jpeg\r\nContent-Length: {len(data)}\r\n\r\n"
                    yield head.encode() + data + b"\r\n"
            except FileNotFoundError:  # the camera was deleted
                return
            await asyncio.sleep(0.25)

    return StreamingResponse(
        frames(),
        media_type=f"multipart/x-mixed-replace; boundary={MJPEG_BOUNDARY}",
        headers={"cache-control": "no-store"},
    )


# --- camera events and feedback ---------------------------------------------------------------------------


def _event(row: dict) -> dict:
    out = {k: v for k, v in row.items() if k not in ("snapshot", "clip")}
    out["has_snapshot"], out["has_clip"] = bool(row["snapshot"]), bool(row["clip"])
    return out


def _event_file(request: Request, event_id: str, kind: str) -> Path:
    event = _found(_cameras(request).event(event_id), "camera event", event_id)
    folder = camera_folder(_store(request), event["camera_id"]).resolve()
    name = event.get(kind)
    path = Path(name).resolve() if name else None
    if path is None or not path.is_relative_to(folder) or not path.exists():
        what = "snapshot" if kind == "snapshot" else "clip (it is written a few seconds after the event ends)"
        raise HTTPException(404, f"event {event_id} has no {what}")
    return path


@router.get("/camera-events/{event_id}", summary="One camera event")
def get_camera_event(request: Request, event_id: str) -> dict:
    return _event(_found(_cameras(request).event(event_id), "camera event", event_id))


@router.get("/camera-events/{event_id}/snapshot.jpg", summary="The event's peak frame", response_class=FileResponse)
def camera_event_snapshot(request: Request, event_id: str) -> FileResponse:
    return FileResponse(_event_file(request, event_id, "snapshot"), media_type="image/jpeg")


@router.get(
    "/camera-events/{event_id}/clip.mp4",
    summary="The event from 3 s before to 3 s after, remuxed from the camera's own packets",
    response_class=FileResponse,
)
def camera_event_clip(request: Request, event_id: str) -> FileResponse:
    return FileResponse(_event_file(request, event_id, "clip"), media_type="video/mp4")


class CameraReview(BaseModel):
    review: Literal["new", "confirmed", "false_alarm"]


@router.patch("/camera-events/{event_id}", summary="Confirm an event, or mark it a false alarm (feedback)")
def review_camera_event(request: Request, event_id: str, body: CameraReview) -> dict:
    """``false_alarm`` puts the event's frames into its camera's normal memory (the running monitor picks it up
    within seconds, so the same scene does not raise an event again); ``confirmed`` or ``new`` take them out."""
    from oddsight.live.feedback import give_feedback

    cameras = _cameras(request)
    event = _found(cameras.event(event_id), "camera event", event_id)
    if event["state"] == "open":
        raise HTTPException(409, f"event {event_id} is still open: review it once it has ended")
    verdict = "false-alarm" if body.review == "false_alarm" else "confirmed"
    try:
        give_feedback(camera_folder(_store(request), event["camera_id"]).parent, event_id, verdict)
    except InputError:
        raise HTTPException(409, f"event {event_id} kept no frames (its monitor stopped while it was open)") from None
    return _event(cameras.review(event_id, body.review))  # type: ignore[arg-type]
