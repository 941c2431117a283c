"""An event in words and a box, from the motion cells of its peak sample, with no language model.

The box is the most unusual cell and the unusual cells around it; the words compare what moved there with what
usually moves there (the memory the sample was scored against): "fast motion in the lower left, about 3x the
usual speed there", "movement where nothing usually moves", "a sudden change of the whole picture".
"""

from __future__ import annotations

import numpy as np

from oddsight.detectors.cells import TOP_CELLS, CellView

FLOW, DIFFERENCE = 0, 2  # the motion cell features read here: mean flow magnitude, mean grey difference (log1p)
NEAR_CELLS = 3  # the box: unusual cells this many cells (or fewer) from the most unusual one
WHOLE_SHARE = 0.5  # "the whole picture": at least this share of the cells is unusual
STILL = 0.3  # px of flow per frame (at the encoder's size) below which a place "usually does not move"


def _where(rows: np.ndarray, cols: np.ndarray, grid: int) -> str:
    row, col = (rows.min() + rows.max() + 1) / 2 / grid, (cols.min() + cols.max() + 1) / 2 / grid
    vertical = "upper" if row < 1 / 3 else "lower" if row > 2 / 3 else "middle"
    horizontal = "left" if col < 1 / 3 else "right" if col > 2 / 3 else "centre"
    if vertical == "middle":
        return "in the centre" if horizontal == "centre" else f"on the {horizontal}"
    return f"in the {vertical} {horizontal}"


def _words(view: CellView, box_cells: np.ndarray, where: str) -> str:
    flow = float(np.expm1(view.cells[box_cells, FLOW]).mean())
    usual_flow = float(np.expm1(view.usual[box_cells, FLOW]).mean())
    change = float(np.expm1(view.cells[box_cells, DIFFERENCE]).mean())
    usual_change = float(np.expm1(view.usual[box_cells, DIFFERENCE]).mean())
    if usual_flow < STILL and flow >= 1.0:
        return f"movement where nothing usually moves, {where}"
    if flow >= 1.5 * usual_flow and flow >= 0.5:
        ratio = flow / max(usual_flow, 1e-3)
        times = "over 10x" if ratio > 10 else f"about {ratio:.0f}x" if ratio >= 2 else f"about {ratio:.1f}x"
        return f"fast motion {where}, {times} the usual speed there"
    if change >= 1.5 * max(usual_change, 1e-3):
        return f"a sudden change of brightness or appearance {where}"
    if flow <= 0.5 * usual_flow:
        return f"less motion than usual {where}"
    return f"unusual motion {where}"


def describe(view: CellView, grid: int, width: int, height: int) -> tuple[list[int], str]:
    """The box ``[x0, y0, x1, y1]`` (pixels of a ``width`` x ``height`` frame) around the cells that drove the
    sample's score, and what was unusual there, in words."""
    scores = view.scores
    top = np.argsort(scores)[-TOP_CELLS:]
    peak = int(top[-1])
    unusual = scores >= 0.5 * scores[peak]
    if scores[peak] > 0 and unusual.mean() >= WHOLE_SHARE:
        return [0, 0, int(width), int(height)], "a sudden change of the whole picture"
    rows, cols = np.divmod(np.arange(grid * grid), grid)
    near = (np.abs(rows - rows[peak]) <= NEAR_CELLS) & (np.abs(cols - cols[peak]) <= NEAR_CELLS)
    box_cells = np.flatnonzero(unusual & near)
    r, c = rows[box_cells], cols[box_cells]
    box = [
        int(c.min() * width / grid),
        int(r.min() * height / grid),
        round((c.max() + 1) * width / grid),
        round((r.max() + 1) * height / grid),
    ]
    return box, _words(view, box_cells, _where(r, c, grid))
