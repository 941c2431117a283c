"""What every command shares: one-line errors and warnings, the options -> config step, times as clocks."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, NoReturn

import typer

if TYPE_CHECKING:  # pragma: no cover
    from oddsight.config import DetectConfig


def fail(message: str, code: int = 1) -> NoReturn:
    error_line(message)
    raise typer.Exit(code)


def say(kind: str, message: str) -> None:
    """One line on stderr, with any credentials in URLs hidden."""
    from oddsight.redact import redact_urls

    typer.echo(f"oddsight: {kind}: {redact_urls(message)}", err=True)


def error_line(message: str) -> None:
    say("error", message)


def warn(message: str) -> None:
    say("warning", message)


class Errors:
    """Turn library errors into one line on stderr and a non-zero exit."""

    def __enter__(self) -> None:
        return None

    def __exit__(self, kind, exc, tb) -> bool:
        from oddsight.errors import OddsightError

        if exc is None or isinstance(exc, (typer.Exit, typer.Abort, SystemExit)):
            return False
        if isinstance(exc, OddsightError):
            fail(str(exc), exc.exit_code)
        if isinstance(exc, KeyboardInterrupt):
            fail("interrupted", 130)
        if isinstance(exc, MemoryError):
            fail("out of memory; try a lower --fps or --batch-size", 1)
        return False


def config_from(options: dict, methods: tuple[str, ...], *, progress: bool) -> DetectConfig:
    """The library's config for a command's detection options, through the one options model the API and the
    server's jobs use too (one set of messages); options a command lacks keep their defaults."""
    from oddsight.options import DetectOptions

    return DetectOptions.parse(options).to_config(progress=progress, methods=methods)


def clock(seconds: float) -> str:
    m, s = divmod(seconds, 60)
    h, m = divmod(int(m), 60)
    return f"{h:d}:{m:02d}:{s:04.1f}" if h else f"{m:02d}:{s:04.1f}"


def read_json(path: Path, option: str) -> object:
    """A JSON file an option names; a missing or malformed one is an :class:`InputError` naming the option."""
    import json

    from oddsight.errors import InputError

    try:
        return json.loads(path.read_text())
    except OSError as exc:
        raise InputError(f"{option} {path}: cannot read ({exc.strerror or type(exc).__name__})") from None
    except ValueError as exc:
        raise InputError(f"{option} {path}: not valid JSON ({exc})") from None
