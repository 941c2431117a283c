"""Jobs and what queues them: analyses of a stored video, evaluations on a labelled dataset, one-class fits.

Each body is typed, so ``/docs`` lists every option: the detection options are ``oddsight.options.DetectOptions``
itself (the bodies extend it), checked at submission with the CLI's messages; the job runs in a worker process.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any, Literal

from fastapi import APIRouter, HTTPException, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import StreamingResponse
from pydantic import BaseModel, ConfigDict, Field

from oddsight.errors import ConfigError
from oddsight.evaluate.datasets import KINDS
from oddsight.options import METHODS, DetectOptions
from oddsight.redact import redact_value
from oddsight.server import media
from oddsight.server.routes.checks import check_model, detection_options, option_values
from oddsight.server.routes.deps import Flag, OptionsRoute, SettingsDep, StoreDep, found, inside_media

router = APIRouter(tags=["jobs"], route_class=OptionsRoute)
MAX_VIDEO_IDS = 1000
CSV_UNITS = ("frames", "seconds")


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


class AnalysisBody(DetectOptions):
    """``video_id``, then any ``oddsight detect`` option by its CLI name with ``_`` for ``-``."""

    model_config = ConfigDict(json_schema_extra={"examples": [{"video_id": "…", "method": "novelty", "fps": 2}]})

    video_id: str = Field(description="The stored video to score")
    detector_id: str | None = Field(None, description="A fitted detector (POST /detectors) for --method oneclass")


ANALYSIS_OWN = ("video_id", "detector_id")


@router.post("/analyses", status_code=202, response_model=JobRef, summary="Score a stored video")
def start_analysis(body: AnalysisBody, store: StoreDep, settings: SettingsDep) -> dict:
    video = found(store.video(body.video_id), "video", body.video_id)
    media.check_folder_fps(video, body.frames_fps if "frames_fps" in body.model_fields_set else None)
    values = option_values(body, ANALYSIS_OWN)
    options = detection_options(store, settings, values, METHODS, body.detector_id)
    job = store.add_job("analysis", options, body.video_id)
    return {"job_id": job["id"], "state": job["state"]}


class EvaluationBody(DetectOptions):
    """``oddsight eval``'s dataset and its own options, then any detection option by its CLI name."""

    model_config = ConfigDict(json_schema_extra={"examples": [{"dataset": "frame-labels", "root": "ucsd_ped2"}]})

    dataset: Literal[KINDS] = Field(description="The dataset's format, as `oddsight eval` takes it")  # type: ignore[valid-type]
    root: str = Field(description="The dataset's folder, inside a --media root")
    labels: str | None = Field(None, description="A labels file inside a --media root (frame-labels, csv)")
    iou: float | None = Field(None, description="The least overlap that counts an event as found (0 to 1)")
    end_exclusive: Flag = Field(None, description="Label spans end before their last frame")
    csv_units: Literal[CSV_UNITS] | None = None  # type: ignore[valid-type]
    detector_id: str | None = Field(None, description="A fitted detector for --method oneclass")


EVALUATION_OWN = ("dataset", "root", "labels", "iou", "end_exclusive", "csv_units", "detector_id")


@router.post("/evaluations", status_code=202, response_model=JobRef, summary="Evaluate on a labelled dataset")
def start_evaluation(body: EvaluationBody, store: StoreDep, settings: SettingsDep) -> dict:
    from oddsight.validate import number

    read: dict[str, Any] = {"dataset": body.dataset, "root": str(inside_media(settings, body.root))}
    if body.iou is not None:
        read["iou"] = number("iou", body.iou, low=0, high=1)
    read.update({k: getattr(body, k) for k in ("end_exclusive", "csv_units") if getattr(body, k) is not None})
    if body.labels is not None:
        read["labels"] = str(inside_media(settings, body.labels))
    values = option_values(body, EVALUATION_OWN)
    options = detection_options(store, settings, values, (*METHODS, "text-sim"), body.detector_id)
    job = store.add_job("eval", {**read, **options})
    return {"job_id": job["id"], "state": job["state"]}


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
    frames_fps: float | None = Field(
        None, gt=0, le=1000, description="Must agree with the frame folders' stored rate (they are fitted at it)"
    )


@router.post("/detectors", status_code=202, response_model=JobRef, summary="Fit a one-class detector (a job)")
def fit_detector(body: FitBody, store: StoreDep) -> dict:
    body.video_ids = list(dict.fromkeys(body.video_ids))  # each video once
    videos = [found(store.video(video_id), "video", video_id) for video_id in body.video_ids]
    rates = {fps for fps in map(media.folder_fps, videos) if fps is not None}
    if len(rates) > 1:
        shown = ", ".join(f"{fps:g}" for fps in sorted(rates))
        raise ConfigError(f"the frame folders to fit were registered at different rates ({shown} fps)")
    for video in videos:
        media.check_folder_fps(video, body.frames_fps)
    values = body.model_dump(exclude_none=True)
    config = DetectOptions.parse({k: values[k] for k in ("fps", "stride", "model", "frames_fps") if k in values})
    check_model(config.to_config())
    job = store.add_job("fit", values)
    return {"job_id": job["id"], "state": job["state"]}


@router.get("/detectors", summary="Fitted detectors")
def list_detectors(store: StoreDep) -> list[dict]:
    return [{k: v for k, v in d.items() if k != "path"} for d in store.detectors()]


@router.get("/jobs", response_model=list[Job], summary="Recent jobs, newest first")
def list_jobs(store: StoreDep, limit: int = Query(200, ge=1, le=1000)) -> list[dict]:
    return redact_value(store.jobs(limit))


@router.get("/jobs/stream", summary="Server-sent events: every job's state and progress as they change")
async def stream_jobs(request: Request, store: StoreDep) -> StreamingResponse:
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
def get_job(job_id: str, store: StoreDep) -> dict:
    return redact_value(found(store.job(job_id), "job", job_id))


@router.post("/jobs/{job_id}/cancel", response_model=Job, summary="Cancel a queued or running job (any kind)")
def cancel_job(job_id: str, store: StoreDep) -> dict:
    found(store.job(job_id), "job", job_id)
    return redact_value(store.cancel_job(job_id))


@router.post("/jobs/{job_id}/resume", response_model=Job, summary="Queue an interrupted, failed or cancelled job")
def resume_job(job_id: str, store: StoreDep) -> dict:
    job = found(store.job(job_id), "job", job_id)
    if job["state"] not in ("interrupted", "failed", "cancelled"):
        raise HTTPException(409, f"job {job_id} is {job['state']}: only interrupted, failed or cancelled jobs resume")
    return redact_value(store.resume_job(job_id))
