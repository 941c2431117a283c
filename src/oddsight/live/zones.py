"""A camera's areas, in normalised coordinates of its picture (0..1 from the left and the top): *masks* that never
score (a tree, a TV, a road the camera half sees) and named *zones*, each with an optional threshold of its own;
an event names the zones its box touches, and alerts can be limited to some zones.

The JSON (``watch --zones FILE``, ``PUT /cameras/{id}/zones``, the dashboard's editor)::

    {"masks": [[[x, y], [x, y], [x, y], ...], ...],
     "zones": [{"name": "door", "polygon": [[x, y], ...], "threshold": 2.0}, ...],
     "alert_zones": ["door"]}
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from oddsight.errors import ConfigError

MAX_POLYGONS = 32
MAX_POINTS = 64
NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9 _.-]{0,39}$")
RASTER = (64, 48)  # the grid zones and boxes are compared on
MASKED_SHARE = 0.5  # a cell at least this much under masks never scores


def _polygon(points: object, where: str) -> list[tuple[float, float]]:
    if not isinstance(points, list) or not 3 <= len(points) <= MAX_POINTS:
        raise ConfigError(f"{where}: a polygon is a list of 3 to {MAX_POINTS} [x, y] points")
    out = []
    for p in points:
        if (
            not isinstance(p, (list, tuple))
            or len(p) != 2
            or not all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in p)
            or not all(0.0 <= float(v) <= 1.0 for v in p)
        ):
            raise ConfigError(f"{where}: each point is [x, y] with 0 <= x, y <= 1 (a share of the picture), got {p!r}")
        out.append((float(p[0]), float(p[1])))
    return out


def _raster(polygon: list[tuple[float, float]], width: int, height: int) -> np.ndarray:
    import cv2

    canvas = np.zeros((height, width), np.uint8)
    points = np.array([[x * width, y * height] for x, y in polygon], np.float64).round().astype(np.int32)
    cv2.fillPoly(canvas, [points], 1)
    return canvas.astype(bool)


@dataclass(frozen=True)
class Zone:
    name: str
    polygon: list[tuple[float, float]]
    threshold: float | None = None


@dataclass
class Zones:
    """Masks and zones of one camera (see the module)."""

    masks: list[list[tuple[float, float]]] = field(default_factory=list)
    zones: list[Zone] = field(default_factory=list)
    alert_zones: list[str] = field(default_factory=list)

    @classmethod
    def parse(cls, data: object) -> Zones:
        """Checked from the JSON; one :class:`ConfigError` naming what is wrong."""
        if data is None:
            return cls()
        if not isinstance(data, dict) or not set(data) <= {"masks", "zones", "alert_zones"}:
            raise ConfigError("zones: expected an object with masks, zones and/or alert_zones")
        masks, zones, alert = data.get("masks") or [], data.get("zones") or [], data.get("alert_zones") or []
        if not isinstance(masks, list) or not isinstance(zones, list) or len(masks) + len(zones) > MAX_POLYGONS:
            raise ConfigError(f"zones: masks and zones are lists, at most {MAX_POLYGONS} polygons in all")
        parsed = []
        for i, z in enumerate(zones):
            if not isinstance(z, dict) or not set(z) <= {"name", "polygon", "threshold"}:
                raise ConfigError(f"zones[{i}]: expected name, polygon and an optional threshold")
            name, threshold = z.get("name"), z.get("threshold")
            if not isinstance(name, str) or not NAME.match(name):
                raise ConfigError(f"zones[{i}]: a name is 1-40 letters, digits, spaces, '.', '_' or '-'")
            if threshold is not None and (
                isinstance(threshold, bool) or not isinstance(threshold, (int, float)) or not 0 < threshold < 1e6
            ):
                raise ConfigError(f"zones[{i}] ({name}): threshold must be a positive number")
            parsed.append(Zone(name, _polygon(z.get("polygon"), f"zones[{i}] ({name})"), threshold))
        names = [z.name for z in parsed]
        if len(set(names)) != len(names):
            raise ConfigError("zones: two zones have the same name")
        if not isinstance(alert, list) or any(a not in names for a in alert):
            raise ConfigError(f"zones: alert_zones must name zones ({', '.join(names) or 'none defined'})")
        return cls([_polygon(m, f"masks[{i}]") for i, m in enumerate(masks)], parsed, list(alert))

    def to_dict(self) -> dict[str, Any]:
        return {
            "masks": [[list(p) for p in m] for m in self.masks],
            "zones": [
                {"name": z.name, "polygon": [list(p) for p in z.polygon], "threshold": z.threshold} for z in self.zones
            ],
            "alert_zones": list(self.alert_zones),
        }

    def __bool__(self) -> bool:
        return bool(self.masks or self.zones)

    def pixel_mask(self, width: int, height: int) -> np.ndarray | None:
        """(height, width) True where a mask covers the picture; None without masks."""
        if not self.masks:
            return None
        return np.logical_or.reduce([_raster(m, width, height) for m in self.masks])

    def cell_mask(self, grid: int) -> np.ndarray | None:
        """(grid * grid,) True for the cells (row-major) at least half under masks; None without masks."""
        covered = self.pixel_mask(grid * 8, grid * 8)
        if covered is None:
            return None
        share = covered.reshape(grid, 8, grid, 8).mean(axis=(1, 3))
        return (share >= MASKED_SHARE).reshape(-1)

    def zones_of(self, box: list[int] | None, width: int, height: int) -> list[str]:
        """The zones an event's box (pixels of a ``width`` x ``height`` frame) touches."""
        if not box or not self.zones or not width or not height:
            return []
        w, h = RASTER
        x0, y0 = int(box[0] / width * w), int(box[1] / height * h)
        x1, y1 = max(x0 + 1, int(np.ceil(box[2] / width * w))), max(y0 + 1, int(np.ceil(box[3] / height * h)))
        return [z.name for z in self.zones if _raster(z.polygon, w, h)[y0:y1, x0:x1].any()]

    def alertable(self, zones: list[str], peak: float) -> bool:
        """Whether an event in ``zones`` with this peak may alert: in an alert zone (when some are named), and
        over the threshold of at least one of its zones that has one (else the camera's, already passed)."""
        if self.alert_zones and not set(zones) & set(self.alert_zones):
            return False
        limits = [z.threshold for z in self.zones if z.name in zones and z.threshold is not None]
        return not limits or peak >= min(limits)
