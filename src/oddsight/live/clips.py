"""An event's snapshot (JPEG of its peak frame) and clip (MP4 remuxed from the stream's own packets: no
re-encoding, so the clip is exactly what the camera sent)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from oddsight.atomic import atomic_file
from oddsight.errors import OutputError
from oddsight.live.stream import StoredPacket
from oddsight.video.pictures import draw_box


def write_snapshot(frame: Any, path: Path, width: int = 640, box: list[int] | None = None) -> Path:
    """``frame`` (an av.VideoFrame) as a JPEG at most ``width`` wide, with the event's ``box`` drawn."""
    from av.video.reformatter import VideoReformatter

    scale = min(1.0, width / max(frame.width, 1))
    w, h = max(2, int(frame.width * scale) // 2 * 2), max(2, int(frame.height * scale) // 2 * 2)
    # a scaler of its own: the frame's cached one may be scaling it in the monitor's thread right now (a camera's
    # heartbeat writes its live picture from another thread; sharing it crashed in libswscale)
    small = VideoReformatter().reformat(frame, width=w, height=h, format="rgb24")
    image = draw_box(small.to_image(), box, (frame.width, frame.height))
    with atomic_file(path) as tmp:
        image.save(tmp, format="JPEG", quality=85)
    return path


def write_clip(packets: list[StoredPacket], template: dict[str, Any], path: Path) -> Path:
    """Remux ``packets`` (starting at a keyframe) into an MP4; timestamps start at 0."""
    import av

    if not packets or not template:
        raise OutputError(f"{path.name}: no packets buffered for that span")
    src = template["stream"]
    first = next((p.pts for p in packets if p.pts is not None), 0)
    first_dts = next((p.dts for p in packets if p.dts is not None), first)
    base = min(first, first_dts)
    with atomic_file(path) as tmp, av.open(str(tmp), "w", format="mp4", options={"movflags": "+faststart"}) as out:
        stream = out.add_stream_from_template(src)
        for p in packets:
            packet = av.Packet(p.data)
            packet.stream = stream
            packet.time_base = template["time_base"]
            packet.pts = None if p.pts is None else p.pts - base
            packet.dts = None if p.dts is None else p.dts - base
            if p.duration:
                packet.duration = p.duration
            packet.is_keyframe = p.keyframe
            out.mux(packet)
    return path
