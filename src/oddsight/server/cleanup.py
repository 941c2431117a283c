"""What the server removes: a video with its results, events and derived media files (``remove_video``), and the
periodic sweep that holds uploads and results to ``serve --retention`` (``Sweeper``)."""

from __future__ import annotations

import logging
import threading
import time
from pathlib import Path

from oddsight.live.retention import CHECK_S, Retention
from oddsight.server.store import Store

log = logging.getLogger("oddsight.server")


def remove_video(store: Store, video: dict) -> None:
    """``video`` (a store row) gone: its rows, its events' thumbnails and clips, its preview, and the file itself
    when it was uploaded (a registered file is the operator's: it stays)."""
    events = store.events(video_id=video["id"], limit=10**9)
    store.delete_video(video["id"])
    remove_media(store, [e["id"] for e in events])
    (store.folder / "media" / f"preview-{video['id']}.mp4").unlink(missing_ok=True)
    if video["origin"] == "upload":
        Path(video["path"]).unlink(missing_ok=True)


def remove_media(store: Store, event_ids: list[str]) -> None:
    for event_id in event_ids:
        for suffix in (".jpg", ".mp4"):
            (store.folder / "media" / f"{event_id}{suffix}").unlink(missing_ok=True)


def sweep(store: Store, retention: Retention, now: float | None = None) -> dict[str, int]:
    """Uploads over their size or age limit (oldest first) and results over their age removed; how many."""
    now = time.time() if now is None else now
    removed = {"uploads": 0, "results": 0}
    uploads = retention.limits["uploads"]
    videos = sorted((v for v in store.videos() if v["origin"] == "upload"), key=lambda v: v["created_at"])
    total = sum(v.get("size") or 0 for v in videos)
    for video in videos:
        too_old = uploads.max_age_s is not None and now - video["created_at"] > uploads.max_age_s
        too_big = uploads.max_bytes is not None and total > uploads.max_bytes
        if not (too_old or too_big):
            break
        remove_video(store, video)
        total -= video.get("size") or 0
        removed["uploads"] += 1
    results = retention.limits["results"]
    if results.max_age_s is not None:
        gone = store.delete_results_before(now - results.max_age_s)
        remove_media(store, gone)
        removed["results"] = len(gone)
    return removed


class Sweeper:
    """A thread that runs :func:`sweep` every ``CHECK_S`` seconds while the server runs."""

    def __init__(self, store: Store, retention: Retention) -> None:
        self.store, self.retention = store, retention
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="retention", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(5)

    def _run(self) -> None:
        while True:
            try:
                removed = sweep(self.store, self.retention)
                if any(removed.values()):
                    log.info("retention: removed %d upload(s) and %d result(s)", removed["uploads"], removed["results"])
            except Exception as exc:  # the store busy, a file in use: the next sweep tries again
                log.warning("retention sweep failed (%s)", exc)
            if self._stop.wait(CHECK_S):
                return
