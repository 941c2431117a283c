"""Detection options from a client, checked at submission (a 4xx, never a job that fails later): file options
held to --media, model endpoints to the operator's list, every value through ``DetectOptions``/``DetectConfig``."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from oddsight.errors import ConfigError
from oddsight.options import PATH_OPTIONS, DetectOptions
from oddsight.server.routes.deps import found, inside_media
from oddsight.server.settings import Settings
from oddsight.server.store import Store
from oddsight.server.trust import check_llm_endpoint


def path_options(settings: Settings, values: dict[str, Any]) -> None:
    """File options name files on the server: each must lie inside a --media root (or be a stored detector)."""
    for name in PATH_OPTIONS:
        if values.get(name) is not None:
            values[name] = str(inside_media(settings, values[name]))


def model_options(settings: Settings, values: dict[str, Any]) -> None:
    """``llm`` and ``captioner`` name an endpoint (``openai:URL#model``: one the operator allowed) or a local
    folder (``hf:FOLDER``: inside a --media root); a hub id (``hf:org/name``) that is no local path passes."""
    for name in ("llm", "captioner"):
        spec = values.get(name)
        if not isinstance(spec, str):
            continue
        if spec.startswith("openai:"):
            check_llm_endpoint(name, spec, settings.llm_endpoints)
        elif name == "captioner" and spec.startswith("hf:") and _local_folder(spec[3:]):
            values[name] = "hf:" + str(inside_media(settings, spec[3:]))


def _local_folder(source: str) -> bool:
    """Whether the captioner would read ``source`` as a folder on this machine rather than a hub id."""
    return source.startswith((".", "/", "~")) or ".." in source or source.count("/") != 1 or Path(source).exists()


def detection_options(
    store: Store, settings: Settings, values: dict[str, Any], methods: tuple[str, ...], detector_id: str | None
) -> dict[str, Any]:
    """``values`` (detection options by CLI name) checked and resolved; the options that differ from the
    defaults, as a job stores them. ``detector_id`` picks a fitted detector (then ``detector`` must be unset)."""
    if detector_id is not None:
        if values.get("detector"):
            raise ConfigError("give detector_id or detector, not both")
        values["detector"] = found(store.detector(detector_id), "detector", detector_id)["path"]
        values.setdefault("method", "oneclass")
    else:
        path_options(settings, values)
    model_options(settings, values)
    options = DetectOptions.parse(values)
    config = options.to_config(methods=methods)  # every value checked now, with the CLI's messages
    if config.method == "oneclass" and not config.detector_path:
        raise ConfigError("--method oneclass needs a detector: detector_id (fit one under /detectors) or detector")
    check_model(config)
    return options.changed()


def check_model(config: Any) -> None:
    """An unknown model fails at submission (a 4xx), not later in a job."""
    if config.model_path is None:
        from oddsight.models.registry import get_spec

        get_spec(config.model_id)


def option_values(body: DetectOptions, own: tuple[str, ...]) -> dict[str, Any]:
    """The detection options a client set in ``body`` (a ``DetectOptions`` with the route's ``own`` fields
    besides), without those fields."""
    return {k: v for k, v in body.model_dump(exclude_unset=True).items() if k not in own}
