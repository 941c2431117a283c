"""A stream's packet ring on disk: the bytes of the packets a camera keeps for its clips, in segment files under
its folder instead of in memory (120 s of a 4 Mbit/s camera is 60 MB of memory a camera otherwise). The ring's
index (timestamps, keyframes, where each packet is) stays in memory; the bytes are read back only to cut a clip.

A segment is a file of about ``segment_s`` seconds of packets; one is deleted once every packet in it has left the
ring, so the disk used is the ring's span plus one segment. Files a killed process left are deleted at start.
"""

from __future__ import annotations

import contextlib
from pathlib import Path
from typing import BinaryIO

SUFFIX = ".seg"


class PacketSpool:
    """Append packets' bytes to segment files in ``folder``; read them back by (segment, offset, size)."""

    def __init__(self, folder: Path, segment_s: float = 20.0) -> None:
        self.folder, self.segment_s = folder, segment_s
        folder.mkdir(parents=True, exist_ok=True)
        for stale in folder.glob(f"*{SUFFIX}"):
            stale.unlink(missing_ok=True)
        self.segment = -1  # the segment being written
        self._file: BinaryIO | None = None
        self._started = 0.0  # the stream time the segment being written began at
        self._offset = 0
        self._oldest = 0  # the oldest segment still on disk

    def _path(self, segment: int) -> Path:
        return self.folder / f"{segment:08d}{SUFFIX}"

    def write(self, data: bytes, t: float) -> tuple[int, int]:
        """Keep ``data`` (a packet at stream time ``t``); returns (segment, offset) to read it back with."""
        if self._file is None or t - self._started >= self.segment_s or t < self._started:
            self._next(t)
        assert self._file is not None
        where = (self.segment, self._offset)
        self._file.write(data)
        self._offset += len(data)
        return where

    def _next(self, t: float) -> None:
        if self._file is not None:
            self._file.close()
        self.segment += 1
        self._file = open(self._path(self.segment), "wb")  # noqa: SIM115 (kept open while it is written)
        self._started, self._offset = t, 0

    def read(self, where: list[tuple[int, int, int]]) -> list[bytes]:
        """Packets' bytes back, by (segment, offset, size), each segment opened once (what is still buffered for
        the segment being written is flushed first)."""
        if self._file is not None:
            self._file.flush()
        out: list[bytes] = []
        opened: tuple[int, BinaryIO] | None = None
        try:
            for segment, offset, size in where:
                if opened is None or opened[0] != segment:
                    if opened is not None:
                        opened[1].close()
                    opened = (segment, open(self._path(segment), "rb"))  # noqa: SIM115 (closed below)
                opened[1].seek(offset)
                out.append(opened[1].read(size))
        finally:
            if opened is not None:
                opened[1].close()
        return out

    def drop_before(self, segment: int) -> None:
        """Delete the segments older than ``segment`` (none of their packets is in the ring any more)."""
        while self._oldest < min(segment, self.segment):
            self._path(self._oldest).unlink(missing_ok=True)
            self._oldest += 1

    def close(self) -> None:
        """Close the segment being written and delete every segment."""
        if self._file is not None:
            self._file.close()
            self._file = None
        for path in self.folder.glob(f"*{SUFFIX}"):
            path.unlink(missing_ok=True)
        with contextlib.suppress(OSError):  # not empty (someone else's files) or already gone
            self.folder.rmdir()
