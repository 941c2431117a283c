"""An event's snapshot (JPEG of its peak frame) and clip (MP4 remuxed from the stream's own packets: no
re-encoding, so the clip is exactly what the camera sent)."""

from __future__ import annotations

from itertools import pairwise
from pathlib import Path
from typing import Any

from oddsight.atomic import atomic_file
from oddsight.errors import OutputError
from oddsight.live.stream import StoredPacket
from oddsight.video.frames import reformat
from oddsight.video.pictures import draw_box


def write_snapshot(frame: Any, path: Path, width: int = 640, box: list[int] | None = None) -> Path:
    """``frame`` (an av.VideoFrame) as a JPEG at most ``width`` wide, with the event's ``box`` drawn."""
    scale = min(1.0, width / max(frame.width, 1))
    w, h = max(2, int(frame.width * scale) // 2 * 2), max(2, int(frame.height * scale) // 2 * 2)
    # this thread's scaler: a camera's heartbeat writes its live picture from another thread than the monitor's,
    # and sharing one scaler between threads crashed in libswscale
    small = reformat(frame, width=w, height=h, format="rgb24")
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
    stamps = _complete_timestamps(packets)
    base = min(min(pts, dts) for pts, dts in stamps)
    with atomic_file(path) as tmp, av.open(str(tmp), "w", format="mp4", options={"movflags": "+faststart"}) as out:
        stream = out.add_stream_from_template(src)
        for p, (pts, dts) in zip(packets, stamps, strict=True):
            packet = av.Packet(p.data)
            packet.stream = stream
            packet.time_base = template["time_base"]
            packet.pts, packet.dts = pts - base, dts - base
            if p.duration:
                packet.duration = p.duration
            packet.is_keyframe = p.keyframe
            out.mux(packet)
    return path


def _complete_timestamps(packets: list[StoredPacket]) -> list[tuple[int, int]]:
    """(pts, dts) of each packet with the missing ones filled in: a stream with B-frames starts without decoding
    times on its first packets (FFmpeg's RTSP reader), and MP4 refuses a packet without one. A missing decoding
    time is counted back (or on) from the nearest known one, one frame's step each; a missing presentation time
    takes the decoding time."""
    dts = [p.dts for p in packets]
    known = [i for i, d in enumerate(dts) if d is not None]
    if not known:  # no decoding time at all: in presentation order, as without B-frames
        dts = [p.pts if p.pts is not None else i for i, p in enumerate(packets)]
        known = list(range(len(packets)))
    steps = [b - a for a, b in pairwise(dts[i] for i in known) if b > a]
    step = min(steps) if steps else max(packets[known[0]].duration or 1, 1)
    for i in range(known[0] - 1, -1, -1):
        dts[i] = dts[i + 1] - step
    for i in range(known[0] + 1, len(dts)):
        if dts[i] is None:
            dts[i] = dts[i - 1] + step
    return [(p.pts if p.pts is not None else d, d) for p, d in zip(packets, dts, strict=True)]
