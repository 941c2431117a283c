"""Cameras under ``/api/v1``: add a URL, see its picture, scores, events, outages, and give feedback on their
events. Each camera is watched by its own process (``server/cameras.py``, the supervisor)."""

from __future__ import annotations

import asyncio
import re
import shutil
import time
from pathlib import Path
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, HTTPException, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import FileResponse, Response, StreamingResponse
from pydantic import BaseModel, BeforeValidator, ConfigDict, Field

from oddsight.errors import ConfigError, InputError
from oddsight.live.engine import LIVE_METHODS, check_live
from oddsight.live.policy import AlertPolicy
from oddsight.live.zones import Zones
from oddsight.options import DetectOptions
from oddsight.redact import redact_value
from oddsight.server.camera_store import CameraStore
from oddsight.server.cameras import LIVE_PICTURE, camera_folder
from oddsight.server.routes.checks import detection_options, option_values
from oddsight.server.routes.deps import (
    CamerasDep,
    Flag,
    OptionsRoute,
    ProcessesDep,
    SettingsDep,
    StoreDep,
    found,
    inside_media,
)
from oddsight.server.settings import Settings
from oddsight.server.store import Store
from oddsight.server.trust import CAMERA_SOURCES, check_camera_url, looks_like_url

router = APIRouter(tags=["cameras"], route_class=OptionsRoute)
NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,59}$")
STALE_S = 10.0  # a camera whose process has not reported for this long is shown as not responding
MJPEG_BOUNDARY = "oddsight-frame"
MAX_ALERTS = 16


def _public(row: dict) -> dict:
    row = redact_value({k: v for k, v in row.items() if k != "worker_pid"})  # url, alerts, options, error
    row["responding"] = row["updated_at"] is not None and time.time() - row["updated_at"] < STALE_S
    row["alerting"] = AlertPolicy.from_dict(row.get("alerting")).to_dict()  # with its state now
    return row


def _record_source(url: Any) -> str | None:
    """A camera's main stream: a network stream this server opens (never a file, a device or another protocol)."""
    from oddsight.live.monitor import check_record_url

    if url is None or (isinstance(url, str) and not url.strip()):
        return None
    check_record_url(url)  # no whitespace in it from here on
    check_camera_url(url)
    return url


def _source(settings: Settings, url: Any) -> tuple[str, bool]:
    """The camera's source and whether it is a file (played in real time, as a camera would deliver it)."""
    if not isinstance(url, str) or not url.strip():
        raise HTTPException(422, f"url is required: {CAMERA_SOURCES}")
    url = url.strip()
    if looks_like_url(url):
        check_camera_url(url)
        return url, False
    return str(inside_media(settings, url)), True


def _alert_list(value: Any) -> Any:
    if value is not None and not isinstance(value, list):
        raise ValueError("alerts is a list of webhook:URL or mqtt://host/prefix")
    return value


class CameraBody(DetectOptions):
    """The camera's own fields, then any ``oddsight watch`` option by its CLI name (``method``, ``fps``,
    ``threshold``, ``model``, ...)."""

    model_config = ConfigDict(json_schema_extra={"examples": [{"url": "rtsp://cam1/stream", "name": "door", "fps": 2}]})

    url: str | None = Field(None, description=f"The camera: {CAMERA_SOURCES}")
    record_url: str | None = Field(
        None,
        description="The camera's main stream (rtsp, rtsps, http, https) that clips are cut from, read without "
        "decoding, while url (its low-resolution substream) is scored",
    )
    name: str | None = Field(None, description="Letters, digits, . _ -; default from the URL")
    warmup: float | None = Field(None, description="Seconds of footage that set the threshold when none is given")
    cooldown: float | None = Field(None, description="Seconds after an event before the next alert")
    realtime: Flag = Field(None, description="Drop frames to keep up (a file under --media always plays so)")
    alerts: Annotated[list[str] | None, BeforeValidator(_alert_list)] = Field(
        None, description="webhook:URL or mqtt://host/prefix, at most 16"
    )
    detector_id: str | None = Field(None, description="A fitted detector for --method oneclass")


CAMERA_OWN = ("url", "record_url", "name", "warmup", "cooldown", "realtime", "alerts", "detector_id")


@router.post("/cameras", status_code=201, summary="Watch a camera: its process starts now, and with the server")
def add_camera(
    body: CameraBody, store: StoreDep, settings: SettingsDep, cameras: CamerasDep, processes: ProcessesDep
) -> dict:
    from oddsight.live.alerts import check_alert
    from oddsight.live.monitor import camera_name
    from oddsight.validate import number

    url, is_file = _source(settings, body.url)
    record_url = _record_source(body.record_url)
    warmup = 300.0 if body.warmup is None else body.warmup
    cooldown = 0.0 if body.cooldown is None else body.cooldown
    number("warmup", warmup, low=0, high=86400)
    number("cooldown", cooldown, low=0, high=86400)
    alerts = body.alerts or []
    if len(alerts) > MAX_ALERTS:
        raise ConfigError(f"alerts: at most {MAX_ALERTS} per camera, got {len(alerts)}")
    for spec in alerts:
        check_alert(spec)
    values = option_values(body, CAMERA_OWN)
    values.setdefault("fps", 2.0)
    options = detection_options(store, settings, values, LIVE_METHODS, body.detector_id)
    check_live(DetectOptions.parse(options).to_config(methods=LIVE_METHODS))
    existing = cameras.cameras()
    same = next((c for c in existing if c["url"] == url), None)
    if same is not None:
        raise HTTPException(409, f"camera {same['id']} already watches this source")
    taken = {c["id"] for c in existing}
    name = body.name
    if name is None:
        base = camera_name(url)
        name = next(n for n in (base, *(f"{base}-{i}" for i in range(2, 1000))) if n not in taken)
    elif not NAME.match(name):
        raise HTTPException(422, "name: 1-60 letters, digits, '.', '_' or '-', starting with a letter or digit")
    elif name in taken:
        raise HTTPException(409, f"a camera named {name} exists")
    row = {
        "id": name,
        "name": name,
        "url": url,
        "record_url": record_url,
        "options": options,
        "fps": float(options.get("fps", 2.0)),
        "warmup_s": float(warmup),
        "realtime": is_file or bool(body.realtime),
        "alerts": alerts,
        "cooldown_s": float(cooldown),
    }
    camera = cameras.add(row)
    processes.launch(camera["id"])
    return _public(camera)


@router.get("/cameras", summary="Every camera with its state, calibration and stream figures")
def list_cameras(cameras: CamerasDep) -> list[dict]:
    return [_public(c) for c in cameras.cameras()]


@router.get("/cameras/{camera_id}", summary="A camera, with its outages")
def get_camera(camera_id: str, cameras: CamerasDep) -> dict:
    camera = _public(found(cameras.camera(camera_id), "camera", camera_id))
    camera["outages"] = cameras.outages(camera_id)
    return camera


@router.delete("/cameras/{camera_id}", status_code=204, summary="Stop watching; delete its events and clips")
async def delete_camera(camera_id: str, store: StoreDep, cameras: CamerasDep, processes: ProcessesDep) -> Response:
    found(cameras.camera(camera_id), "camera", camera_id)
    await run_in_threadpool(processes.stop_camera, camera_id)
    cameras.delete(camera_id)
    shutil.rmtree(camera_folder(store.folder, camera_id), ignore_errors=True)
    return Response(status_code=204)


@router.post("/cameras/{camera_id}/restart", summary="Start a stopped, ended or failed camera again")
def restart_camera(camera_id: str, cameras: CamerasDep, processes: ProcessesDep) -> dict:
    found(cameras.camera(camera_id), "camera", camera_id)
    cameras.set_state(camera_id, "starting")
    processes.launch(camera_id)
    return _public(cameras.camera(camera_id))  # type: ignore[arg-type]


@router.get("/cameras/{camera_id}/scores", summary="The camera's scores after `since` (unix seconds), oldest first")
def camera_scores(camera_id: str, cameras: CamerasDep, since: float = Query(0.0, ge=0)) -> list[dict]:
    found(cameras.camera(camera_id), "camera", camera_id)
    return cameras.scores(camera_id, since)


@router.get("/cameras/{camera_id}/events", summary="The camera's events, newest first (open ones included)")
def camera_events(camera_id: str, cameras: CamerasDep, limit: int = Query(200, ge=1, le=5000)) -> list[dict]:
    found(cameras.camera(camera_id), "camera", camera_id)
    return [_event(e) for e in cameras.events(camera_id, limit)]


def _picture(store: StoreDep, cameras: CamerasDep, camera_id: str) -> Path:
    found(cameras.camera(camera_id), "camera", camera_id)
    path = camera_folder(store.folder, camera_id) / LIVE_PICTURE
    if not path.exists():
        raise HTTPException(404, f"camera {camera_id} has no picture yet")
    return path


@router.get("/cameras/{camera_id}/live.jpg", summary="The camera's latest scored frame", response_class=FileResponse)
def camera_picture(path: Annotated[Path, Depends(_picture)]) -> FileResponse:
    return FileResponse(path, media_type="image/jpeg", headers={"cache-control": "no-store"})


@router.get("/cameras/{camera_id}/live.mjpg", summary="The camera's picture as an MJPEG stream (about 1 frame/s)")
async def camera_mjpeg(request: Request, path: Annotated[Path, Depends(_picture)]) -> StreamingResponse:

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
    # a file the retention removed is gone: no link to it
    out["has_snapshot"] = bool(row["snapshot"]) and Path(row["snapshot"]).exists()
    out["has_clip"] = bool(row["clip"]) and Path(row["clip"]).exists()
    return out


def _event_file(store: Store, cameras: CameraStore, event_id: str, kind: str) -> Path:
    event = found(cameras.event(event_id), "camera event", event_id)
    folder = camera_folder(store.folder, event["camera_id"]).resolve()
    name = event.get(kind)
    path = Path(name).resolve() if name else None
    if path is None or not path.is_relative_to(folder) or not path.exists():
        what = "snapshot" if kind == "snapshot" else "clip (it is written a few seconds after the event ends)"
        raise HTTPException(404, f"event {event_id} has no {what}")
    return path


@router.get("/camera-events/{event_id}", summary="One camera event")
def get_camera_event(event_id: str, cameras: CamerasDep) -> dict:
    return _event(found(cameras.event(event_id), "camera event", event_id))


@router.get("/camera-events/{event_id}/snapshot.jpg", summary="The event's peak frame", response_class=FileResponse)
def camera_event_snapshot(event_id: str, store: StoreDep, cameras: CamerasDep) -> FileResponse:
    return FileResponse(_event_file(store, cameras, event_id, "snapshot"), media_type="image/jpeg")


@router.get(
    "/camera-events/{event_id}/clip.mp4",
    summary="The event from 3 s before to 3 s after, remuxed from the camera's own packets",
    response_class=FileResponse,
)
def camera_event_clip(event_id: str, store: StoreDep, cameras: CamerasDep) -> FileResponse:
    return FileResponse(_event_file(store, cameras, event_id, "clip"), media_type="video/mp4")


class Alerting(BaseModel):
    """What to change of a camera's alerting; alerts only (scoring, events and the log go on)."""

    model_config = ConfigDict(extra="forbid")
    armed: bool | None = Field(None, description="false: no alerts until armed again")
    snooze_min: float | None = Field(None, description="no alerts for this many minutes (0 ends a snooze)")
    schedule: list[str] | None = Field(
        None, description="windows when alerts go out, local time: ['mon-fri 18:00-07:00', 'sat,sun 00:00-24:00']"
    )


@router.patch("/cameras/{camera_id}/alerting", summary="Arm, disarm, snooze a camera, or set its alert schedule")
def set_alerting(camera_id: str, body: Alerting, cameras: CamerasDep) -> dict:
    """The running camera picks the change up within a second; MQTT's ``<prefix>/<camera>/set`` does the same."""
    camera = found(cameras.camera(camera_id), "camera", camera_id)
    change = body.model_dump(exclude_none=True)
    policy = AlertPolicy.from_dict(camera.get("alerting")).apply(change)  # a bad value: a ConfigError (422)
    cameras.set_alerting(camera_id, policy.to_dict())
    return _public(cameras.camera(camera_id))  # type: ignore[arg-type]


class ZonesBody(BaseModel):
    """A camera's masks and zones, in shares of its picture (0..1 from the left and the top)."""

    model_config = ConfigDict(extra="forbid")
    masks: list[list[list[float]]] = Field([], description="areas that never score: polygons of [x, y] points")
    zones: list[dict[str, Any]] = Field(
        [], description="named areas: {name, polygon, threshold (optional)}; each event names the zones it touches"
    )
    alert_zones: list[str] = Field([], description="alert only events in these zones (empty: all)")


@router.put("/cameras/{camera_id}/zones", summary="Set a camera's masks and named zones")
def set_zones(camera_id: str, body: ZonesBody, cameras: CamerasDep) -> dict:
    """The running camera picks them up within a second: masked cells stop scoring, new events name their zones."""
    found(cameras.camera(camera_id), "camera", camera_id)
    zones = Zones.parse(body.model_dump())  # a bad polygon or name: a ConfigError (422)
    cameras.set_zones(camera_id, zones.to_dict())
    return _public(cameras.camera(camera_id))  # type: ignore[arg-type]


class CameraReview(BaseModel):
    review: Literal["new", "confirmed", "false_alarm"]


@router.patch("/camera-events/{event_id}", summary="Confirm an event, or mark it a false alarm (feedback)")
def review_camera_event(event_id: str, body: CameraReview, store: StoreDep, cameras: CamerasDep) -> dict:
    """``false_alarm`` puts the event's frames into its camera's normal memory (the running monitor picks it up
    within seconds, so the same scene does not raise an event again); ``confirmed`` or ``new`` take them out."""
    from oddsight.live.feedback import give_feedback

    event = found(cameras.event(event_id), "camera event", event_id)
    if event["state"] == "open":
        raise HTTPException(409, f"event {event_id} is still open: review it once it has ended")
    verdict = "false-alarm" if body.review == "false_alarm" else "confirmed"
    try:
        give_feedback(camera_folder(store.folder, event["camera_id"]).parent, event_id, verdict)
    except InputError:
        raise HTTPException(409, f"event {event_id} kept no frames (its monitor stopped while it was open)") from None
    return _event(cameras.review(event_id, body.review))  # type: ignore[arg-type]
