"""Named model specs (data in ``specs.json``) and where to find each model's weights.

Sources are tried in order: an explicit path, oddsight's cache, a pip package, the hub.
Resolving never downloads; :func:`pull` does.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import os
import shutil
from dataclasses import dataclass, field
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any

from oddsight.atomic import atomic_file
from oddsight.errors import ConfigError, ModelFileError, ModelUnavailableError
from oddsight.paths import models_dir


@dataclass(frozen=True)
class ModelSpec:
    id: str
    role: str  # "image" | "image-text" | "text" | "llm"
    backend: str
    description: str
    licence: str
    sources: tuple[dict[str, Any], ...]
    input_size: int | None = None
    mean: tuple[float, ...] | None = None
    std: tuple[float, ...] | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def fingerprint(self) -> str:
        """A short hash of everything that shapes this model's outputs (sources, preprocessing, variant)."""
        recipe = {
            "backend": self.backend,
            "sources": self.sources,
            "input_size": self.input_size,
            "mean": self.mean,
            "std": self.std,
            "extra": self.extra,
        }
        return hashlib.sha256(json.dumps(recipe, sort_keys=True).encode()).hexdigest()[:10]

    @property
    def hub_repo(self) -> str | None:
        return next((s["repo"] for s in self.sources if s["kind"] == "hub"), None)


@dataclass(frozen=True)
class Resolved:
    """Where a model was found: ``kind`` is path|cache|pip|hub, ``location`` a file or folder."""

    spec: ModelSpec
    kind: str
    location: Path


_SPEC_FIELDS = {"role", "backend", "description", "licence", "sources", "input_size", "mean", "std"}


@cache
def _load_specs() -> dict[str, ModelSpec]:
    raw = json.loads(resources.files("oddsight.models").joinpath("specs.json").read_text())
    specs = {}
    for model_id, d in raw.items():
        specs[model_id] = ModelSpec(
            id=model_id,
            role=d["role"],
            backend=d["backend"],
            description=d["description"],
            licence=d["licence"],
            sources=tuple(d["sources"]),
            input_size=d.get("input_size"),
            mean=tuple(d["mean"]) if "mean" in d else None,
            std=tuple(d["std"]) if "std" in d else None,
            extra={k: v for k, v in d.items() if k not in _SPEC_FIELDS},
        )
    return specs


def cell_grid(model_id: str) -> int | None:
    """The side of the cell grid a model's features are laid out on (cell-major), or None for one vector a frame."""
    spec = _load_specs().get(model_id)
    return int(spec.extra["grid"]) if spec is not None and "grid" in spec.extra else None


def list_specs() -> list[ModelSpec]:
    return list(_load_specs().values())


def get_spec(model_id: str) -> ModelSpec:
    specs = _load_specs()
    if model_id not in specs:
        raise ConfigError(f"unknown model {model_id!r}; known: {', '.join(specs)} (see `oddsight models list`)")
    return specs[model_id]


def cache_location(spec: ModelSpec) -> Path:
    return models_dir() / spec.id


def _pip_location(source: dict[str, Any]) -> Path | None:
    if source["kind"] == "pip-parts":
        return _first_part(source)
    found = importlib.util.find_spec(source["module"])
    if found is None or not found.submodule_search_locations:
        return None
    if "file" in source:
        path = Path(next(iter(found.submodule_search_locations))) / source["file"]
        return path if path.exists() else None
    module = importlib.import_module(source["module"])
    return Path(getattr(module, source["function"])())


def _first_part(source: dict[str, Any]) -> Path | None:
    """The first of a model's byte-split pip parts, when every part is installed."""
    if any(importlib.util.find_spec(m) is None for m in source["modules"]):
        return None
    return part_paths(source)[0]


def part_paths(source: dict[str, Any]) -> list[Path]:
    return [Path(getattr(importlib.import_module(m), source["function"])()) for m in source["modules"]]


def hub_snapshot(repo: str, download: bool, file: str | None = None) -> Path | None:
    if importlib.util.find_spec("huggingface_hub") is None:
        if download:
            raise ModelUnavailableError(
                f"downloading {repo} needs huggingface-hub: pip install 'oddsight[transformers]'"
            )
        return None
    from huggingface_hub import hf_hub_download, snapshot_download

    try:
        if file is not None:
            return Path(hf_hub_download(repo, file, local_files_only=not download))
        return Path(snapshot_download(repo, local_files_only=not download))
    except Exception as exc:  # LocalEntryNotFoundError offline, HTTP/connection errors online
        if download:
            raise ModelUnavailableError(f"cannot download {repo} from the hub: {type(exc).__name__}") from None
        return None


def resolve(spec: ModelSpec, path: str | Path | None = None, *, download: bool = False) -> Resolved:
    """Find ``spec``'s weights. With ``download`` the hub is asked as a last resort."""
    if path is not None:
        p = Path(path)
        if not p.exists():
            raise ModelUnavailableError(f"model path {p} does not exist")
        return Resolved(spec, "path", p)
    cached = cache_location(spec)
    if is_prepared(spec, cached):
        return Resolved(spec, "cache", cached)
    for source in spec.sources:
        if source["kind"] == "builtin":  # computed here, no weights
            return Resolved(spec, "builtin", Path("."))
        if source["kind"] in ("pip", "pip-parts"):
            loc = _pip_location(source)
            if loc is not None:
                return Resolved(spec, "pip", loc)
        elif source["kind"] == "hub":
            try:
                loc = hub_snapshot(source["repo"], download and not hub_offline(), source.get("file"))
            except ModelUnavailableError as exc:  # the same help as `models list` and the Models page give
                raise ModelUnavailableError(f"{unavailable_message(spec)} ({exc})") from None
            if loc is not None:
                return Resolved(spec, "hub", loc)
    raise ModelUnavailableError(unavailable_message(spec))


RECIPE_FILE = "oddsight-recipe.json"


def is_prepared(spec: ModelSpec, folder: Path) -> bool:
    """True when ``folder`` holds this spec's model: a folder model, or a derived ONNX file whose
    recipe matches the spec now (a stale derivation from another variant is never used)."""
    if (folder / "config.json").exists():
        return True
    recipe = folder / RECIPE_FILE
    if not any((folder / f).exists() for f in ("model.onnx", "model.gguf")) or not recipe.exists():
        return False
    try:
        return json.loads(recipe.read_text()).get("fingerprint") == spec.fingerprint
    except (OSError, ValueError):
        return False


def write_recipe(spec: ModelSpec, folder: Path) -> None:
    (folder / RECIPE_FILE).write_text(json.dumps({"model": spec.id, "fingerprint": spec.fingerprint}))


def unavailable_message(spec: ModelSpec) -> str:
    hints = [f"`oddsight models pull {spec.id}` on a machine with network (then copy {cache_location(spec)})"]
    hints += [s["install"] for s in spec.sources if s["kind"] in ("pip", "pip-parts")]
    hints.append("or pass --model-path to a local copy")
    return f"model {spec.id} is not available here; get it with " + "; ".join(hints)


def hub_offline() -> bool:
    return os.environ.get("HF_HUB_OFFLINE", "0") not in ("", "0") or os.environ.get("ODDSIGHT_OFFLINE") == "1"


def availability(spec: ModelSpec) -> str:
    """A short word for ``models list``: where it would load from now, or 'missing'."""
    try:
        return resolve(spec).kind
    except ModelUnavailableError:
        return "missing"


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def verify_pip_file(spec: ModelSpec, resolved: Resolved) -> None:
    """Check a pip-shipped file against the spec's sha256 (once per file, memoised next to the cache)."""
    source = next((s for s in spec.sources if s["kind"] == "pip" and "sha256" in s), None)
    if source is None or resolved.kind != "pip":
        return
    stamp = cache_location(spec) / ".verified"
    key = f"{resolved.location}:{resolved.location.stat().st_size}:{resolved.location.stat().st_mtime_ns}"
    if stamp.exists() and stamp.read_text() == key:
        return
    if sha256_file(resolved.location) != source["sha256"]:
        raise ModelFileError(f"{resolved.location}: sha256 does not match {spec.id}'s; reinstall {source['install']}")
    stamp.parent.mkdir(parents=True, exist_ok=True)
    stamp.write_text(key)


def copy_tree(src: Path, dst: Path) -> None:
    for item in src.iterdir():
        if item.name.startswith("."):
            continue
        if item.is_dir():
            copy_tree(item, dst / item.name)
        else:
            with atomic_file(dst / item.name) as tmp:  # a pull cut short never leaves half a weight file
                shutil.copy2(item.resolve(), tmp)
