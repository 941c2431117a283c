"""The dashboard in a real browser: Playwright driving Debian's chromium against a real ``oddsight serve``.

The tests run in file order and share one server and one browser page, as a user's session would: upload, see
the job finish, open the result, seek, move the threshold, review, fit a detector. Screenshots of every page go
to the test's tmp folder (``$ODDSIGHT_SCREENSHOTS`` too, when set).
"""

from __future__ import annotations

import io
import os
import shutil
import time
from pathlib import Path

import numpy as np
import pytest

from tests.conftest import shared_data
from tests.server_process import Server, store_one_hour_result

CHROMIUM = "/usr/bin/chromium"
ARSON = "ucf_crime/videos/Arson009_x264.mp4"
FIGHT = "ucf_crime/videos/Fighting033_x264.mp4"  # 37 s; the fight is at 19-28 s
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def _chromium() -> str:
    if not Path(CHROMIUM).exists():
        if os.environ.get("CI") == "true":
            pytest.fail("Debian's chromium is missing: scripts/install.sh all installs it")
        pytest.skip("Debian's chromium is not installed (bash scripts/install-system.sh)")
    return CHROMIUM


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    media = tmp_path_factory.mktemp("dash-media")
    with Server(tmp_path_factory.mktemp("dash") / "data", [media, shared_data()]) as srv:
        yield srv


@pytest.fixture(scope="module")
def screens(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("screenshots")


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright

    executable = _chromium()
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS)
        yield b
        b.close()


class Session:
    """One browser page on the server, with its console errors collected."""

    def __init__(self, browser, server: Server, screens: Path) -> None:
        self.page = browser.new_page(viewport={"width": 1280, "height": 800})
        self.server, self.screens = server, screens
        self.errors: list[str] = []
        self.page.on("console", lambda m: self.errors.append(m.text) if m.type == "error" else None)
        self.page.on("pageerror", lambda e: self.errors.append(str(e)))
        self.requests: list[str] = []
        self.page.on("request", lambda r: self.requests.append(r.url))
        self.state: dict = {}

    def go(self, hash_route: str) -> None:
        self.page.goto(f"{self.server.url}/#/{hash_route}")

    def shot(self, name: str) -> Path:
        path = self.screens / f"{name}.png"
        self.page.screenshot(path=str(path), full_page=True)
        extra = os.environ.get("ODDSIGHT_SCREENSHOTS")
        if extra:
            Path(extra).mkdir(parents=True, exist_ok=True)
            shutil.copy(path, Path(extra) / path.name)
        return path


@pytest.fixture(scope="module")
def ui(browser, server, screens):
    session = Session(browser, server, screens)
    yield session
    session.page.close()


def test_upload_and_watch_the_job_finish(ui):
    page = ui.page
    ui.go("videos")
    page.set_input_files("#file", str(shared_data() / ARSON))
    row = page.locator("tr[data-video]", has_text="Arson009_x264.mp4")
    row.wait_for(timeout=30_000)
    row.get_by_role("button", name="Start").click()
    done = page.locator("#jobs tr[data-state=done]", has_text="Arson009_x264.mp4")
    done.wait_for(timeout=120_000)
    assert "100%" in done.inner_text()
    ui.shot("videos")


def test_result_chart_and_video_are_linked(ui):
    page = ui.page
    page.locator("#jobs tr[data-state=done]").first.get_by_role("link", name="Open result").click()
    page.wait_for_selector("#chart[data-drawn-ms]")
    page.wait_for_selector("#event-list li.event")
    page.wait_for_function("document.querySelector('video').readyState >= 1", timeout=30_000)
    first = page.locator("#event-list li.event").first
    ui.state["result_url"] = page.url
    go = first.get_by_role("button", name="Go to")
    start = go.inner_text().split("Go to ")[1]
    go.click()
    minutes, seconds = start.split(":")
    expected = 60 * int(minutes) + float(seconds)
    page.wait_for_function(f"Math.abs(document.querySelector('video').currentTime - {expected}) < 0.5")

    # a click on the chart seeks the video there
    before = page.evaluate("document.querySelector('video').currentTime")
    plot = page.locator("#chart .nsewdrag").first
    box = plot.bounding_box()
    page.mouse.click(box["x"] + box["width"] * 0.15, box["y"] + box["height"] * 0.5)
    page.wait_for_function(f"Math.abs(document.querySelector('video').currentTime - {before}) > 1")
    after = page.evaluate("document.querySelector('video').currentTime")
    duration = page.evaluate("document.querySelector('video').duration")
    assert 0.05 * duration < after < 0.3 * duration
    ui.shot("result")


def test_threshold_changes_the_event_list_at_once(ui):
    page = ui.page
    stored = page.locator("#event-list li.event").count()
    assert stored >= 1
    page.fill("#threshold", "1000")
    page.press("#threshold", "Enter")
    page.wait_for_function("document.querySelector('#event-note').textContent.includes('0 event(s) at threshold')")
    assert page.locator("#event-list li.event").count() == 0
    page.fill("#threshold", "0.05")
    page.press("#threshold", "Enter")
    page.wait_for_function("document.querySelector('#event-note').textContent.includes('at threshold 0.0500')")
    assert page.locator("#event-list li.preview").count() >= 1
    shape = page.evaluate("document.getElementById('chart').layout.shapes[0].y0")
    assert shape == pytest.approx(0.05)
    page.click("#reset-threshold")
    page.wait_for_function("document.querySelector('#event-note').textContent.includes('stored threshold')")
    assert page.locator("#event-list li.event").count() == stored


def test_mark_a_false_alarm_and_find_it_in_events(ui):
    page = ui.page
    first = page.locator("#event-list li.event").first
    event_id = first.get_attribute("data-event")
    first.get_by_role("button", name="False alarm").click()
    page.wait_for_selector(f"#event-list li[data-event='{event_id}'] .state.false_alarm")
    ui.go("events")
    page.select_option("#f-review", "false_alarm")
    page.wait_for_selector(f"#events tr[data-event='{event_id}'][data-review=false_alarm]")
    assert page.locator("#events tr[data-event]").count() == 1
    assert "events?" in page.get_attribute("#export-csv", "href") and "format=csv" in page.get_attribute(
        "#export-csv", "href"
    )
    page.select_option("#f-review", "")
    page.wait_for_function("document.querySelectorAll('#events tr[data-event]').length >= 1")
    ui.shot("events")


def test_fit_a_detector_in_train(ui):
    page = ui.page
    ui.go("train")
    page.locator("input[name=normal]").first.check()
    page.fill("#det-name", "entrance")
    page.click("#fit")
    page.wait_for_selector("#detectors tr[data-detector]", timeout=120_000)
    row = page.locator("#detectors tr[data-detector]").first
    assert "entrance" in row.inner_text() and "motion" in row.inner_text()
    frames = int(row.locator("td").nth(4).inner_text())  # under 200 the threshold is said to be rough
    assert ("rough: fitted on too few frames" in row.inner_text()) == (frames < 200)
    ui.shot("train")
    ui.go("videos")
    page.locator("tr[data-video] select").first.select_option("oneclass")
    detector = page.locator("tr[data-video] select").nth(1)
    assert "entrance" in detector.inner_text()


def test_models_page(ui):
    ui.go("models")
    ui.page.wait_for_selector("table td:text-is('motion')")
    ui.shot("models")


def test_keyboard_reaches_every_page(ui):
    page = ui.page
    ui.go("videos")
    page.wait_for_selector("h1:text-is('Videos')")
    page.locator("nav a[data-page=events]").focus()
    page.keyboard.press("Enter")
    page.wait_for_selector("h1:text-is('Events')")
    page.keyboard.press("Tab")  # focus goes on into the page
    assert page.evaluate("document.activeElement.tagName") in ("SELECT", "INPUT", "A", "BUTTON", "MAIN")


def test_sixty_minute_result_draws_fast(ui, server):
    result_id = store_one_hour_result(server.data)
    t0 = time.perf_counter()
    ui.go(f"result/{result_id}")
    ui.page.wait_for_selector("#chart[data-drawn-ms]")
    wall = time.perf_counter() - t0
    drawn = int(ui.page.get_attribute("#chart", "data-drawn-ms"))
    ys = ui.page.evaluate("document.getElementById('chart').data[0].y")
    assert len(ys) <= 4002 and max(ys) == pytest.approx(29.0)
    assert sorted(y for y in ys if y >= 5) == pytest.approx(list(5.0 + np.arange(25)))  # every peak kept
    print(f"\n60-minute result (108000 frame scores): page opened and drew in {wall:.3f} s (in-page {drawn} ms)")
    assert wall < 3.0  # the < 1 s target is measured in benchmarks/bench_server.py; this catches a regression


def test_phone_sized_screen(ui):
    page = ui.page
    page.set_viewport_size({"width": 390, "height": 844})
    try:
        for name in ("videos", "cameras", "events"):
            ui.go(name)
            page.wait_for_selector(f"h1:text-is('{name.title()}')")
            page.wait_for_timeout(300)
            assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth + 1"), name
            ui.shot(f"phone-{name}")
        page.goto(ui.state["result_url"])
        page.wait_for_selector("#chart[data-drawn-ms]")
        assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth + 1")
        ui.shot("phone-result")
    finally:
        page.set_viewport_size({"width": 1280, "height": 800})


def test_api_docs_load_from_the_server(ui):
    ui.page.goto(f"{ui.server.url}/docs")
    ui.page.get_by_text("/api/v1/analyses", exact=True).first.wait_for()
    ui.shot("api-docs")


def test_cameras_page_live_tile_events_and_feedback(ui):
    """A file under --media added as a camera (played in real time): its tile shows the picture, a rolling
    chart with the threshold, the fight's event as it opens and once it has ended; a false alarm is recorded."""
    page = ui.page
    ui.go("cameras")
    page.wait_for_selector("#no-cameras")
    page.fill("#cam-url", str(shared_data() / FIGHT))
    page.fill("#cam-name", "lobby")
    page.fill("#cam-threshold", "1.0")
    page.click("#cam-add")
    tile = page.locator("section.tile[data-camera=lobby]")
    tile.wait_for(timeout=30_000)
    page.wait_for_function("document.querySelector('[data-camera=lobby] img.live')?.naturalWidth > 0", timeout=60_000)
    page.wait_for_function("Number(document.querySelector('[data-camera=lobby] .live-chart').dataset.points) >= 6")
    assert "threshold 1.000 (given)" in tile.locator(".calibration").inner_text()
    assert tile.get_by_role("button", name="Restart").is_hidden()  # while the camera plays
    # the fight, as it happens (or, on a loaded machine whose heartbeat missed the open phase, once it has ended)
    page.wait_for_selector(
        "[data-camera=lobby] .open-event .state, [data-camera=lobby] li.event[data-state=ended]", timeout=90_000
    )
    ui.shot("cameras-open-event")
    ended = tile.locator("li.event[data-state=ended]").first
    ended.wait_for(timeout=90_000)
    assert ended.locator("img").count() == 1
    drawn = page.evaluate("Math.max(...document.querySelector('[data-camera=lobby] .live-chart').data[0].y)")
    assert drawn >= 1.0  # the chart shows the scores that crossed the threshold
    ended.get_by_role("button", name="False alarm").click()
    page.wait_for_selector("[data-camera=lobby] li.event[data-state=ended] .state.false_alarm")
    ui.shot("cameras")


def test_an_explained_event_masks_zones_and_snooze_on_the_tile(ui):
    """The lobby's ended event says in words what was unusual, its snapshot shows the box; a mask and a zone are
    drawn on the picture and saved; the camera is snoozed from its tile."""
    from PIL import Image

    page = ui.page
    tile = page.locator("section.tile[data-camera=lobby]")
    ended = tile.locator("li.event[data-state=ended]").first
    assert any(w in ended.locator("p.small").first.inner_text() for w in ("motion", "moves", "picture"))
    with ui.server.client() as c:
        event = next(e for e in c.get("/cameras/lobby/events").json() if e["state"] == "ended")
        snapshot = c.get(f"/camera-events/{event['id']}/snapshot.jpg")
    assert event["box"] and event["reason"] and snapshot.status_code == 200
    pixels = np.asarray(Image.open(io.BytesIO(snapshot.content)).convert("RGB")).astype(int)
    red = (np.abs(pixels - np.array([255, 64, 32])).max(axis=2) < 60).sum()
    assert red > 30, red  # the box is drawn on the snapshot

    tile.get_by_role("button", name="Edit areas").click()
    area = tile.locator("svg.areas")
    box = area.bounding_box()

    def corner(x: float, y: float) -> None:
        page.mouse.click(box["x"] + x * box["width"], box["y"] + y * box["height"])

    for x, y in ((0.02, 0.02), (0.3, 0.02), (0.3, 0.25)):  # a mask in the top left corner
        corner(x, y)
    tile.get_by_role("button", name="Finish shape").click()
    tile.locator("select.area-kind").select_option("zone")
    tile.locator("input.area-name").fill("floor")
    for x, y in ((0.01, 0.6), (0.99, 0.6), (0.99, 0.99), (0.01, 0.99)):  # the lower part of the picture
        corner(x, y)
    tile.get_by_role("button", name="Finish shape").click()
    tile.get_by_role("button", name="Save areas").click()
    page.wait_for_selector("[data-camera=lobby] svg.areas polygon.zone[data-zone=floor]")
    assert tile.locator("svg.areas polygon.mask").count() == 1
    ui.shot("cameras-zones")
    tile.get_by_role("button", name="Done").click()
    with ui.server.client() as c:
        zones = c.get("/cameras/lobby").json()["zones"]
    assert len(zones["masks"]) == 1 and zones["zones"][0]["name"] == "floor"
    (x0, y0), (x1, y1) = zones["zones"][0]["polygon"][0], zones["zones"][0]["polygon"][2]
    assert abs(x0 - 0.01) < 0.02 and abs(y0 - 0.6) < 0.02 and abs(x1 - 0.99) < 0.02 and abs(y1 - 0.99) < 0.02

    tile.get_by_role("button", name="Snooze 30 min").click()
    page.wait_for_selector("[data-camera=lobby] .alerting[data-state=snoozed]")
    assert "until" in tile.locator(".alerting").inner_text()
    with ui.server.client() as c:
        assert c.get("/cameras/lobby").json()["alerting"]["state"] == "snoozed"
    ui.shot("cameras-snoozed")


def test_no_console_errors_and_nothing_fetched_from_elsewhere(ui):
    assert ui.errors == []
    foreign = [u for u in ui.requests if not u.startswith((ui.server.url, "data:", "blob:", "about:"))]
    assert foreign == []
    assert any(u.endswith("/static/plotly.min.js") for u in ui.requests)


def test_bad_uploads_show_a_readable_message(ui, tmp_path):
    page = ui.page
    ui.go("videos")
    page.wait_for_selector("tr[data-video]")  # the upload of the first test
    rows = page.locator("tr[data-video]").count()
    text = tmp_path / "report.mp4"
    text.write_text("not a video at all\n" * 20)
    empty = tmp_path / "zero.mp4"
    empty.write_bytes(b"")
    for path, words in ((text, "report.mp4: not a video"), (empty, "empty")):
        page.set_input_files("#file", str(path))
        toast = "document.getElementById('toast')"
        page.wait_for_function(f"!{toast}.hidden && {toast}.textContent.includes({words!r})")
        assert "Upload refused" in page.inner_text("#toast")
        page.evaluate("document.getElementById('toast').hidden = true")
    ui.shot("bad-upload")
    assert page.locator("tr[data-video]").count() == rows
