"""What the server takes from a client that names something on the server or on the network, checked in one place
each: a server-side path (``resolve_path``), a camera URL (``check_camera_url``) and an LLM/VLM endpoint
(``check_llm_endpoint``)."""

from __future__ import annotations

import re
from pathlib import Path
from urllib.parse import parse_qsl, urlsplit

from fastapi import HTTPException

from oddsight.redact import redact_urls

MAX_PATH = 4096
CAMERA_SCHEMES = ("rtsp", "rtsps", "http", "https")
CAMERA_SOURCES = "rtsp://, rtsps://, http(s):// (MJPEG), /dev/videoN or a file under --media"
_SCHEME = re.compile(r"^([A-Za-z][A-Za-z0-9+.-]*):")
_DEVICE = re.compile(r"/dev/video\d{1,3}")


def resolve_path(roots: list[Path], path: object) -> Path:
    """``path`` (absolute, or relative to a root) resolved, symlinks followed; it must lie inside one of
    ``roots``. A path that points outside them gets the same 403 whether or not it exists (no existence oracle);
    one inside them that is not there, 404."""
    if not roots:
        raise HTTPException(403, "this server has no --media folder: upload the video instead")
    if not isinstance(path, str) or not path or "\x00" in path:
        raise HTTPException(422, "path must be a non-empty string")
    if len(path) > MAX_PATH:
        raise HTTPException(422, f"path is longer than {MAX_PATH} characters")
    candidates = [Path(path)] if Path(path).is_absolute() else [root / path for root in roots]
    outside = False
    for candidate in candidates:
        try:
            real = candidate.resolve()
        except (OSError, RuntimeError, ValueError):
            outside = True
            continue
        if not any(real == root or real.is_relative_to(root) for root in roots):
            outside = True
        elif real.exists():
            return real
    if outside:
        raise HTTPException(403, f"{path}: outside every --media folder")
    raise HTTPException(404, f"{path}: no such file or folder under --media")


def check_camera_url(url: str) -> None:
    """Refuse a network source that is not one of ``CAMERA_SCHEMES`` (FFmpeg would otherwise open ``tcp://``,
    ``udp://``, ``file:``, ``concat:`` ... and listen on ports with ``?listen=1``). Files are checked by
    ``resolve_path``; this takes only what looks like a URL or a device."""
    shown = redact_urls(url)[:300]
    if url.startswith("/dev/"):
        if not _DEVICE.fullmatch(url):
            raise HTTPException(422, f"{shown}: not a camera device (/dev/videoN)")
        return
    parts = urlsplit(url)
    if parts.scheme.lower() not in CAMERA_SCHEMES or not parts.hostname or any(c.isspace() for c in url):
        raise HTTPException(422, f"{shown}: not a camera source this server opens: {CAMERA_SOURCES}")
    if any("listen" in key.lower() for key, _ in parse_qsl(parts.query, keep_blank_values=True)):
        raise HTTPException(422, f"{shown}: a camera URL may not make the server listen (no 'listen' option)")


def looks_like_url(text: str) -> bool:
    """``text`` starts with a scheme (``rtsp:``, ``file:``, ``concat:`` ...) or names a device under /dev."""
    return bool(_SCHEME.match(text)) or text.startswith("/dev/")


def check_llm_endpoint(option: str, spec: str, allowed: list[str]) -> None:
    """An ``openai:<base url>#<model>`` ``spec`` must name a base URL the operator allowed (``serve
    --llm-endpoint``, ``$ODDSIGHT_LLM_ENDPOINTS``): the server's API key goes only there, and a client may not
    make the server send its frames or prompts anywhere else."""
    from oddsight.llm.openai_http import normalize_base_url, parse_endpoint

    url, _ = parse_endpoint(spec)
    if normalize_base_url(url) not in allowed:
        shown = redact_urls(url)[:300]
        why = "is not an LLM endpoint this server's operator allowed (serve --llm-endpoint)"
        raise HTTPException(403, f"{option}: {shown} {why}")
