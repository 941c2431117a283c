"""Tamper and camera-health events, from the frames themselves: the view covered or blacked out, blurred
(defocus, a sprayed lens), moved (the scene no longer matches the camera's reference), a frozen picture, and a
stream that was offline. Each is an :class:`Event` of kind ``tamper`` whose ``label`` names what happened.

A condition must hold for ``hold_s`` seconds to raise an event (``frozen``: ``frozen_s``) and be gone for
``clear_s`` to end it. The reference (what the view looks like, how sharp it is) is learnt from the first
``reference_s`` seconds of a healthy picture and then follows slow changes (dusk, weather) while nothing is wrong.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from oddsight.temporal.events import Event, Message
from oddsight.video.frames import reformat

SIZE = (160, 120)  # the grey picture every check reads
THUMB = (32, 24)  # the scene's layout, compared with the reference (normalised correlation)
FLAT_STD = 6.0  # grey levels: a picture with less spread than this shows nothing (black, covered, one colour)
BLUR_SHARE = 0.25  # sharper than this share of the reference's sharpness, or blurred
MOVED_CORRELATION = 0.5  # the layout correlates less than this with the reference: the camera moved
FROZEN_DIFF = 3.0  # grey levels: no pixel of two consecutive pictures differs by this: the same picture
FOLLOW = 0.02  # how fast the reference follows a healthy picture (per sample)
KINDS = ("covered", "blurred", "moved", "frozen", "offline")


def grey_picture(frame) -> np.ndarray:
    """An av.VideoFrame as the (120, 160) float32 grey picture the checks read."""
    return reformat(frame, width=SIZE[0], height=SIZE[1], format="gray").to_ndarray().astype(np.float32)


def _sharpness(grey: np.ndarray) -> float:
    """Variance of the Laplacian: how much fine detail the picture has."""
    lap = grey[1:-1, :-2] + grey[1:-1, 2:] + grey[:-2, 1:-1] + grey[2:, 1:-1] - 4 * grey[1:-1, 1:-1]
    return float(lap.var())


def _layout(grey: np.ndarray) -> np.ndarray:
    """The picture reduced to a zero-mean, unit-norm 32x24 thumbnail."""
    h, w = grey.shape
    fy, fx = h // THUMB[1], w // THUMB[0]
    thumb = grey[: fy * THUMB[1], : fx * THUMB[0]].reshape(THUMB[1], fy, THUMB[0], fx).mean(axis=(1, 3))
    thumb = thumb - thumb.mean()
    return thumb / max(float(np.linalg.norm(thumb)), 1e-6)


@dataclass
class _Open:
    event: Event
    clear_since: float | None = None


class TamperWatch:
    """Grey pictures of one camera in (:meth:`push`), tamper event messages out (``new`` then ``end``)."""

    def __init__(
        self,
        new_id: Callable[[], str],
        *,
        hold_s: float = 3.0,
        frozen_s: float = 10.0,
        clear_s: float = 2.0,
        reference_s: float = 5.0,
    ) -> None:
        self.new_id, self.hold_s, self.frozen_s, self.clear_s = new_id, hold_s, frozen_s, clear_s
        self.reference_s = reference_s
        self._layout: np.ndarray | None = None  # the reference layout and sharpness
        self._sharp: float | None = None
        self._learning: list[tuple[np.ndarray, float]] = []
        self._first_t: float | None = None
        self._last: np.ndarray | None = None
        self._since: dict[str, tuple[int, float]] = {}  # kind -> (frame, t) its condition has held since
        self._gone: dict[str, float] = {}  # kind -> t its condition has been absent since
        self._open: dict[str, _Open] = {}

    def push(self, frame: int, t: float, grey: np.ndarray) -> list[Message]:
        """One sampled picture (see :func:`grey_picture`) at stream time ``t``."""
        found = self._conditions(grey)
        out: list[Message] = []
        for kind in KINDS[:-1]:
            severity, words = found.get(kind, (None, None))
            if severity is None:
                gone = self._gone.setdefault(kind, t)
                if t - gone >= self.clear_s:  # a blip (a keyframe, a passing shadow) does not restart the count
                    self._since.pop(kind, None)
                out += self._clear(kind, frame, t)
                continue
            self._gone.pop(kind, None)
            start = self._since.setdefault(kind, (frame, t))
            opened = self._open.get(kind)
            if opened is not None:
                opened.clear_since = None
                opened.event.end_frame, opened.event.end_s = frame, t
                continue
            if t - start[1] >= (self.frozen_s if kind == "frozen" else self.hold_s):
                ev = Event(start[0], frame, start[1], t, frame, t, severity, severity, id=self.new_id())
                ev.kind, ev.label, ev.reason = "tamper", kind, words
                self._open[kind] = _Open(ev)
                out.append(Message("new", ev))
        if not found:
            self._follow(grey, t)
        self._last = grey
        return out

    def outage(self, frame: int, t: float, seconds: float) -> list[Message]:
        """The stream was offline for ``seconds`` and is back (or gave up): one event, new and ended at once."""
        if seconds < self.hold_s:
            return []
        ev = Event(frame, frame, t, t, frame, t, 1.0, 1.0, id=self.new_id())
        ev.kind, ev.label = "tamper", "offline"
        ev.reason = f"the stream was offline for {seconds:.0f} s"
        return [Message("new", ev), Message("end", ev)]

    def close(self, frame: int, t: float) -> list[Message]:
        """The stream ended: every open tamper event ends."""
        out: list[Message] = []
        for kind in list(self._open):
            self._open[kind].clear_since = -np.inf
            out += self._clear(kind, frame, t)
        return out

    def _clear(self, kind: str, frame: int, t: float) -> list[Message]:
        opened = self._open.get(kind)
        if opened is None:
            return []
        if opened.clear_since is None:
            opened.clear_since = t
        if t - opened.clear_since < self.clear_s:
            return []
        del self._open[kind]
        return [Message("end", opened.event)]

    def _conditions(self, grey: np.ndarray) -> dict[str, tuple[float, str]]:
        """What is wrong with this picture: kind -> (severity 0..1, words)."""
        spread = float(grey.std())
        if spread < FLAT_STD:  # nothing to see (and a black picture repeated is covered, not frozen)
            words = f"the view is covered or blacked out (mean grey {grey.mean():.0f}, no detail)"
            return {"covered": (1.0 - spread / FLAT_STD, words)}
        found: dict[str, tuple[float, str]] = {}
        if self._last is not None and float(np.abs(grey - self._last).max()) < FROZEN_DIFF:
            found["frozen"] = (1.0, "the picture is frozen: the same frame again and again")
        if self._layout is None or self._sharp is None:
            return found
        sharp = _sharpness(grey)
        if sharp < BLUR_SHARE * self._sharp:
            share = sharp / max(self._sharp, 1e-6)
            found["blurred"] = (1.0 - share, f"the picture is blurred ({share:.0%} of its usual sharpness)")
            return found
        correlation = float((_layout(grey) * self._layout).sum())
        if correlation < MOVED_CORRELATION:
            words = f"the camera moved: the scene matches its reference at {correlation:.2f} (1 = the same)"
            found["moved"] = (1.0 - max(correlation, 0.0), words)
        return found

    def _follow(self, grey: np.ndarray, t: float) -> None:
        """Learn the reference from a healthy picture, then follow it slowly."""
        layout, sharp = _layout(grey), _sharpness(grey)
        if self._layout is None:
            self._first_t = t if self._first_t is None else self._first_t
            self._learning.append((layout, sharp))
            if t - self._first_t >= self.reference_s and len(self._learning) >= 3:
                mean = np.mean([x for x, _ in self._learning], axis=0)
                self._layout = mean / max(float(np.linalg.norm(mean)), 1e-6)
                self._sharp = float(np.median([s for _, s in self._learning]))
                self._learning = []
            return
        mixed = (1 - FOLLOW) * self._layout + FOLLOW * layout
        self._layout = mixed / max(float(np.linalg.norm(mixed)), 1e-6)
        self._sharp = (1 - FOLLOW) * self._sharp + FOLLOW * sharp
