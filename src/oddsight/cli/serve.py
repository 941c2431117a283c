"""``oddsight serve`` (the HTTP API, dashboard and cameras) and ``oddsight import`` (CLI results into its store)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from oddsight.cli.app import app
from oddsight.cli.common import Errors, warn

DataOpt = Annotated[
    Path | None, typer.Option("--data", help="The server's data folder (default $ODDSIGHT_HOME/server).")
]


@app.command()
def serve(
    host: Annotated[str, typer.Option("--host", help="Address to bind; anything but this machine needs a token.")] = (
        "127.0.0.1"
    ),
    port: Annotated[int, typer.Option("--port", help="TCP port.")] = 8321,
    data: DataOpt = None,
    media: Annotated[
        list[Path] | None,
        typer.Option("--media", help="A folder whose videos may be registered; repeatable.", metavar="DIR"),
    ] = None,
    workers: Annotated[int, typer.Option("--workers", help="Worker processes that run jobs.")] = 1,
    token: Annotated[
        str | None,
        typer.Option("--token", envvar="ODDSIGHT_TOKEN", show_envvar=True, help="Require this token (API and UI)."),
    ] = None,
    max_upload_mb: Annotated[float, typer.Option("--max-upload-mb", help="Largest upload accepted, MB.")] = 2048.0,
    allowed_host: Annotated[
        list[str] | None,
        typer.Option(
            "--allowed-host",
            help="Another name clients use for this server (Host header); repeatable.",
            metavar="HOST",
        ),
    ] = None,
    llm_endpoint: Annotated[
        list[str] | None,
        typer.Option(
            "--llm-endpoint",
            help="An OpenAI-compatible base URL analyses may use (and that gets $OPENAI_API_KEY); repeatable. "
            "Also $ODDSIGHT_LLM_ENDPOINTS.",
            metavar="URL",
        ),
    ] = None,
    retention: Annotated[
        str | None,
        typer.Option(
            "--retention",
            help="Disk limits: each camera's 'clips=2GB/30d,snapshots=500MB,logs=100MB,events=90d' (the defaults), "
            "and 'uploads=50GB/90d,results=180d' (no limit by default).",
        ),
    ] = None,
    ray: Annotated[
        str | None,
        typer.Option(
            "--ray",
            help="Run each camera's monitor on this Ray cluster (ADDRESS as `ray start` printed it, or 'auto'); "
            "the data folder must be at the same path on every node.",
        ),
    ] = None,
) -> None:
    """Run the HTTP API (under /api/v1, docs at /docs) and the dashboard, with jobs in worker processes."""
    with Errors():
        from oddsight.extras import require_extra

        require_extra("server", "oddsight serve")
        if ray is not None:
            require_extra("ray", "oddsight serve --ray")
        import os

        from oddsight.errors import ConfigError
        from oddsight.live.retention import RETENTION_ENV, Retention
        from oddsight.llm.openai_http import ENDPOINTS_ENV
        from oddsight.server.app import Settings, create_app, is_local, lock_data_folder
        from oddsight.server.store import default_data_dir
        from oddsight.validate import integer, number

        integer("--port", port, low=1)
        number("--max-upload-mb", max_upload_mb, low=0, low_open=True)
        if not is_local(host) and not token:
            raise ConfigError(f"--host {host} lets other machines in: set --token or $ODDSIGHT_TOKEN")
        folder = data or default_data_dir()
        lock = lock_data_folder(folder)  # noqa: F841 (held until the server stops)
        settings = Settings(
            data=folder,
            media=media or [],
            token=token,
            workers=workers,
            max_upload_mb=max_upload_mb,
            host=host,
            allowed_hosts=allowed_host or [],
            llm_endpoints=llm_endpoint or [],
            retention=retention,
            ray=ray,
        )
        Retention.parse(retention)  # a bad spec fails here, not in every camera process
        os.environ[RETENTION_ENV] = retention or ""
        if ray is not None:
            from oddsight.cluster.ray_runner import connect

            connect(ray)  # before the server starts: a wrong address is one clear error
        server_app = create_app(settings)
        os.environ[ENDPOINTS_ENV] = ",".join(settings.llm_endpoints)  # workers and cameras: the key goes only there
        import uvicorn

        shown = f"[{host}]" if ":" in host else host
        typer.echo(f"oddsight: serving http://{shown}:{port}  (API /api/v1, docs /docs, data {folder})", err=True)
        uvicorn.run(server_app, host=host, port=port, log_level="warning", access_log=False)


@app.command("import")
def import_(
    path: Annotated[Path, typer.Argument(help="An `oddsight detect --out` folder, or one result .json file.")],
    data: DataOpt = None,
) -> None:
    """Import results the CLI wrote into the server's store (the dashboard shows them)."""
    with Errors():
        from oddsight.errors import InputError
        from oddsight.server.imports import import_results
        from oddsight.server.store import Store, default_data_dir

        if not path.exists():
            raise InputError(f"{path}: no such file or folder")
        report = import_results(Store(data or default_data_dir()), path)
        typer.echo(f"imported {report['imported']} result(s), {report['skipped']} already there")
        for name in report["unreadable"]:
            warn(f"{name}: not an oddsight result; skipped")
