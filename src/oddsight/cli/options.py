"""Each command's detection options, generated from the one declaration (:mod:`oddsight.option_fields`)."""

from __future__ import annotations

import functools
import inspect
import typing
from collections.abc import Callable
from typing import Annotated, Any

import typer

from oddsight.option_fields import BY_NAME

Command = Callable[..., Any]


def option_parameter(name: str, default: Any = inspect.Parameter.empty) -> inspect.Parameter:
    """The Typer parameter of option ``name`` (``default`` overrides the declared one for one command)."""
    field = BY_NAME[name]
    names = (field.flag, field.short) if field.short else (field.flag,)
    flag = field.type is bool  # a flag takes no value: no "<bool>" after it in --help
    repeated = typing.get_origin(field.type) is list or list in map(typing.get_origin, typing.get_args(field.type))
    metavar = "" if flag else "TEXT" if repeated else None  # not "<list[str]>"
    extra = {"metavar": metavar} if metavar is not None else {}
    option = typer.Option(*names, help=field.help, show_default=not flag, **extra)
    annotation = Annotated[field.type, option]
    value = field.default if default is inspect.Parameter.empty else default
    return inspect.Parameter(name, inspect.Parameter.KEYWORD_ONLY, default=value, annotation=annotation)


def with_options(names: tuple[str, ...], **defaults: Any) -> Callable[[Command], Command]:
    """Give a command the detection options ``names``; it receives their values as one dict, ``options``."""

    def wrap(func: Command) -> Command:
        hints = typing.get_type_hints(func, include_extras=True)
        own = [
            p.replace(annotation=hints.get(p.name, p.annotation), kind=inspect.Parameter.KEYWORD_ONLY)
            for p in inspect.signature(func).parameters.values()
            if p.name != "options"
        ]

        @functools.wraps(func)
        def command(**values: Any) -> Any:
            options = {n: values.pop(n) for n in names}
            return func(**values, options=options)

        extra = [option_parameter(n, defaults.get(n, inspect.Parameter.empty)) for n in names]
        command.__signature__ = inspect.Signature(own + extra)  # type: ignore[attr-defined]
        command.__annotations__ = {}  # Typer reads the signature above
        del command.__wrapped__  # type: ignore[attr-defined]
        return command

    return wrap


JsonOpt = Annotated[bool, typer.Option("--json", help="Print results as JSON on stdout.", metavar="")]
QuietOpt = Annotated[bool, typer.Option("--quiet", "-q", help="No progress bars or summaries.", metavar="")]
RayOpt = Annotated[
    str | None,
    typer.Option("--ray", help="Spread the videos over a Ray cluster: auto (a local `ray start --head`) or ADDRESS."),
]
