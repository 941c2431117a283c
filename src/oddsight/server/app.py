"""The FastAPI application: settings, error replies, the dashboard's pages and assets, and the API router.

Route handlers stay thin: they check input, read or write the store, and queue jobs; scoring runs in the
worker processes (``jobs.py``) through the library.
"""

from __future__ import annotations

import fcntl
import logging
import sqlite3
from contextlib import asynccontextmanager
from pathlib import Path
from typing import IO, Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import FileResponse, HTMLResponse, JSONResponse, RedirectResponse, Response
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.requests import ClientDisconnect

from oddsight.errors import ConfigError, InputError, ModelFileError, ModelUnavailableError, OddsightError
from oddsight.redact import redact_urls
from oddsight.server.auth import (
    COOKIE,
    SESSION_S,
    TOO_BIG,
    TOO_MANY,
    BodyLimit,
    Sessions,
    Throttle,
    TokenAuth,
    client_of,
    session_cookie,
    token_ok,
)
from oddsight.server.camera_store import CameraStore
from oddsight.server.cameras import CameraProcesses
from oddsight.server.guard import HostNames, RequestGuard
from oddsight.server.jobs import Workers
from oddsight.server.settings import Settings
from oddsight.server.store import Store
from oddsight.version import __version__

log = logging.getLogger("oddsight.server")
WEB = Path(__file__).parent / "web"
LOCAL_HOSTS = ("127.0.0.1", "localhost", "::1")
UPLOAD_PATH = "/api/v1/videos"
LOCK_FILE = "server.lock"


def _status(exc: OddsightError) -> int:
    if isinstance(exc, ModelUnavailableError):
        return 409
    if isinstance(exc, (ConfigError, ModelFileError)):
        return 422
    if isinstance(exc, InputError):
        return 400
    return 500


def camera_supervisor(store: Store, settings: Settings) -> Any:
    """Who runs the cameras: a process each here, or (``--ray``) an actor each on a Ray cluster."""
    if settings.ray is None:
        return CameraProcesses(store)
    from oddsight.server.ray_cameras import RayCameras

    return RayCameras(store, settings.ray)


def create_app(settings: Settings) -> FastAPI:
    """The whole server; workers start with the app (``settings.workers`` of them; 0 runs no jobs)."""
    from oddsight.live.retention import Retention
    from oddsight.server.cleanup import Sweeper
    from oddsight.server.routes import ROUTERS
    from oddsight.server.routes.metrics import router as metrics_router

    store = Store(settings.data)

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        lost = store.interrupt_running()
        if lost:
            log.warning("%d job(s) were running when the server last stopped: marked interrupted", lost)
        workers = Workers(store, settings.workers)
        if settings.workers:
            workers.start()
        app.state.workers = workers
        cameras = camera_supervisor(store, settings)
        cameras.start()
        app.state.camera_processes = cameras
        sweeper = Sweeper(store, Retention.parse(settings.retention))
        sweeper.start()
        yield
        sweeper.stop()
        cameras.stop()
        workers.stop()

    app = FastAPI(
        title="oddsight",
        version=__version__,
        summary="Find the unusual in video: upload or register footage, run analyses, review events.",
        lifespan=lifespan,
        docs_url=None,  # /docs is served below with Swagger UI's files from the fastapi-offline package, no CDN
        redoc_url=None,
    )
    app.state.store = store
    app.state.camera_store = CameraStore(store)
    app.state.settings = settings
    sessions, throttle = Sessions(), Throttle()

    @app.exception_handler(OddsightError)
    async def _library_error(request: Request, exc: OddsightError) -> JSONResponse:
        return JSONResponse({"detail": redact_urls(str(exc))}, status_code=_status(exc))

    @app.exception_handler(RequestValidationError)
    async def _bad_request(request: Request, exc: RequestValidationError) -> JSONResponse:
        parts = []
        for err in exc.errors():
            where = ".".join(str(p) for p in err.get("loc", ()) if p != "body") or "request"
            parts.append(f"{where}: {err.get('msg', 'invalid')}")
        return JSONResponse({"detail": "; ".join(parts)}, status_code=422)

    @app.exception_handler(UnicodeError)
    async def _bad_text(request: Request, exc: UnicodeError) -> JSONResponse:  # e.g. a lone surrogate in JSON
        return JSONResponse({"detail": "the request holds text that is not valid Unicode (a lone surrogate?)"}, 400)

    @app.exception_handler(ClientDisconnect)
    async def _gone(request: Request, exc: ClientDisconnect) -> JSONResponse:
        too_big = request.scope.get(TOO_BIG)
        return JSONResponse({"detail": too_big or "the client went away"}, status_code=413 if too_big else 400)

    @app.exception_handler(Exception)
    async def _internal(request: Request, exc: Exception) -> JSONResponse:  # never a traceback to the client
        log.exception("internal error on %s %s", request.method, request.url.path)
        return JSONResponse({"detail": f"internal error ({type(exc).__name__}); see the server log"}, 500)

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        return JSONResponse({"detail": exc.detail}, status_code=exc.status_code, headers=exc.headers)

    for router in ROUTERS:
        app.include_router(router, prefix="/api/v1")
    app.include_router(metrics_router)  # /metrics, where Prometheus looks by default
    _pages(app, settings, sessions, throttle)
    app.add_middleware(TokenAuth, token=settings.token, sessions=sessions, throttle=throttle)
    app.add_middleware(
        BodyLimit,
        limit=int(settings.max_body_mb * 1e6),
        upload_limit=int(settings.max_upload_mb * 1e6),
        upload_path=UPLOAD_PATH,
    )
    app.add_middleware(RequestGuard, hosts=HostNames(settings.host, settings.allowed_hosts))  # outermost
    return app


def _pages(app: FastAPI, settings: Settings, sessions: Sessions, throttle: Throttle) -> None:
    """The dashboard (one page, its script and style, plotly.js from the plotly package), the API docs (Swagger
    UI 5 from the fastapi-offline package) and the login form: every file from this process, none from a CDN."""
    import fastapi_offline
    import plotly
    from fastapi.openapi.docs import get_swagger_ui_html

    swagger = Path(fastapi_offline.__file__).parent / "static"

    assets = {
        "app.js": (WEB / "app.js", "text/javascript"),
        "style.css": (WEB / "style.css", "text/css"),
        "plotly.min.js": (Path(plotly.__file__).parent / "package_data" / "plotly.min.js", "text/javascript"),
        "swagger-ui-bundle.js": (swagger / "swagger-ui-bundle.js", "text/javascript"),
        "swagger-ui.css": (swagger / "swagger-ui.css", "text/css"),
    }

    @app.get("/docs", include_in_schema=False)
    def docs() -> HTMLResponse:
        return get_swagger_ui_html(
            openapi_url="/openapi.json",
            title="oddsight API",
            swagger_js_url="/static/swagger-ui-bundle.js",
            swagger_css_url="/static/swagger-ui.css",
            swagger_favicon_url="data:,",
        )

    @app.get("/", include_in_schema=False)
    def index() -> FileResponse:
        return FileResponse(WEB / "index.html", media_type="text/html", headers={"cache-control": "no-cache"})

    @app.get("/static/{name}", include_in_schema=False)
    def static(name: str) -> Response:
        if name not in assets:
            return JSONResponse({"detail": "no such file"}, status_code=404)
        path, media_type = assets[name]
        return FileResponse(path, media_type=media_type, headers={"cache-control": "no-cache"})

    @app.get("/login", include_in_schema=False)
    def login_page() -> HTMLResponse:
        return HTMLResponse((WEB / "login.html").read_text())

    @app.post("/login", include_in_schema=False)
    async def login(request: Request) -> Response:
        if settings.token is None:
            return RedirectResponse("/", status_code=303)
        client = client_of(request.scope)
        if throttle.blocked(client):
            return _login_page(TOO_MANY, 429)
        form = await request.form()
        given = form.get("token")
        if not isinstance(given, str) or not token_ok(settings.token, given):
            throttle.failed(client)
            return _login_page("Wrong token.", 401)
        reply = RedirectResponse("/", status_code=303)
        reply.set_cookie(COOKIE, sessions.new(), max_age=int(SESSION_S), httponly=True, samesite="strict")
        return reply

    @app.post("/logout", include_in_schema=False)
    def logout(request: Request) -> Response:
        sessions.end(session_cookie({"cookie": request.headers.get("cookie", "")}))
        reply = RedirectResponse("/login", status_code=303)
        reply.delete_cookie(COOKIE, httponly=True, samesite="strict")
        return reply


def _login_page(error: str, status: int) -> HTMLResponse:
    page = (WEB / "login.html").read_text().replace("<!--error-->", f'<p class="error">{error}</p>')
    return HTMLResponse(page, status_code=status)


def lock_data_folder(folder: Path) -> IO[str]:
    """An exclusive lock on ``folder/server.lock``, held while the returned file stays open (the server's life): a
    second server on the same folder, or a folder or database this process cannot write, is one clear error."""
    folder = Path(folder)
    try:
        folder.mkdir(parents=True, exist_ok=True)
        handle = open(folder / LOCK_FILE, "a+")  # noqa: SIM115 (held open for the server's life)
    except OSError as exc:
        raise ConfigError(f"--data {folder}: cannot write there ({exc.strerror or type(exc).__name__})") from None
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        handle.close()
        raise ConfigError(
            f"--data {folder}: another oddsight server uses this folder; stop it or give another --data"
        ) from None
    _check_writable(folder / "oddsight.db")
    return handle


def _check_writable(database: Path) -> None:
    if not database.exists():
        return
    try:
        con = sqlite3.connect(database, timeout=5, isolation_level=None)
        try:
            con.execute("BEGIN IMMEDIATE")
            con.execute("ROLLBACK")
        finally:
            con.close()
    except sqlite3.Error as exc:
        raise ConfigError(f"--data: {database} cannot be written ({exc})") from None


def is_local(host: str) -> bool:
    return host in LOCAL_HOSTS
