"""Optional extras (``pip install 'oddsight[NAME]'``): which modules each brings, and one clear error when absent."""

from __future__ import annotations

import importlib.util

from oddsight.errors import ModelUnavailableError

EXTRAS: dict[str, tuple[str, ...]] = {
    "transformers": ("transformers", "torch"),
    "llm": ("llama_cpp", "transformers", "torch"),
    "live": ("paho",),
    "ray": ("ray",),
    "server": ("fastapi", "uvicorn", "multipart", "plotly", "fastapi_offline"),
}


def require_extra(extra: str, what: str, modules: tuple[str, ...] | None = None) -> None:
    """Raise one :class:`ModelUnavailableError` naming ``extra`` when any of its ``modules`` is missing."""
    missing = [m for m in (modules or EXTRAS[extra]) if importlib.util.find_spec(m) is None]
    if missing:
        raise ModelUnavailableError(
            f"{what} needs the '{extra}' extra (missing: {', '.join(missing)}): pip install 'oddsight[{extra}]'"
        )
