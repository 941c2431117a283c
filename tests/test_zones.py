"""Masks and zones of a camera: a masked place never scores, an event names the zones it touches, alerts can be
limited to zones (and a zone's own threshold), on a real decoded video watched live."""

from __future__ import annotations

import pytest

from oddsight.errors import ConfigError
from oddsight.live.alerts import Sink
from oddsight.live.engine import make_engine
from oddsight.live.monitor import Monitor
from oddsight.live.zones import Zones
from oddsight.options import DetectOptions
from tests.conftest import make_video

BAND = [[0.0, 0.2], [1.0, 0.2], [1.0, 0.8], [0.0, 0.8]]  # the rows the test video's anomaly crosses (30-90 of 120)
TOP = [[0.0, 0.0], [1.0, 0.0], [1.0, 0.1], [0.0, 0.1]]


class _Box(Sink):
    def __init__(self) -> None:
        self.got: list[dict] = []

    def send(self, payload: dict) -> None:
        self.got.append(payload)


@pytest.fixture(scope="module")
def video(tmp_path_factory):
    # a red block darting across the middle rows from 20 s to 22.5 s
    path = tmp_path_factory.mktemp("zones") / "cam.mp4"
    return make_video(path, 300, fps=10, size=(160, 120), anomaly=range(200, 225), codec="libx264")


def watch(video, zones: dict | None) -> tuple[list[dict], list[dict]]:
    """(every message, what the alert channel got) of watching ``video`` live with ``zones``."""
    seen: list[dict] = []
    box = _Box()
    engine = make_engine(DetectOptions.parse({"threshold": 1.5}).to_config(), warmup_s=0, camera="yard")
    areas = Zones.parse(zones) if zones is not None else None
    Monitor(str(video), engine, 2.0, sinks=[box], on_message=seen.append, camera="yard", zones=areas).run()
    return seen, box.got


def test_an_event_names_its_zones_and_a_masked_place_never_scores(video):
    seen, alerted = watch(video, {"zones": [{"name": "band", "polygon": BAND}, {"name": "top", "polygon": TOP}]})
    ends = [m["event"] for m in seen if m["type"] == "end"]
    assert len(ends) == 1 and ends[0]["details"]["zones"] == ["band"], ends
    assert [m["type"] for m in alerted] == [m["type"] for m in seen]  # no alert zones named: every event alerts
    masked, _ = watch(video, {"masks": [BAND]})
    assert [m for m in masked if m["type"] == "new"] == []


def test_alerts_limited_to_a_zone_or_under_its_threshold_are_logged_only(video):
    zones = [{"name": "band", "polygon": BAND}, {"name": "top", "polygon": TOP}]
    seen, alerted = watch(video, {"zones": zones, "alert_zones": ["top"]})
    assert any(m["type"] == "end" for m in seen) and alerted == []
    high = [{"name": "band", "polygon": BAND, "threshold": 1000.0}]
    seen, alerted = watch(video, {"zones": high})
    assert any(m["type"] == "end" for m in seen) and alerted == []


def test_zones_are_checked_and_cover_the_right_cells():
    zones = Zones.parse({"masks": [[[0, 0], [0.5, 0], [0.5, 1], [0, 1]]], "zones": [{"name": "door", "polygon": TOP}]})
    cells = zones.cell_mask(16).reshape(16, 16)
    assert cells[:, :8].all() and not cells[:, 8:].any()  # the left half of a 16x16 grid
    assert zones.zones_of([0, 0, 50, 10], 320, 240) == ["door"] and zones.zones_of([0, 200, 50, 240], 320, 240) == []
    assert Zones.parse(zones.to_dict()) == zones
    for bad in (
        {"masks": [[[0, 0], [1, 1]]]},  # two points
        {"masks": [[[0, 0], [1.5, 0], [1, 1]]]},  # off the picture
        {"zones": [{"name": "", "polygon": TOP}]},
        {"zones": [{"name": "a", "polygon": TOP}, {"name": "a", "polygon": TOP}]},
        {"zones": [{"name": "a", "polygon": TOP, "threshold": -1}]},
        {"alert_zones": ["nowhere"]},
        {"mask": []},
        [1, 2],
    ):
        with pytest.raises(ConfigError):
            Zones.parse(bad)
    assert Zones().cell_mask(16) is None
