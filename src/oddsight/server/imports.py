"""Import results the CLI wrote (``oddsight detect --out DIR``) into the store, so they show in the dashboard."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

from oddsight.errors import InputError
from oddsight.server.store import Store


def _digest(document: dict[str, Any]) -> str:
    return hashlib.sha256(json.dumps(document, sort_keys=True).encode()).hexdigest()


def _is_result(document: Any) -> bool:
    keys = {"schema_version", "video", "method", "frame_scores", "events"}
    return isinstance(document, dict) and keys <= set(document) and isinstance(document["video"], dict)


def _local_video(source: str) -> Path | None:
    path = Path(source)
    return path.resolve() if source and path.exists() else None


def import_results(store: Store, path: Path, video_path: Callable[[str], Path | None] = _local_video) -> dict[str, Any]:
    """Every result JSON in ``path`` (a folder, or one file). Its video is registered when ``video_path`` (the
    server's: only under --media) finds the file it names; a result already in the store is skipped. Returns
    counts and the new result ids."""
    files = sorted(path.glob("*.json")) if path.is_dir() else [path]
    if not files:
        raise InputError(f"{path}: no result .json files (write them with `oddsight detect --out {path}`)")
    added, skipped, bad = [], 0, []
    for file in files:
        try:
            document = json.loads(file.read_text())
        except (OSError, UnicodeDecodeError, json.JSONDecodeError):
            bad.append(file.name)
            continue
        if not _is_result(document):
            bad.append(file.name)
            continue
        source = video_path(str(document["video"].get("source", "")))
        video = store.video_by_path(str(source)) if source is not None else None
        if video is None and source is not None:
            info = {k: document["video"].get(k) for k in ("width", "height", "fps", "frame_count", "duration_s")}
            info["codec"] = document["video"].get("codec")
            size = source.stat().st_size if source.is_file() else None
            video = store.add_video(source.name, str(source), "import", info, size)
        video_id = video["id"] if video else None
        digest = _digest(document)
        known = {_digest(store.result(r["id"])["document"]) for r in store.results(video_id)} if video_id else set()
        if digest in known:
            skipped += 1
            continue
        added.append(store.add_result(document, {}, video_id))
    return {"imported": len(added), "skipped": skipped, "unreadable": bad, "result_ids": added}
