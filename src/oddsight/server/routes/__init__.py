"""The HTTP API under ``/api/v1``, one router per resource: ``system`` (health, models), ``videos`` (uploads,
registered files and frame folders, --media), ``jobs`` (analyses, evaluations, fits, the job queue), ``results``
(and imports), ``events``, ``cameras`` (live cameras and their events), ``metrics`` (Prometheus).

Each handler checks its input, talks to the store (``Depends(get_store)``) and answers; anything slow (decoding,
encoding, scoring) runs in a worker process (jobs) or, for thumbnails and clips, in the thread pool, never in the
event loop.
"""

from __future__ import annotations

from fastapi import APIRouter

from oddsight.server.routes import cameras, events, jobs, metrics, results, system, videos

ROUTERS: tuple[APIRouter, ...] = (
    system.router,
    videos.router,
    jobs.router,
    results.router,
    events.router,
    cameras.router,
    metrics.router,
)
