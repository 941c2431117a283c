"""``/health`` and ``/models``."""

from __future__ import annotations

from typing import Literal

from fastapi import APIRouter
from pydantic import BaseModel

from oddsight.server.routes.deps import SettingsDep
from oddsight.version import __version__

router = APIRouter(tags=["system"])


class Health(BaseModel):
    status: Literal["ok"]
    version: str
    schema_version: int
    workers: int


@router.get("/health", response_model=Health, summary="Liveness and version")
def health(settings: SettingsDep) -> dict:
    from oddsight.server.store import SCHEMA_VERSION

    return {"status": "ok", "version": __version__, "schema_version": SCHEMA_VERSION, "workers": settings.workers}


@router.get("/models", summary="Every known model and whether it loads offline here now")
def models() -> list[dict]:
    from oddsight.methods.registry import METHODS
    from oddsight.models.registry import availability, list_specs, unavailable_message

    rows = []
    for spec in list_specs():
        where = availability(spec)
        rows.append(
            {
                "id": spec.id,
                "role": spec.role,
                "default_for": [m.name for m in METHODS.values() if m.default_model == spec.id],
                "available": where != "missing",
                "where": where,
                "licence": spec.licence,
                "description": spec.description,
                "how_to_get": None if where != "missing" else unavailable_message(spec),
            }
        )
    return rows
