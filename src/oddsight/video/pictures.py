"""Stills of events: the region that drove an event, drawn on its snapshot or thumbnail."""

from __future__ import annotations

from typing import Any

BOX_COLOUR = (255, 64, 32)


def draw_box(image: Any, box: list[int] | None, source_size: tuple[int, int]) -> Any:
    """``image`` (a PIL image of a ``source_size`` = (width, height) frame, maybe scaled) with ``box``
    ([x0, y0, x1, y1] in the frame's pixels) outlined; unchanged when there is no box."""
    if not box or len(box) != 4 or not all(source_size):
        return image
    from PIL import ImageDraw

    sx, sy = image.width / source_size[0], image.height / source_size[1]
    x0, y0, x1, y1 = box[0] * sx, box[1] * sy, box[2] * sx, box[3] * sy
    width = max(2, round(image.width / 200))
    ImageDraw.Draw(image).rectangle([x0, y0, max(x0, x1 - 1), max(y0, y1 - 1)], outline=BOX_COLOUR, width=width)
    return image
