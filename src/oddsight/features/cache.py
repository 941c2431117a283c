"""On-disk feature cache keyed by (video content hash, model id, sampling), and the scores worked out from them.

Files are plain ``.npz`` / ``.npy`` (loaded with ``allow_pickle=False``) plus JSON metadata inside them.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import zipfile
from dataclasses import asdict
from pathlib import Path

import numpy as np

from oddsight.atomic import atomic_file, write_text
from oddsight.errors import OutputError
from oddsight.features.types import Features
from oddsight.paths import features_dir
from oddsight.video.source import VideoInfo

FORMAT_VERSION = 1
SCORES_VERSION = 2  # bump when a scorer's arithmetic changes: every memoised score is then worked out again


def content_hash(path: Path) -> str:
    """blake2b of the file's bytes (or a frame folder's names and bytes), memoised by size and mtime."""
    path = path.resolve()
    stat = path.stat()
    memo = features_dir() / "hash-memo" / (hashlib.blake2b(str(path).encode(), digest_size=16).hexdigest() + ".json")
    stamp = {"size": stat.st_size, "mtime_ns": stat.st_mtime_ns}
    if path.is_dir():
        stamp["entries"] = sorted(
            (p.name, p.stat().st_size, p.stat().st_mtime_ns) for p in path.iterdir() if p.is_file()
        )
    if memo.exists():
        try:
            saved = json.loads(memo.read_text())
            if saved.get("stamp") == json.loads(json.dumps(stamp)):
                return saved["digest"]
        except (OSError, ValueError):
            pass
    digest = _hash_dir(path) if path.is_dir() else _hash_file(path)
    # the memo only saves re-hashing: a cache folder that cannot be written costs time, not the run
    with contextlib.suppress(OutputError):
        write_text(memo, json.dumps({"stamp": stamp, "digest": digest}))
    return digest


def _hash_file(path: Path, h=None) -> str:
    h = h or hashlib.blake2b(digest_size=20)
    with open(path, "rb") as f:
        while chunk := f.read(1 << 22):
            h.update(chunk)
    return h.hexdigest()


def _hash_dir(path: Path) -> str:
    h = hashlib.blake2b(digest_size=20)
    for p in sorted(x for x in path.iterdir() if x.is_file()):
        h.update(p.name.encode() + b"\0")
        _hash_file(p, h)
    return h.hexdigest()


class FeatureCache:
    """Stores :class:`Features` under ``root`` (default ``$ODDSIGHT_HOME/features``)."""

    def __init__(self, root: Path | None = None) -> None:
        self.root = root or features_dir()

    def _file(self, digest: str, model_id: str, sampling_key: str) -> Path:
        safe_model = model_id.replace("/", "_").replace("@", "_")
        return self.root / digest[:2] / f"{digest}-{safe_model}-{sampling_key}.npz"

    def get(self, digest: str, model_id: str, sampling_key: str, source: str | None = None) -> Features | None:
        """The stored features, or None. The cache is keyed by content: the same bytes seen before under another
        name come back with ``source`` (the path asked for) in their VideoInfo, never the old name."""
        file = self._file(digest, model_id, sampling_key)
        if not file.exists():
            return None
        try:
            with np.load(file, allow_pickle=False) as data:
                meta = json.loads(str(data["meta"]))
                if meta.get("format") != FORMAT_VERSION:
                    return None
                return Features(
                    embeddings=data["embeddings"],
                    indices=data["indices"],
                    timestamps=data["timestamps"],
                    info=VideoInfo(**{**meta["info"], **({"source": source} if source is not None else {})}),
                    model_id=meta["model_id"],
                    sampling_key=meta["sampling_key"],
                    warnings=meta.get("warnings", []),
                )
        except (OSError, ValueError, KeyError, TypeError, EOFError, zipfile.BadZipFile):
            file.unlink(missing_ok=True)  # a corrupt or truncated entry is dropped and recomputed
            return None

    def put(self, digest: str, features: Features, model_key: str, sampling_key: str) -> Path:
        file = self._file(digest, model_key, sampling_key)
        meta = {
            "format": FORMAT_VERSION,
            "info": asdict(features.info),
            "model_id": features.model_id,
            "sampling_key": features.sampling_key,
            "warnings": features.warnings,
        }
        with atomic_file(file) as tmp, open(tmp, "wb") as f:
            np.savez(
                f,
                embeddings=features.embeddings,
                indices=features.indices,
                timestamps=features.timestamps,
                meta=np.array(json.dumps(meta)),
            )
        return file


class ScoreMemo:
    """Scores of features seen before, under ``root/scores``: ``detect`` run again with other threshold,
    smoothing or event options (``eval`` sweeps, a re-run) skips the scoring. Keyed by a digest of the features
    (embeddings, times, model) and the scorer's name and parameters, so any other input or parameter scores anew;
    ``--no-cache`` uses none. Plain ``.npy``; an unreadable entry is dropped and worked out again."""

    def __init__(self, root: Path) -> None:
        self.root = root / "scores"

    @staticmethod
    def key(scorer: str, params: dict, features: Features) -> str:
        h = hashlib.blake2b(digest_size=20)
        h.update(json.dumps([SCORES_VERSION, scorer, params, features.model_id], sort_keys=True).encode())
        for array in (features.embeddings, features.timestamps):
            data = np.ascontiguousarray(array)
            h.update(f"{data.dtype}{data.shape}".encode())
            h.update(data.data)
        return h.hexdigest()

    def _file(self, key: str) -> Path:
        return self.root / key[:2] / f"{key}.npy"

    def get(self, key: str, n: int) -> np.ndarray | None:
        file = self._file(key)
        if not file.exists():
            return None
        try:
            scores = np.load(file, allow_pickle=False)
        except (OSError, ValueError, EOFError):
            scores = None
        if scores is None or scores.shape != (n,) or scores.dtype != np.float32:
            file.unlink(missing_ok=True)
            return None
        return scores

    def put(self, key: str, scores: np.ndarray) -> None:
        try:
            with atomic_file(self._file(key)) as tmp, open(tmp, "wb") as f:
                np.save(f, np.asarray(scores, dtype=np.float32), allow_pickle=False)
        except (OutputError, OSError):  # the memo only saves time: the scores stand without it
            pass
