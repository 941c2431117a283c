"""Load a named model into a backend object. Heavy libraries are imported here, lazily."""

from __future__ import annotations

import logging
import os
from pathlib import Path

from oddsight.errors import ConfigError, ModelFileError, ModelUnavailableError, OutputError
from oddsight.extras import require_extra
from oddsight.models.base import ImageEncoder, TextEncoder
from oddsight.models.registry import (
    ModelSpec,
    Resolved,
    cache_location,
    copy_tree,
    get_spec,
    hub_snapshot,
    is_prepared,
    resolve,
    verify_pip_file,
    write_recipe,
)


def require(module: str, extra: str) -> None:
    """Fail with the extra to install when an optional backend library is missing."""
    require_extra(extra, "this model", (module,))


def load_image_encoder(
    model_id: str, path: str | Path | None = None, *, device: str = "auto", download: bool = True
) -> ImageEncoder:
    spec = get_spec(model_id)
    if spec.role not in ("image", "image-text"):
        raise ConfigError(f"{model_id} is a {spec.role} model, not an image encoder")
    if spec.backend == "hf-clip":
        require("transformers", "transformers")  # before looking for weights: the missing extra is the news
    resolved = resolve(spec, path, download=download)
    if spec.backend == "dinov2":
        onnx_file = _dinov2_onnx(resolved)
        if onnx_file is not None:
            from oddsight.models.onnx_dinov2 import OnnxDinov2

            return OnnxDinov2(spec, onnx_file, device=device)
        require("transformers", "transformers")
        from oddsight.models.hf_vision import HfDinov2

        return HfDinov2(spec, _folder(resolved), device=device)
    if spec.backend == "hf-clip":
        return load_image_text_model(spec, resolved, device)
    if spec.backend == "motion":
        from oddsight.models.motion import MotionGrid

        return MotionGrid(spec)
    raise ConfigError(f"model {model_id} has unknown backend {spec.backend!r}")


def load_text_encoder(
    model_id: str, path: str | Path | None = None, *, device: str = "auto", download: bool = True
) -> TextEncoder:
    spec = get_spec(model_id)
    resolved = resolve(spec, path, download=download)
    if spec.backend == "hf-clip":
        return load_image_text_model(spec, resolved, device)
    if spec.backend == "hf-text":
        require("transformers", "transformers")
        from oddsight.models.hf_text import HfTextEncoder

        return HfTextEncoder(spec, _folder(resolved), device=device)
    raise ConfigError(f"{model_id} is a {spec.role} model, not a text encoder")


def load_image_text_model(spec: ModelSpec, resolved: Resolved, device: str):
    require("transformers", "transformers")
    from oddsight.models.hf_vision import HfImageText

    return HfImageText(spec, _folder(resolved), device=device)


def _folder(resolved: Resolved) -> Path:
    if not resolved.location.is_dir() or not (resolved.location / "config.json").exists():
        raise ModelFileError(f"{resolved.location}: expected a model folder with config.json")
    return resolved.location


def _dinov2_onnx(resolved: Resolved) -> Path | None:
    """The backbone ONNX file for DINOv2, deriving it into the cache from the pip file once."""
    loc = resolved.location
    if loc.is_dir():
        return loc / "model.onnx" if (loc / "model.onnx").exists() else None
    if loc.suffix != ".onnx":
        raise ModelFileError(f"{loc}: expected an .onnx file or a model folder")
    if resolved.kind == "path":
        return loc  # a user's own backbone export, used as is
    verify_pip_file(resolved.spec, resolved)
    target = cache_location(resolved.spec)
    prepare_cached(resolved, target)
    return target / "model.onnx"


def prepare_cached(resolved: Resolved, target: Path) -> None:
    """Make ``target`` a loadable copy of ``resolved``: an ONNX backbone or a model folder."""
    target.mkdir(parents=True, exist_ok=True)
    loc = resolved.location
    if resolved.spec.role == "llm":
        from oddsight.llm.gguf import prepare_gguf

        prepare_gguf(resolved, target)
        return
    if loc.is_dir():
        if loc.resolve() != target.resolve():
            copy_tree(loc, target)
        return
    if is_prepared(resolved.spec, target):
        return
    source = next(s for s in resolved.spec.sources if s["kind"] == "pip")
    derive_backbone(loc, target / "model.onnx", source["onnx_output"], quantize=resolved.spec.extra.get("quantize"))
    write_recipe(resolved.spec, target)


def derive_backbone(src: Path, dst: Path, output: str, quantize: str | None = None) -> None:
    """Cut the ONNX graph at ``output`` (the backbone's last hidden state), with any input size,
    and optionally quantize its weights to int8 (dynamic quantization, as ONNX Runtime does it)."""
    import onnx
    from onnx import utils

    tmp = dst.with_name(f".{dst.stem}.{os.getpid()}.onnx")
    tmp_q = dst.with_name(f".{dst.stem}.{os.getpid()}.q.onnx")
    try:
        utils.extract_model(str(src), str(tmp), ["input_image"], [output])
        model = onnx.load(str(tmp))
        dims = model.graph.input[0].type.tensor_type.shape.dim
        for i, name in ((2, "height"), (3, "width")):
            dims[i].ClearField("dim_value")
            dims[i].dim_param = name
        onnx.save(model, str(tmp))
        if quantize == "int8":
            from onnxruntime.quantization import QuantType, quantize_dynamic

            logging.disable(logging.WARNING)  # its advice to pre-process is for static quantization
            try:
                quantize_dynamic(str(tmp), str(tmp_q), weight_type=QuantType.QInt8)
            finally:
                logging.disable(logging.NOTSET)
            tmp_q.replace(tmp)
        tmp.replace(dst)
    except Exception as exc:
        tmp.unlink(missing_ok=True)
        tmp_q.unlink(missing_ok=True)
        raise ModelFileError(f"{src}: cannot derive the DINOv2 backbone ({type(exc).__name__}: {exc})") from None


def pull(spec: ModelSpec, to: Path | None = None) -> Path:
    """Put ``spec``'s weights into the cache (or into ``to``), downloading from the hub if needed."""
    target = to if to is not None else cache_location(spec)
    try:
        target.mkdir(parents=True, exist_ok=True)
    except OSError as exc:  # a file where a folder should be, no permission, a full disk: one line
        raise OutputError(f"{target}: cannot make this folder ({exc.strerror or type(exc).__name__})") from None
    try:
        resolved = resolve(spec)
    except ModelUnavailableError:
        repo = spec.hub_repo
        if repo is None:
            raise
        file = next((s.get("file") for s in spec.sources if s["kind"] == "hub"), None)
        resolved = Resolved(spec, "hub", hub_snapshot(repo, download=True, file=file))  # type: ignore[arg-type]
    prepare_cached(resolved, target)
    return target
