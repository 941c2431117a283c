"""Every file oddsight writes goes through here: written to a temporary file in the same folder, then moved
into place with ``os.replace``, so a reader (or a second run into the same folder) sees the old file or the
whole new one, never a part; the temporary file is removed on any error. A write that fails is one
:class:`OutputError`: ``cannot write PATH: reason``."""

from __future__ import annotations

import json
import os
import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from oddsight.errors import OutputError


def _reason(exc: OSError) -> str:
    return exc.strerror or str(exc)


def ensure_dir(folder: Path) -> Path:
    """``folder``, created with its parents if needed; an OutputError when a file is in the way or it can't be."""
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except FileExistsError:
        raise OutputError(f"cannot write {folder}: a file of that name is in the way") from None
    except OSError as exc:
        raise OutputError(f"cannot write {folder}: {_reason(exc)}") from None
    return folder


@contextmanager
def atomic_file(path: Path) -> Iterator[Path]:
    """Yield a temporary path to write; on success it replaces ``path`` in one step."""
    path = Path(path)
    ensure_dir(path.parent)
    if path.is_dir():
        raise OutputError(f"cannot write {path}: it is a folder")
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}.tmp")
    try:
        yield tmp
        os.replace(tmp, path)
    except OSError as exc:
        raise OutputError(f"cannot write {path}: {_reason(exc)}") from None
    finally:
        tmp.unlink(missing_ok=True)


def write_bytes(path: Path, data: bytes) -> Path:
    with atomic_file(path) as tmp:
        tmp.write_bytes(data)
    return Path(path)


def write_text(path: Path, text: str) -> Path:
    return write_bytes(path, text.encode())


def write_json(path: Path, obj: Any, indent: int | None = 1) -> Path:
    """JSON that is valid by the standard: a NaN or infinity is an error, never written."""
    return write_text(path, dumps(obj, indent=indent))


def dumps(obj: Any, indent: int | None = None) -> str:
    """``json.dumps`` that refuses NaN and infinity (they are not JSON) with an OutputError."""
    try:
        return json.dumps(obj, indent=indent, allow_nan=False)
    except ValueError:
        raise OutputError("refusing to write JSON with a NaN or infinite value (a bug: please report it)") from None


def check_writable(path: Path, *, folder: bool = False) -> Path:
    """Fail now, with an OutputError, when ``path`` (a file, or with ``folder`` a folder) cannot be written: done
    before long work, so that an hour of scoring is not lost to a typo in ``--out``."""
    path = Path(path)
    target = ensure_dir(path) if folder else ensure_dir(path.parent)
    if not folder and path.is_dir():
        raise OutputError(f"cannot write {path}: it is a folder")
    write_bytes(target / f".oddsight-check-{os.getpid()}", b"")
    (target / f".oddsight-check-{os.getpid()}").unlink(missing_ok=True)
    return path
