"""Videos: uploads, files and frame folders registered from --media, what --media holds, the playable copy."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from fastapi import APIRouter, HTTPException, Request, Response
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import FileResponse
from pydantic import BaseModel, Field
from starlette.datastructures import UploadFile

from oddsight.errors import InputError
from oddsight.server import media
from oddsight.server.cleanup import remove_video
from oddsight.server.routes.deps import SettingsDep, StoreDep, found, inside_media

router = APIRouter(tags=["videos"])
UPLOAD_CHUNK = 1 << 20
MAX_MEDIA_LISTED = 2000


class Video(BaseModel):
    id: str
    name: str
    origin: Literal["upload", "media", "import"]
    size: int | None = None
    width: int | None = None
    height: int | None = None
    fps: float | None = None
    frame_count: int | None = None
    duration_s: float | None = None
    codec: str | None = None
    created_at: float


def public(video: dict) -> dict:
    return {k: v for k, v in video.items() if k != "path"}


@router.post("/videos", status_code=201, response_model=Video, summary="Upload a video (multipart field 'file')")
async def upload_video(request: Request, store: StoreDep) -> dict:
    """Streamed to disk under a new name (the client's file name is only shown, never used as a path), then
    decoded: a file that does not decode is refused and deleted."""
    from oddsight.server.store import new_id
    from oddsight.video.source import VIDEO_SUFFIXES

    form = await request.form(max_files=1, max_fields=4)
    upload = form.get("file")
    if not isinstance(upload, UploadFile):
        raise HTTPException(422, "send the video as the multipart field 'file'")
    shown = Path((upload.filename or "video").replace("\\", "/")).name[:200] or "video"
    suffix = Path(shown).suffix.lower()
    if suffix not in VIDEO_SUFFIXES:
        raise HTTPException(415, f"{shown}: not a video file type ({', '.join(sorted(VIDEO_SUFFIXES))})")
    target = store.folder / "uploads" / f"{new_id()}{suffix}"
    try:
        size = await run_in_threadpool(_copy, upload, target)
        if size == 0:
            raise HTTPException(400, f"{shown}: the file is empty")
        info = await run_in_threadpool(media.probe, target)
    except InputError as exc:
        target.unlink(missing_ok=True)
        raise HTTPException(400, str(exc).replace(str(target), shown).replace(target.name, shown)) from None
    except BaseException:
        target.unlink(missing_ok=True)
        raise
    return store.add_video(shown, str(target), "upload", info, size)


def _copy(upload: UploadFile, target: Path) -> int:
    size = 0
    with open(target, "wb") as out:
        while chunk := upload.file.read(UPLOAD_CHUNK):
            out.write(chunk)
            size += len(chunk)
    return size


class RegisterBody(BaseModel):
    path: str = Field(description="A file or frame folder inside a --media root (absolute, or relative to one)")
    frames_fps: float = Field(
        25.0,
        gt=0,
        le=1000,
        description="A frame folder's frame rate, kept with the video: its analyses, thumbnails and clips use it",
    )


@router.post("/videos/register", status_code=201, response_model=Video, summary="Register a file under --media")
def register_video(body: RegisterBody, response: Response, store: StoreDep, settings: SettingsDep) -> dict:
    real = inside_media(settings, body.path)
    existing = store.video_by_path(str(real))
    if existing is not None:
        if "frames_fps" in body.model_fields_set:
            media.check_folder_fps(existing, body.frames_fps)
        response.status_code = 200
        return public(existing)
    info = media.probe(real, folder_fps=body.frames_fps)
    size = real.stat().st_size if real.is_file() else None
    return store.add_video(real.name, str(real), "media", info, size)


@router.get("/media", summary="Videos and frame folders under the --media roots, to register")
def list_media(store: StoreDep, settings: SettingsDep) -> list[dict]:
    from oddsight.video.inputs import is_frame_folder
    from oddsight.video.source import VIDEO_SUFFIXES

    out: list[dict] = []
    registered = {v["path"]: v["id"] for v in store.videos()}
    for root in settings.media:
        for path in sorted(root.rglob("*")):
            if len(out) >= MAX_MEDIA_LISTED:
                return out
            is_video = path.is_file() and path.suffix.lower() in VIDEO_SUFFIXES
            is_frames = is_frame_folder(path)
            if is_video or is_frames:
                real = str(path.resolve())
                out.append(
                    {
                        "path": str(path.relative_to(root)),
                        "root": str(root),
                        "kind": "file" if is_video else "frames",
                        "video_id": registered.get(real),
                    }
                )
    return out


@router.get("/videos", response_model=list[Video], summary="Every stored video")
def list_videos(store: StoreDep) -> list[dict]:
    return [public(v) for v in store.videos()]


@router.get("/videos/{video_id}", response_model=Video)
def get_video(video_id: str, store: StoreDep) -> dict:
    return public(found(store.video(video_id), "video", video_id))


@router.delete("/videos/{video_id}", status_code=204, summary="Delete a video, its results and events")
def delete_video(video_id: str, store: StoreDep) -> Response:
    remove_video(store, found(store.video(video_id), "video", video_id))
    return Response(status_code=204)


@router.get("/videos/{video_id}/playable.mp4", summary="The video as the browser can play it")
def playable(video_id: str, store: StoreDep) -> FileResponse:
    """The file itself when a browser plays its codec, else an H.264 copy made once and kept."""
    video = found(store.video(video_id), "video", video_id)
    path = Path(video["path"])
    if media.browser_playable(path, video.get("codec")):
        return FileResponse(path, media_type="video/mp4" if path.suffix != ".webm" else "video/webm")
    copy = store.folder / "media" / f"preview-{video_id}.mp4"
    if not copy.exists():
        media.preview(path, video.get("fps") or 25.0, copy, folder_fps=video.get("fps") or 25.0)
    return FileResponse(copy, media_type="video/mp4")
