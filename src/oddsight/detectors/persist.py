"""A versioned, pickle-free file format for fitted detectors (``.oddsight``).

The file is a zip with ``manifest.json`` (format, version, detector, parameters, encoder id,
sampling, library version, scalars) and ``arrays.npz`` (read with ``allow_pickle=False``).
"""

from __future__ import annotations

import io
import json
import zipfile
from datetime import datetime, timezone
from pathlib import Path

import numpy as np

from oddsight.detectors.oneclass import OneClassDetector
from oddsight.errors import ModelFileError
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
    tmp = path.with_name(f".{path.name}.tmp")
    with zipfile.ZipFile(tmp, "w", compression=zipfile.ZIP_STORED) as zf:
        zf.writestr("manifest.json", json.dumps(manifest, indent=2))
        zf.writestr("arrays.npz", buffer.getvalue())
    tmp.replace(path)
    return path


def load_detector(path: Path, expect_encoder: str | None = None) -> OneClassDetector:
    """Load a fitted detector; refuse files of another format, version or encoder."""
    if not path.exists():
        raise ModelFileError(f"{path}: no such detector file")
    try:
        with zipfile.ZipFile(path) as zf:
            manifest = json.loads(zf.read("manifest.json"))
            arrays_raw = zf.read("arrays.npz")
    except (zipfile.BadZipFile, KeyError, ValueError, OSError) as exc:
        raise ModelFileError(f"{path}: not an oddsight detector file ({type(exc).__name__})") from None
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
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
    if expect_encoder is not None and manifest["encoder"] != expect_encoder:
        raise ModelFileError(
            f"{path}: fitted on {manifest['encoder']} features, but this run uses {expect_encoder}; "
            f"use --model {manifest['encoder']} or refit"
        )
    try:
        detector = OneClassDetector(**manifest["params"])
        for name, value in manifest["state"].items():
            setattr(detector, name, value)
        for name, value in arrays.items():
            setattr(detector, name, value)
        missing = set(detector.state_arrays()) - set(arrays)
    except (TypeError, AttributeError, KeyError) as exc:
        raise ModelFileError(f"{path}: detector file is incomplete ({exc})") from None
    if missing:
        raise ModelFileError(f"{path}: detector file lacks {sorted(missing)}")
    return detector


def peek_encoder(path: Path) -> str:
    """The encoder id a detector file was fitted with (to pick the model before loading)."""
    try:
        with zipfile.ZipFile(path) as zf:
            return str(json.loads(zf.read("manifest.json"))["encoder"])
    except FileNotFoundError:
        raise ModelFileError(f"{path}: no such detector file") from None
    except (zipfile.BadZipFile, KeyError, ValueError, OSError) as exc:
        raise ModelFileError(f"{path}: not an oddsight detector file ({type(exc).__name__})") from None
