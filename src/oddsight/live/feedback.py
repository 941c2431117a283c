"""Feedback per camera: "that was nothing" puts the event's frames into the camera's normal memory, so the
same scene does not raise an event again; "confirmed" keeps (or takes) them out of it.

Stored beside the camera's event log, pickle-free: ``<camera>/<event>.npz`` (the event's embeddings, written
when it ends), ``<camera>/normal/<event>.npy`` (those marked false alarms) and ``<camera>/feedback.jsonl``.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import numpy as np

from oddsight.atomic import atomic_file
from oddsight.errors import InputError, ModelFileError

VERDICTS = ("false-alarm", "confirmed")


def save_event_embeddings(folder: Path, event_id: str, embeddings: np.ndarray, times: np.ndarray) -> Path:
    path = folder / f"{event_id}.npz"
    with atomic_file(path) as tmp, open(tmp, "wb") as f:
        np.savez(f, embeddings=np.asarray(embeddings, np.float32), times=np.asarray(times, np.float64))
    return path


def find_event(clips: Path, event_id: str) -> Path:
    """The camera folder under ``clips`` that holds ``event_id``'s embeddings."""
    if not event_id or "/" in event_id or event_id.startswith("."):
        raise InputError(f"not an event id: {event_id!r}")
    found = sorted(clips.glob(f"*/{event_id}.npz"))
    if not found:
        raise InputError(f"no event {event_id} under {clips} (the id is in the watch log, e.g. events.jsonl)")
    return found[0].parent


def give_feedback(clips: Path, event_id: str, verdict: str) -> Path:
    """Record ``verdict`` for ``event_id``; returns the camera folder."""
    if verdict not in VERDICTS:
        raise InputError(f"feedback is one of {', '.join(VERDICTS)}, got {verdict!r}")
    folder = find_event(clips, event_id)
    normal = folder / "normal"
    target = normal / f"{event_id}.npy"
    if verdict == "false-alarm":
        normal.mkdir(exist_ok=True)
        embeddings = load_embeddings(folder / f"{event_id}.npz")
        with atomic_file(target) as tmp, open(tmp, "wb") as f:
            np.save(f, embeddings, allow_pickle=False)
    else:
        target.unlink(missing_ok=True)
    with open(folder / "feedback.jsonl", "a") as f:
        f.write(json.dumps({"event": event_id, "verdict": verdict, "time": round(time.time(), 3)}) + "\n")
    return folder


def load_embeddings(path: Path) -> np.ndarray:
    try:
        with np.load(path, allow_pickle=False) as data:
            return np.asarray(data["embeddings"], np.float32)
    except (OSError, ValueError, KeyError) as exc:
        raise ModelFileError(f"{path}: not an oddsight event file ({exc})") from None


def normal_memory(folder: Path) -> np.ndarray | None:
    """Every false alarm's embeddings of the camera, stacked; None when there are none."""
    arrays = []
    for path in sorted((folder / "normal").glob("*.npy")):
        try:
            arrays.append(np.asarray(np.load(path, allow_pickle=False), np.float32))
        except (OSError, ValueError):
            continue  # a file cut off mid-write is skipped, not fatal
    return np.concatenate(arrays) if arrays else None
