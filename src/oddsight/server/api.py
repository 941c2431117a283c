"""The HTTP API under ``/api/v1``: videos, analyses, jobs, results, events, detectors, models, evaluations.

Each handler checks its input, talks to the store and answers; anything slow (decoding, encoding, scoring) runs
in a worker process (jobs) or, for thumbnails and clips, in the thread pool, never in the event loop.
"""

from __future__ import annotations

import asyncio
import csv
import io
import json
from pathlib import Path
from typing import Annotated, Any, Literal

import numpy as np
from fastapi import APIRouter, Body, HTTPException, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import FileResponse, Response, StreamingResponse
from pydantic import BaseModel, Field
from starlette.datastructures import UploadFile

from oddsight.errors import ConfigError, InputError
from oddsight.options import METHODS, PATH_OPTIONS, DetectOptions
from oddsight.redact import redact_value
from oddsight.server import media
from oddsight.server.display import decimate
from oddsight.server.store import Store
from oddsight.server.trust import check_llm_endpoint, resolve_path
from oddsight.version import __version__

router = APIRouter()
UPLOAD_CHUNK = 1 << 20
MAX_VIDEO_IDS = 1000
MAX_OFFSET = 10**9
CSV_UNITS = ("frames", "seconds")


def _store(request: Request) -> Store:
    return request.app.state.store


def _found(row: dict | None, what: str, key: str) -> dict:
    if row is None:
        raise HTTPException(404, f"no {what} {key}")
    return row


def inside_media(request: Request, path: object) -> Path:
    """``path`` held to the ``--media`` roots (see :func:`oddsight.server.trust.resolve_path`)."""
    return resolve_path(request.app.state.settings.media, path)


# --- health, models --------------------------------------------------------------------------------------


class Health(BaseModel):
    status: Literal["ok"]
    version: str
    schema_version: int
    workers: int


@router.get("/health", response_model=Health, summary="Liveness and version")
def health(request: Request) -> dict:
    from oddsight.server.store import SCHEMA_VERSION

    return {
        "status": "ok",
        "version": __version__,
        "schema_version": SCHEMA_VERSION,
        "workers": request.app.state.settings.workers,
    }


@router.get("/models", summary="Every known model and whether it loads offline here now")
def models() -> list[dict]:
    from oddsight.models.registry import availability, list_specs, unavailable_message

    rows = []
    for spec in list_specs():
        where = availability(spec)
        rows.append(
            {
                "id": spec.id,
                "role": spec.role,
                "available": where != "missing",
                "where": where,
                "licence": spec.licence,
                "description": spec.description,
                "how_to_get": None if where != "missing" else unavailable_message(spec),
            }
        )
    return rows


# --- videos ----------------------------------------------------------------------------------------------


class Video(BaseModel):
    id: str
    name: str
    origin: Literal["upload", "media", "import"]
    size: int | None = None
    width: int | None = None
    height: int | None = None
    fps: float | None = None
    frame_count: int | None = None
    duration_s: float | None = None
    codec: str | None = None
    created_at: float


def _public(video: dict) -> dict:
    return {k: v for k, v in video.items() if k != "path"}


@router.post("/videos", status_code=201, response_model=Video, summary="Upload a video (multipart field 'file')")
async def upload_video(request: Request) -> dict:
    """Streamed to disk under a new name (the client's file name is only shown, never used as a path), then
    decoded: a file that does not decode is refused and deleted."""
    from oddsight.server.store import new_id
    from oddsight.video.source import VIDEO_SUFFIXES

    store = _store(request)
    form = await request.form(max_files=1, max_fields=4)
    upload = form.get("file")
    if not isinstance(upload, UploadFile):
        raise HTTPException(422, "send the video as the multipart field 'file'")
    shown = Path((upload.filename or "video").replace("\\", "/")).name[:200] or "video"
    suffix = Path(shown).suffix.lower()
    if suffix not in VIDEO_SUFFIXES:
        raise HTTPException(415, f"{shown}: not a video file type ({', '.join(sorted(VIDEO_SUFFIXES))})")
    target = store.folder / "uploads" / f"{new_id()}{suffix}"
    try:
        size = await run_in_threadpool(_copy, upload, target)
        if size == 0:
            raise HTTPException(400, f"{shown}: the file is empty")
        info = await run_in_threadpool(media.probe, target)
    except InputError as exc:
        target.unlink(missing_ok=True)
        raise HTTPException(400, str(exc).replace(str(target), shown).replace(target.name, shown)) from None
    except BaseException:
        target.unlink(missing_ok=True)
        raise
    return store.add_video(shown, str(target), "upload", info, size)


def _copy(upload: UploadFile, target: Path) -> int:
    size = 0
    with open(target, "wb") as out:
        while chunk := upload.file.read(UPLOAD_CHUNK):
            out.write(chunk)
            size += len(chunk)
    return size


class RegisterBody(BaseModel):
    path: str = Field(description="A file or frame folder inside a --media root (absolute, or relative to one)")
    frames_fps: float = 25.0


@router.post("/videos/register", status_code=201, response_model=Video, summary="Register a file under --media")
def register_video(request: Request, body: RegisterBody, response: Response) -> dict:
    store = _store(request)
    real = inside_media(request, body.path)
    existing = store.video_by_path(str(real))
    if existing is not None:
        response.status_code = 200
        return _public(existing)
    info = media.probe(real, folder_fps=body.frames_fps)
    size = real.stat().st_size if real.is_file() else None
    return store.add_video(real.name, str(real), "media", info, size)


@router.get("/media", summary="Videos and frame folders under the --media roots, to register")
def list_media(request: Request) -> list[dict]:
    from oddsight.video.inputs import is_frame_folder
    from oddsight.video.source import VIDEO_SUFFIXES

    out: list[dict] = []
    registered = {v["path"]: v["id"] for v in _store(request).videos()}
    for root in request.app.state.settings.media:
        for path in sorted(root.rglob("*")):
            if len(out) >= 2000:
                return out
            is_video = path.is_file() and path.suffix.lower() in VIDEO_SUFFIXES
            is_frames = is_frame_folder(path)
            if is_video or is_frames:
                real = str(path.resolve())
                out.append(
                    {
                        "path": str(path.relative_to(root)),
                        "root": str(root),
                        "kind": "file" if is_video else "frames",
                        "video_id": registered.get(real),
                    }
                )
    return out


@router.get("/videos", response_model=list[Video], summary="Every stored video")
def list_videos(request: Request) -> list[dict]:
    return [_public(v) for v in _store(request).videos()]


@router.get("/videos/{video_id}", response_model=Video)
def get_video(request: Request, video_id: str) -> dict:
    return _public(_found(_store(request).video(video_id), "video", video_id))


@router.delete("/videos/{video_id}", status_code=204, summary="Delete a video, its results and events")
def delete_video(request: Request, video_id: str) -> Response:
    store = _store(request)
    video = _found(store.video(video_id), "video", video_id)
    events = store.events(video_id=video_id, limit=10**9)
    store.delete_video(video_id)
    for e in events:
        for suffix in (".jpg", ".mp4"):
            (store.folder / "media" / f"{e['id']}{suffix}").unlink(missing_ok=True)
    (store.folder / "media" / f"preview-{video_id}.mp4").unlink(missing_ok=True)
    if video["origin"] == "upload":
        Path(video["path"]).unlink(missing_ok=True)
    return Response(status_code=204)


@router.get("/videos/{video_id}/playable.mp4", summary="The video as the browser can play it")
def playable(request: Request, video_id: str) -> FileResponse:
    """The file itself when a browser plays its codec, else an H.264 copy made once and kept."""
    store = _store(request)
    video = _found(store.video(video_id), "video", video_id)
    path = Path(video["path"])
    if media.browser_playable(path, video.get("codec")):
        return FileResponse(path, media_type="video/mp4" if path.suffix != ".webm" else "video/webm")
    copy = store.folder / "media" / f"preview-{video_id}.mp4"
    if not copy.exists():
        media.preview(path, video.get("fps") or 25.0, copy, folder_fps=video.get("fps") or 25.0)
    return FileResponse(copy, media_type="video/mp4")


# --- analyses, evaluations, jobs -------------------------------------------------------------------------


class JobRef(BaseModel):
    job_id: str
    state: str


class Job(BaseModel):
    id: str
    kind: Literal["analysis", "fit", "eval"]
    state: Literal["queued", "running", "done", "failed", "cancelled", "interrupted"]
    progress: float
    error: str | None
    result_id: str | None
    detector_id: str | None
    video_id: str | None
    options: dict[str, Any]
    output: dict[str, Any] | None = None
    created_at: float
    started_at: float | None
    finished_at: float | None


def _path_options(request: Request, values: dict[str, Any]) -> None:
    """File options name files on the server: each must lie inside a --media root (or be a stored detector)."""
    for name in PATH_OPTIONS:
        if values.get(name) is not None:
            values[name] = str(inside_media(request, values[name]))


def _model_options(request: Request, values: dict[str, Any]) -> None:
    """``llm`` and ``captioner`` name an endpoint (``openai:URL#model``: one the operator allowed) or a local
    folder (``hf:FOLDER``: inside a --media root); a hub id (``hf:org/name``) that is no local path passes."""
    for name in ("llm", "captioner"):
        spec = values.get(name)
        if not isinstance(spec, str):
            continue
        if spec.startswith("openai:"):
            check_llm_endpoint(name, spec, request.app.state.settings.llm_endpoints)
        elif name == "captioner" and spec.startswith("hf:") and _local_folder(spec[3:]):
            values[name] = "hf:" + str(inside_media(request, spec[3:]))


def _local_folder(source: str) -> bool:
    """Whether the captioner would read ``source`` as a folder on this machine rather than a hub id."""
    return source.startswith((".", "/", "~")) or ".." in source or source.count("/") != 1 or Path(source).exists()


def _detection_options(request: Request, values: dict[str, Any], methods: tuple[str, ...]) -> dict[str, Any]:
    detector_id = values.pop("detector_id", None)
    if detector_id is not None:
        if values.get("detector"):
            raise ConfigError("give detector_id or detector, not both")
        values["detector"] = _found(_store(request).detector(str(detector_id)), "detector", str(detector_id))["path"]
        values.setdefault("method", "oneclass")
    else:
        _path_options(request, values)
    _model_options(request, values)
    options = DetectOptions.parse(values)
    config = options.to_config(methods=methods)  # every value checked now, with the CLI's messages
    if config.method == "oneclass" and not config.detector_path:
        raise ConfigError("--method oneclass needs a detector: detector_id (fit one under /detectors) or detector")
    _check_model(config)
    return options.changed()


def _check_model(config: Any) -> None:
    """An unknown model fails at submission (a 4xx), not later in a job."""
    if config.model_path is None:
        from oddsight.models.registry import get_spec

        get_spec(config.model_id)


@router.post("/analyses", status_code=202, response_model=JobRef, summary="Score a stored video")
def start_analysis(
    request: Request,
    body: Annotated[
        dict[str, Any],
        Body(
            examples=[{"video_id": "…", "method": "novelty", "fps": 2, "threshold": 1.5}],
            description="video_id, then any `oddsight detect` option by its CLI name with _ for - "
            f"({', '.join(DetectOptions.model_fields)}); detector_id picks a fitted detector",
        ),
    ],
) -> dict:
    store = _store(request)
    values = dict(body)
    video_id = values.pop("video_id", None)
    if not isinstance(video_id, str):
        raise HTTPException(422, "video_id is required")
    _found(store.video(video_id), "video", video_id)
    job = store.add_job("analysis", _detection_options(request, values, METHODS), video_id)
    return {"job_id": job["id"], "state": job["state"]}


@router.post("/evaluations", status_code=202, response_model=JobRef, summary="Evaluate on a labelled dataset")
def start_evaluation(
    request: Request,
    body: Annotated[
        dict[str, Any],
        Body(
            examples=[{"dataset": "frame-labels", "root": "ucsd_ped2", "frames_fps": 10}],
            description="dataset and root (under --media) as `oddsight eval` takes them, iou, end_exclusive, "
            "labels, csv_units, and any detection option by its CLI name",
        ),
    ],
) -> dict:
    from oddsight.evaluate.datasets import KINDS

    values = dict(body)
    dataset = values.pop("dataset", None)
    if dataset not in KINDS:
        raise HTTPException(422, f"dataset must be one of {', '.join(KINDS)}")
    root = inside_media(request, values.pop("root", ""))
    read: dict[str, Any] = {"dataset": dataset, "root": str(root)}
    for key in ("iou", "end_exclusive", "csv_units"):
        if key in values:
            read[key] = values.pop(key)
    _check_read_options(read)
    if values.get("labels") is not None:
        read["labels"] = str(inside_media(request, values.pop("labels")))
    options = _detection_options(request, values, (*METHODS, "text-sim"))
    job = _store(request).add_job("eval", {**read, **options})
    return {"job_id": job["id"], "state": job["state"]}


def _check_read_options(read: dict[str, Any]) -> None:
    """``oddsight eval``'s own options, checked at submission (a 4xx, not a job that fails)."""
    from oddsight.validate import number

    if "iou" in read:
        number("iou", read["iou"], low=0, high=1)
    if not isinstance(read.get("end_exclusive", False), bool):
        raise ConfigError(f"end_exclusive must be true or false, got {read['end_exclusive']!r}")
    if read.get("csv_units", "frames") not in CSV_UNITS:
        raise ConfigError(f"csv_units must be one of {', '.join(CSV_UNITS)}, got {read['csv_units']!r}")


@router.get("/jobs", response_model=list[Job], summary="Recent jobs, newest first")
def list_jobs(request: Request, limit: int = Query(200, ge=1, le=1000)) -> list[dict]:
    return redact_value(_store(request).jobs(limit))


@router.get("/jobs/stream", summary="Server-sent events: every job's state and progress as they change")
async def stream_jobs(request: Request) -> StreamingResponse:
    store = _store(request)

    async def events():
        last: dict[str, tuple] = {}
        while not await request.is_disconnected():
            jobs = await run_in_threadpool(store.jobs, 100)
            for job in jobs:
                key = (job["state"], round(job["progress"], 3), job["result_id"], job["detector_id"])
                if last.get(job["id"]) != key:
                    last[job["id"]] = key
                    shown = redact_value({k: v for k, v in job.items() if k != "output"})
                    yield f"data: {json.dumps(shown)}\n\n"
            yield ": keep-alive\n\n"
            await asyncio.sleep(0.5)

    return StreamingResponse(events(), media_type="text/event-stream", headers={"cache-control": "no-cache"})


@router.get("/jobs/{job_id}", response_model=Job)
def get_job(request: Request, job_id: str) -> dict:
    return redact_value(_found(_store(request).job(job_id), "job", job_id))


@router.post("/jobs/{job_id}/cancel", response_model=Job, summary="Cancel a queued or running job")
def cancel_job(request: Request, job_id: str) -> dict:
    _found(_store(request).job(job_id), "job", job_id)
    return redact_value(_store(request).cancel_job(job_id))


@router.post("/jobs/{job_id}/resume", response_model=Job, summary="Queue an interrupted, failed or cancelled job")
def resume_job(request: Request, job_id: str) -> dict:
    job = _found(_store(request).job(job_id), "job", job_id)
    if job["state"] not in ("interrupted", "failed", "cancelled"):
        raise HTTPException(409, f"job {job_id} is {job['state']}: only interrupted, failed or cancelled jobs resume")
    return redact_value(_store(request).resume_job(job_id))


# --- results ---------------------------------------------------------------------------------------------


@router.get("/results", summary="Stored results (without their scores)")
def list_results(request: Request, video_id: str | None = None) -> list[dict]:
    return redact_value(_store(request).results(video_id))


@router.get("/results/{result_id}", summary="A result: the JSON document `oddsight detect --json` writes")
def get_result(request: Request, result_id: str) -> dict:
    return _found(_store(request).result(result_id), "result", result_id)["document"]


@router.get("/results/{result_id}/display", summary="A result for charts: scores decimated with every peak kept")
def result_display(request: Request, result_id: str, points: int = Query(4000, ge=100, le=200_000)) -> dict:
    row = _found(_store(request).result(result_id), "result", result_id)
    doc = row["document"]
    scores = np.asarray(doc.get("frame_scores", []), dtype=np.float64)
    frames = decimate(scores, points)
    config = _stored_config(row)
    return {
        "id": result_id,
        "video_id": row["video_id"],
        "method": doc["method"],
        "model": doc.get("model"),
        "options": redact_value(row["options"]),
        "video": doc["video"],
        "n_frames": len(scores),
        "threshold": doc["threshold"],
        "hysteresis": config.hysteresis,
        "frames": frames.tolist(),
        "scores": [round(float(s), 5) for s in scores[frames]],
        "warnings": doc.get("warnings", []),
        "created_at": row["created_at"],
    }


def _stored_config(row: dict):
    try:
        return DetectOptions.parse(row["options"]).to_config()
    except ConfigError:  # an imported result's options may come from another version: the defaults
        return DetectOptions().to_config()


@router.get("/results/{result_id}/events", summary="The result's events at another threshold (not stored)")
def events_at_threshold(request: Request, result_id: str, threshold: float) -> list[dict]:
    from oddsight.result import events_at
    from oddsight.validate import number

    row = _found(_store(request).result(result_id), "result", result_id)
    number("threshold", threshold)
    doc = row["document"]
    scores = np.asarray(doc.get("frame_scores", []), dtype=np.float32)
    events = events_at(_stored_config(row), scores, float(doc["video"]["fps"]), threshold)
    return [e.to_dict() for e in events]


# --- events ----------------------------------------------------------------------------------------------


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
    review: Literal["new", "confirmed", "false_alarm"]
    note: str | None
    created_at: float


@router.get("/events", response_model=list[Event], summary="Events across videos, filtered and sorted")
async def list_events(
    request: Request,
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
    rows = _store(request).events(
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
def review_event(request: Request, event_id: str, body: Review) -> dict:
    store = _store(request)
    _found(store.event(event_id), "event", event_id)
    return store.review_event(event_id, body.review, body.note)  # type: ignore[return-value]


def _event_source(request: Request, event: dict) -> tuple[Path, float]:
    """The event's video: the stored one, else the file its result names, held to --media like any path."""
    video = _store(request).video(event["video_id"]) if event["video_id"] else None
    path = Path(video["path"]) if video else inside_media(request, event["source"] or "")
    if not path.exists():
        raise HTTPException(404, "the event's video is no longer on this server")
    return path, float((video or {}).get("fps") or 25.0)


def _event_file(request: Request, event_id: str, suffix: str, make) -> Path:
    """The event's picture or clip, made on first request (``make(video, fps, event, out)``) and kept."""
    store = _store(request)
    event = _found(store.event(event_id), "event", event_id)
    out = store.folder / "media" / f"{event_id}{suffix}"
    if not out.exists():
        path, fps = _event_source(request, event)
        make(path, fps, event, out)
    return out


@router.get("/events/{event_id}/thumbnail.jpg", summary="The event's peak frame", response_class=FileResponse)
def event_thumbnail(request: Request, event_id: str) -> FileResponse:
    def make(path: Path, fps: float, event: dict, out: Path) -> None:
        media.thumbnail(path, event["peak_s"], out, folder_fps=fps)

    return FileResponse(_event_file(request, event_id, ".jpg", make), media_type="image/jpeg")


@router.get(
    "/events/{event_id}/clip.mp4", summary="The event with a few seconds around it", response_class=FileResponse
)
def event_clip(request: Request, event_id: str) -> FileResponse:
    def make(path: Path, fps: float, event: dict, out: Path) -> None:
        media.clip(path, event["start_s"], event["end_s"], fps, out, folder_fps=fps)

    return FileResponse(_event_file(request, event_id, ".mp4", make), media_type="video/mp4")


# --- detectors -------------------------------------------------------------------------------------------


class FitBody(BaseModel):
    model_config = {"extra": "forbid"}

    name: str = Field("detector", min_length=1, max_length=200)
    video_ids: list[str] = Field(min_length=1, max_length=MAX_VIDEO_IDS, description="normal footage only")
    kind: Literal["knn", "ocsvm"] | None = None
    nu: float = Field(0.05, gt=0, le=1)
    k: int = Field(5, ge=1)
    fps: float | None = Field(None, gt=0, le=1000)
    stride: int | None = Field(None, ge=1)
    model: str | None = None
    frames_fps: float = Field(25.0, gt=0, le=1000)


@router.post("/detectors", status_code=202, response_model=JobRef, summary="Fit a one-class detector (a job)")
def fit_detector(request: Request, body: FitBody) -> dict:
    store = _store(request)
    body.video_ids = list(dict.fromkeys(body.video_ids))  # each video once
    for video_id in body.video_ids:
        _found(store.video(video_id), "video", video_id)
    values = body.model_dump(exclude_none=True)
    config = DetectOptions.parse({k: values[k] for k in ("fps", "stride", "model", "frames_fps") if k in values})
    _check_model(config.to_config())
    job = store.add_job("fit", values)
    return {"job_id": job["id"], "state": job["state"]}


@router.get("/detectors", summary="Fitted detectors")
def list_detectors(request: Request) -> list[dict]:
    return [{k: v for k, v in d.items() if k != "path"} for d in _store(request).detectors()]


# --- imports ---------------------------------------------------------------------------------------------


class ImportBody(BaseModel):
    path: str = Field(description="An `oddsight detect --out` folder (or one JSON file) inside a --media root")


@router.post("/imports", summary="Import results the CLI wrote (`oddsight detect --out`)")
def import_results(request: Request, body: ImportBody) -> dict:
    from oddsight.server.imports import import_results as run_import

    def video_path(source: str) -> Path | None:  # a result's video counts only when it lies under --media
        try:
            return inside_media(request, source)
        except HTTPException:
            return None

    return run_import(_store(request), inside_media(request, body.path), video_path)
