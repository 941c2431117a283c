"""Results: the stored documents, their scores for a chart, their events at another threshold; imports of
results the CLI wrote."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from fastapi import APIRouter, HTTPException, Query
from pydantic import BaseModel, Field

from oddsight.errors import ConfigError
from oddsight.options import DetectOptions
from oddsight.redact import redact_value
from oddsight.server.display import decimate
from oddsight.server.routes.deps import SettingsDep, StoreDep, found, inside_media

router = APIRouter(tags=["results"])


@router.get("/results", summary="Stored results (without their scores)")
def list_results(store: StoreDep, video_id: str | None = None) -> list[dict]:
    return redact_value(store.results(video_id))


@router.get("/results/{result_id}", summary="A result: the JSON document `oddsight detect --json` writes")
def get_result(result_id: str, store: StoreDep) -> dict:
    return found(store.result(result_id), "result", result_id)["document"]


@router.get("/results/{result_id}/display", summary="A result for charts: scores decimated with every peak kept")
def result_display(result_id: str, store: StoreDep, points: int = Query(4000, ge=100, le=200_000)) -> dict:
    row = found(store.result(result_id), "result", result_id)
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
def events_at_threshold(result_id: str, threshold: float, store: StoreDep) -> list[dict]:
    from oddsight.result import events_at
    from oddsight.validate import number

    row = found(store.result(result_id), "result", result_id)
    number("threshold", threshold)
    doc = row["document"]
    scores = np.asarray(doc.get("frame_scores", []), dtype=np.float32)
    events = events_at(_stored_config(row), scores, float(doc["video"]["fps"]), threshold)
    return [e.to_dict() for e in events]


class ImportBody(BaseModel):
    path: str = Field(description="An `oddsight detect --out` folder (or one JSON file) inside a --media root")


@router.post("/imports", summary="Import results the CLI wrote (`oddsight detect --out`)")
def import_results(body: ImportBody, store: StoreDep, settings: SettingsDep) -> dict:
    from oddsight.server.imports import import_results as run_import

    def video_path(source: str) -> Path | None:  # a result's video counts only when it lies under --media
        try:
            return inside_media(settings, source)
        except HTTPException:
            return None

    return run_import(store, inside_media(settings, body.path), video_path)
