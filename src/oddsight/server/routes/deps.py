"""What every router shares: the app's objects as FastAPI dependencies, the 404 helper, the --media resolver, and
the route class that words a bad options body as the CLI does (``unknown option --bogus``, ``--fps: ...``)."""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import Annotated, Any

from fastapi import Depends, HTTPException, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.routing import APIRoute
from pydantic import BeforeValidator, ValidationInfo

from oddsight.errors import ConfigError
from oddsight.options import DetectOptions
from oddsight.server.camera_store import CameraStore
from oddsight.server.settings import Settings
from oddsight.server.store import Store
from oddsight.server.trust import resolve_path


def get_store(request: Request) -> Store:
    return request.app.state.store


def get_settings(request: Request) -> Settings:
    return request.app.state.settings


def get_camera_store(request: Request) -> CameraStore:
    return request.app.state.camera_store


def get_camera_processes(request: Request) -> Any:
    """The :class:`~oddsight.server.cameras.CameraProcesses` supervisor (started with the app)."""
    return request.app.state.camera_processes


StoreDep = Annotated[Store, Depends(get_store)]
SettingsDep = Annotated[Settings, Depends(get_settings)]
CamerasDep = Annotated[CameraStore, Depends(get_camera_store)]
ProcessesDep = Annotated[Any, Depends(get_camera_processes)]


def found(row: dict | None, what: str, key: str) -> dict:
    if row is None:
        raise HTTPException(404, f"no {what} {key}")
    return row


def inside_media(settings: Settings, path: object) -> Path:
    """``path`` held to the ``--media`` roots (see :func:`oddsight.server.trust.resolve_path`)."""
    return resolve_path(settings.media, path)


def _flag(value: Any, info: ValidationInfo) -> Any:
    """A boolean sent as ``true``/``false`` only: ``"no"`` or ``1`` is refused, not read as one."""
    if value is not None and not isinstance(value, bool):
        raise ValueError(f"{info.field_name} must be true or false, got {value!r}")
    return value


Flag = Annotated[bool | None, BeforeValidator(_flag)]


def option_errors(errors: list[dict[str, Any]]) -> str:
    """pydantic's errors on a body of options as one line: a detection option named as the CLI spells it
    (``--min-event``), any other field by its name, and a check's own message as it is."""
    parts = []
    for err in errors:
        loc = [str(p) for p in err.get("loc", ()) if p != "body"]
        name = ".".join(loc) or "request"
        option = "--" + name.replace("_", "-")
        if err.get("type") == "extra_forbidden":
            parts.append(f"unknown option {option}")
        elif err.get("type") == "value_error" and "error" in err.get("ctx", {}):
            parts.append(str(err["ctx"]["error"]))
        else:
            parts.append(
                f"{option if name in DetectOptions.model_fields else name}: {err.get('msg', 'invalid').lower()}"
            )
    return "; ".join(parts)


class OptionsRoute(APIRoute):
    """A route whose body holds detection options: a body that does not validate is one :class:`ConfigError`
    (a 422 with the CLI's wording), as a stored job's options would be."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def route(request: Request) -> Response:
            try:
                return await handler(request)
            except RequestValidationError as exc:
                raise ConfigError(option_errors(list(exc.errors()))) from None

        return route
