"""Bounded disk for a camera's folder: per kind of file, a cap on total size and on age, enforced while the camera
runs (every ``CHECK_S``). The oldest files go first; the event log keeps its newest lines.

Kinds: ``clips`` (``*.mp4``), ``snapshots`` (``*.jpg`` but the live picture), ``frames`` (the embeddings an ended
event keeps for feedback, ``*.npz``), ``logs`` (``events.jsonl``, ``outages.jsonl``) and, in ``serve``, ``events``
(the store's rows of a camera's events, by age), ``uploads`` (uploaded videos, with their results; no limit by
default) and ``results`` (analysis results, by age; no limit by default). A spec, as ``watch
--retention`` and ``serve --retention`` take it: ``clips=2GB/30d,snapshots=500MB,logs=100MB`` (size and/or age,
``/`` between; units B, KB, MB, GB, TB and s, m, h, d). Kinds not named keep their defaults (``DEFAULTS``); ``0``
lifts a limit (``clips=0/0``: keep every clip).
"""

from __future__ import annotations

import os
import re
import time
from dataclasses import dataclass, field, replace
from pathlib import Path

from oddsight.errors import ConfigError

CHECK_S = 60.0
RETENTION_ENV = "ODDSIGHT_RETENTION"  # serve --retention, for its camera processes
KINDS = ("clips", "snapshots", "frames", "logs", "events", "uploads", "results")
SERVER_KINDS = ("events", "uploads", "results")  # kept by a server (its store and uploads), not in a camera folder
_SIZE = re.compile(r"^(\d+(?:\.\d+)?)\s*(b|kb|mb|gb|tb)?$")
_AGE = re.compile(r"^(\d+(?:\.\d+)?)\s*(s|m|h|d)$")
_UNITS = {"b": 1, "kb": 1e3, "mb": 1e6, "gb": 1e9, "tb": 1e12, "s": 1, "m": 60, "h": 3600, "d": 86400}
LIVE_PICTURE = "live.jpg"


@dataclass(frozen=True)
class Limit:
    max_bytes: float | None = None  # None: no cap
    max_age_s: float | None = None


DEFAULTS = {
    "clips": Limit(2e9, 30 * 86400),
    "snapshots": Limit(5e8, 30 * 86400),
    "frames": Limit(5e8, 30 * 86400),
    "logs": Limit(1e8, None),
    "events": Limit(None, 90 * 86400),  # a server's camera events (rows of its store): by age
    "uploads": Limit(None, None),  # a server's uploaded videos (with their results): the operator's data
    "results": Limit(None, None),  # a server's analysis results (by age)
}


def _kind_of(path: Path) -> str | None:
    if path.suffix == ".mp4":
        return "clips"
    if path.suffix == ".jpg" and path.name != LIVE_PICTURE:
        return "snapshots"
    if path.suffix == ".npz":
        return "frames"
    if path.suffix == ".jsonl":
        return "logs"
    return None


@dataclass
class Retention:
    """Limits per kind (see the module)."""

    limits: dict[str, Limit] = field(default_factory=lambda: dict(DEFAULTS))

    @classmethod
    def parse(cls, spec: str | None) -> Retention:
        limits = dict(DEFAULTS)
        for part in (spec or "").split(","):
            if not part.strip():
                continue
            kind, _, value = part.strip().lower().partition("=")
            if kind not in KINDS or not value:
                raise ConfigError(
                    f"retention: expected KIND=SIZE/AGE with KIND one of {', '.join(KINDS)}, got {part!r}"
                )
            limit = Limit(None, None)
            for item in value.split("/"):
                item = item.strip()
                if item == "0":
                    continue
                if _AGE.match(item):
                    number, unit = _AGE.match(item).groups()  # type: ignore[union-attr]
                    limit = replace(limit, max_age_s=float(number) * _UNITS[unit])
                elif _SIZE.match(item):
                    number, unit = _SIZE.match(item).groups()  # type: ignore[union-attr]
                    limit = replace(limit, max_bytes=float(number) * _UNITS[unit or "b"])
                else:
                    raise ConfigError(f"retention: {item!r} is neither a size (500MB) nor an age (30d)")
            limits[kind] = limit
        return cls(limits)

    def to_dict(self) -> dict[str, dict[str, float | None]]:
        return {k: {"max_bytes": v.max_bytes, "max_age_s": v.max_age_s} for k, v in self.limits.items()}

    def enforce(self, folder: Path, now: float | None = None) -> dict[str, int]:
        """Remove what is over the limits in ``folder`` (one camera's); the bytes left per kind, and in all."""
        now = time.time() if now is None else now
        files: dict[str, list[tuple[float, int, Path]]] = {k: [] for k in KINDS if k not in SERVER_KINDS}
        for path in folder.rglob("*"):
            kind = _kind_of(path)
            if kind is None or not path.is_file():
                continue
            try:
                stat = path.stat()
            except OSError:  # removed meanwhile
                continue
            files[kind].append((stat.st_mtime, stat.st_size, path))
        usage: dict[str, int] = {}
        for kind, entries in files.items():
            limit = self.limits.get(kind, Limit())
            if kind == "logs":
                usage[kind] = sum(_trim_log(path, size, limit) for _, size, path in entries)
                continue
            entries.sort()  # oldest first
            total = sum(size for _, size, _ in entries)
            for mtime, size, path in entries:
                too_old = limit.max_age_s is not None and now - mtime > limit.max_age_s
                too_big = limit.max_bytes is not None and total > limit.max_bytes
                if not (too_old or too_big):
                    break
                path.unlink(missing_ok=True)
                total -= size
            usage[kind] = total
        usage["total"] = sum(usage.values())
        return usage


def _trim_log(path: Path, size: int, limit: Limit) -> int:
    """A JSON-lines log over its cap keeps its newest lines, half the cap's worth (rewritten atomically)."""
    if limit.max_bytes is None or size <= limit.max_bytes:
        return size
    keep = int(limit.max_bytes / 2)
    with open(path, "rb") as f:
        f.seek(max(0, size - keep))
        tail = f.read()
    tail = tail[tail.find(b"\n") + 1 :] if size > keep else tail  # from a whole line on
    tmp = path.with_name(path.name + ".trim")
    with open(tmp, "wb") as f:
        f.write(tail)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)
    return len(tail)
