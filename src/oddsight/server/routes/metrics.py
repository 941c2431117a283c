"""``/metrics``: the server's figures for Prometheus (also at the root, where scrapers look first)."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import PlainTextResponse

from oddsight.server.metrics import render
from oddsight.server.routes.deps import CamerasDep, StoreDep

router = APIRouter(tags=["system"])
CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"


@router.get(
    "/metrics", summary="Per camera and per job figures (Prometheus text format)", response_class=PlainTextResponse
)
def metrics(store: StoreDep, cameras: CamerasDep) -> PlainTextResponse:
    return PlainTextResponse(render(store, cameras), media_type=CONTENT_TYPE)
