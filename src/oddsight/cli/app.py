"""The ``oddsight`` Typer app and its entry point; each command lives in its own module of this package."""

from __future__ import annotations

import sys
from typing import Annotated

import typer

app = typer.Typer(
    help="oddsight: find the unusual in video. Scores every frame, finds events, says what and why.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
models_app = typer.Typer(help="List and fetch the models oddsight knows.", no_args_is_help=True)
app.add_typer(models_app, name="models")


def _print_version(value: bool) -> None:
    if value:
        from oddsight.version import __version__

        typer.echo(f"oddsight {__version__}")
        raise typer.Exit()


@app.callback()
def _main(
    version: Annotated[
        bool,
        typer.Option(
            "--version", callback=_print_version, is_eager=True, help="Print the version and exit.", metavar=""
        ),
    ] = False,
) -> None:
    """oddsight: find the unusual in video. Scores every frame, finds events, says what and why."""


def main() -> None:
    import signal

    if hasattr(signal, "SIGXFSZ"):  # past a file-size limit: an OSError (one message), not a killed process
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    try:
        app()
    except KeyboardInterrupt:  # pragma: no cover
        typer.echo("oddsight: error: interrupted", err=True)
        sys.exit(130)
