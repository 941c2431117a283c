"""Import results the CLI wrote (``oddsight detect --out DIR``) into the store, so they show in the dashboard."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

from oddsight.errors import InputError
from oddsight.server.store import Store


def _digest(document: dict[str, Any]) -> str:
    return hashlib.sha256(json.dumps(document, sort_keys=True).encode()).hexdigest()


def _is_result(document: Any) -> bool:
    return isinstance(document, dict) and {"schema_version", "video", "method", "frame_scores", "events"} <= set(
        document
    )


def import_results(store: Store, path: Path) -> dict[str, Any]:
    """Every result JSON in ``path`` (a folder, or one file). Its video is registered when the file is still
    there; a result already in the store is skipped. Returns counts and the new result ids."""
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
        source = Path(str(document["video"].get("source", "")))
        video = store.video_by_path(str(source.resolve())) if source.exists() else None
        if video is None and source.exists():
            info = {k: document["video"].get(k) for k in ("width", "height", "fps", "frame_count", "duration_s")}
            info["codec"] = document["video"].get("codec")
            size = source.stat().st_size if source.is_file() else None
            video = store.add_video(source.name, str(source.resolve()), "import", info, size)
        video_id = video["id"] if video else None
        digest = _digest(document)
        known = {_digest(store.result(r["id"])["document"]) for r in store.results(video_id)} if video_id else set()
        if digest in known:
            skipped += 1
            continue
        added.append(store.add_result(document, {}, video_id))
    return {"imported": len(added), "skipped": skipped, "unreadable": bad, "result_ids": added}
