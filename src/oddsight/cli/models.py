"""``oddsight models list`` and ``oddsight models pull``."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from oddsight.cli.app import models_app
from oddsight.cli.common import Errors


def _source_name(source: dict) -> str:
    if source["kind"] == "builtin":
        return "built in"
    if source["kind"] == "pip-parts":
        return f"{source['packages'][0]}..{len(source['packages'])}"
    return source.get("package") or source.get("repo", "?")


@models_app.command("list")
def models_list(as_json: Annotated[bool, typer.Option("--json", help="Print as JSON.", metavar="")] = False) -> None:
    """Every known model: role, sources, licence, and whether it loads offline here now."""
    with Errors():
        from oddsight.models.registry import availability, list_specs

        rows = []
        for spec in list_specs():
            sources = ", ".join(_source_name(s) for s in spec.sources)
            where = availability(spec)
            rows.append(
                {
                    "id": spec.id,
                    "role": spec.role,
                    "available": where,
                    "sources": sources,
                    "licence": spec.licence,
                    "description": spec.description,
                }
            )
        if as_json:
            typer.echo(json.dumps(rows, indent=1))
            return
        typer.echo(f"{'model':<18} {'role':<11} {'offline now':<12} sources  [licence]")
        for r in rows:
            status = "yes (" + r["available"] + ")" if r["available"] != "missing" else "no"
            typer.echo(f"{r['id']:<18} {r['role']:<11} {status:<12} {r['sources']}  [{r['licence']}]")


@models_app.command("pull")
def models_pull(
    name: Annotated[str, typer.Argument(help="Model id from `oddsight models list`.")],
    to: Annotated[Path | None, typer.Option("--to", help="Copy into this folder instead of the cache.")] = None,
) -> None:
    """Fetch a model into the cache, or into a folder to carry to an air-gapped machine."""
    with Errors():
        from oddsight.models.loader import pull
        from oddsight.models.registry import get_spec

        target = pull(get_spec(name), to)
        typer.echo(f"{name} -> {target}")
        if to is not None:
            typer.echo(f"on the other machine: oddsight detect VIDEO --model {name} --model-path {target}")
