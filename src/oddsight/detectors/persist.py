"""A versioned, pickle-free file format for fitted detectors (``.oddsight``).

The file is a zip with ``manifest.json`` (format, version, detector, parameters, encoder id,
sampling, library version, scalars) and ``arrays.npz`` (read with ``allow_pickle=False``).
"""

from __future__ import annotations

import inspect
import io
import json
import zipfile
from datetime import datetime, timezone
from pathlib import Path

import numpy as np

from oddsight.atomic import atomic_file, dumps
from oddsight.detectors.oneclass import OneClassDetector
from oddsight.errors import ConfigError, ModelFileError
from oddsight.version import __version__

FORMAT = "oddsight-detector"
VERSION = 1


def save_detector(detector: OneClassDetector, path: Path) -> Path:
    if not hasattr(detector, "mean_"):
        raise ModelFileError("cannot save a detector that was not fitted")
    manifest = {
        "format": FORMAT,
        "version": VERSION,
        "detector": detector.name,
        "params": detector.get_params(),
        "state": detector.state_scalars(),
        "encoder": detector.model_id_,
        "sampling": detector.sampling_key_,
        "oddsight_version": __version__,
        "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
    }
    buffer = io.BytesIO()
    np.savez_compressed(buffer, **detector.state_arrays())
    with atomic_file(path) as tmp, zipfile.ZipFile(tmp, "w", compression=zipfile.ZIP_STORED) as zf:
        zf.writestr("manifest.json", dumps(manifest, indent=2))
        zf.writestr("arrays.npz", buffer.getvalue())
    return path


def load_detector(path: Path, expect_encoder: str | None = None) -> OneClassDetector:
    """Load a fitted detector; refuse files of another format, version or encoder."""
    manifest, arrays_raw = _read(path, with_arrays=True)
    if manifest.get("format") != FORMAT:
        raise ModelFileError(f"{path}: not an oddsight detector file")
    if manifest.get("version") != VERSION:
        raise ModelFileError(
            f"{path}: detector format version {manifest.get('version')} is not supported (need {VERSION})"
        )
    try:
        with np.load(io.BytesIO(arrays_raw), allow_pickle=False) as data:
            arrays = {k: data[k] for k in data.files}
    except (ValueError, OSError, EOFError, zipfile.BadZipFile) as exc:
        raise ModelFileError(f"{path}: detector arrays are unreadable ({type(exc).__name__})") from None
    if manifest.get("detector") != OneClassDetector.name:
        raise ModelFileError(f"{path}: unknown detector {manifest.get('detector')!r}")
    if not isinstance(manifest.get("encoder"), str):
        raise ModelFileError(f"{path}: detector file names no encoder")
    if expect_encoder is not None and manifest["encoder"] != expect_encoder:
        raise ModelFileError(
            f"{path}: fitted on {manifest['encoder']} features, but this run uses {expect_encoder}; "
            f"use --model {manifest['encoder']} or refit"
        )
    try:
        detector = _build(manifest, arrays)
    except (TypeError, AttributeError, KeyError, ValueError, ConfigError) as exc:
        raise ModelFileError(f"{path}: detector file is invalid ({exc})") from None
    return detector


_STATE = {"model_id_", "sampling_key_", "threshold_", "n_train_", "grid_", "intercept_", "gamma_"}
_ARRAYS = {"mean_", "scale_", "support_vectors_", "dual_coef_", "train_"}


def _build(manifest: dict, arrays: dict[str, np.ndarray]) -> OneClassDetector:
    """A detector from a file's parts, checked whole: only known fields, then types, shapes, finite values."""
    params, state = manifest.get("params"), manifest.get("state")
    if not isinstance(params, dict) or not isinstance(state, dict):
        raise ValueError("params and state must be objects")
    known = set(inspect.signature(OneClassDetector.__init__).parameters) - {"self"}
    unknown = (set(params) - known) | (set(state) - _STATE) | (set(arrays) - _ARRAYS)
    if unknown:
        raise ValueError(f"unknown fields {sorted(unknown)}")
    detector = OneClassDetector(**params)
    detector.grid_ = 0  # files from before cell features have none
    for name, value in {**state, **arrays}.items():
        setattr(detector, name, value)
    missing = set(detector.state_arrays()) - set(arrays)
    if missing:
        raise ValueError(f"lacks {sorted(missing)}")
    detector.check_state()
    if detector.model_id_ != manifest["encoder"]:
        raise ValueError(f"state says {detector.model_id_}, manifest says {manifest['encoder']}")
    return detector


def peek_encoder(path: Path) -> str:
    """The encoder id a detector file was fitted with (to pick the model before loading)."""
    encoder = _read(path, with_arrays=False)[0].get("encoder")
    if not isinstance(encoder, str):
        raise ModelFileError(f"{path}: detector file names no encoder")
    return encoder


def _read(path: Path, *, with_arrays: bool) -> tuple[dict, bytes]:
    """The file's manifest (a JSON object, else a :class:`ModelFileError`) and, when asked, its arrays' bytes."""
    if not path.is_file():
        raise ModelFileError(f"{path}: no such detector file")
    try:
        with zipfile.ZipFile(path) as zf:
            manifest = json.loads(zf.read("manifest.json"))
            arrays = zf.read("arrays.npz") if with_arrays else b""
    except (zipfile.BadZipFile, KeyError, ValueError, OSError) as exc:
        raise ModelFileError(f"{path}: not an oddsight detector file ({type(exc).__name__})") from None
    if not isinstance(manifest, dict):
        raise ModelFileError(f"{path}: not an oddsight detector file (its manifest is not a JSON object)")
    return manifest, arrays
