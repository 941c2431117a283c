"""Live monitoring against real servers started here on 127.0.0.1: GStreamer's RTSP server (Debian's
gir1.2-gst-rtsp-server-1.0, under Debian's own Python) serving a real UCF-Crime video, an MJPEG-over-HTTP
stream, Mosquitto (Debian) for MQTT, and an HTTP receiver for signed webhooks.

These run in real time: each RTSP test takes about as long as its video (37 s).
"""

from __future__ import annotations

import http.server
import json
import threading
import time
from typing import ClassVar

import av
import numpy as np
import pytest

from oddsight.live.alerts import MqttSink, WebhookSink, sign
from oddsight.live.engine import make_engine
from oddsight.live.monitor import CLIP_PRE_S, Monitor
from oddsight.options import DetectOptions
from tests.conftest import shared_data
from tests.live_servers import FIGHT, RtspServer
from tests.server_process import free_port

THRESHOLD = 1.0


def _engine():
    return make_engine(DetectOptions.parse({"threshold": THRESHOLD}).to_config(), warmup_s=0)


def test_rtsp_event_live_with_clip_alerts_and_the_file_scores(rtsp, mosquitto, webhook, tmp_path):
    import paho.mqtt.client as mqtt

    received: list[tuple[str, dict | str, bool]] = []
    sub = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2)
    sub.on_message = lambda c, u, m: received.append(
        (m.topic, json.loads(m.payload) if m.payload.startswith(b"{") else m.payload.decode(), m.retain)
    )
    sub.connect("127.0.0.1", mosquitto)
    sub.subscribe("oddsight/#", qos=1)
    sub.loop_start()
    hook_url, got = webhook
    down = f"http://127.0.0.1:{free_port()}/nobody-listens"
    sinks = [
        WebhookSink(hook_url, secret="hook-secret"),
        WebhookSink(down, timeout_s=1, retries=2),  # down: must not stall scoring
        MqttSink(f"mqtt://127.0.0.1:{mosquitto}/oddsight", "door"),
    ]
    monitor = Monitor(rtsp.url, _engine(), 2.0, out=tmp_path / "clips", sinks=sinks, camera="door")
    t0 = time.monotonic()
    monitor.run(max_seconds=36)
    live_s = time.monotonic() - t0
    for sink in sinks[:1] + sinks[2:]:
        sink.close()
    time.sleep(1)
    sub.loop_stop()

    types = [m["type"] for m in monitor.messages]
    assert types[0] == "new" and types[-1] == "end", types
    first = monitor.messages[0]["event"]["id"]  # the fight (later ones may follow: its aftermath)
    event = next(m["event"] for m in monitor.messages if m["type"] == "end" and m["event"]["id"] == first)
    assert 18 <= event["start_s"] <= 28 and event["end_s"] <= 37, event
    with av.open(event["clip"]) as c:  # remuxed from the RTSP packets: plays, and spans the event
        times = [float(f.time) for f in c.decode(c.streams.video[0])]
    assert times[-1] - times[0] >= event["end_s"] - event["start_s"]
    assert live_s < 45  # the dead webhook's retries did not hold scoring back

    # the file's scores: the RTSP client joins a few frames in (at the first decodable one), so its memory holds
    # slightly different frames; the scores track the file's closely and the event is the same
    from_file = Monitor(str(shared_data() / FIGHT), _engine(), 2.0)
    from_file.run(max_seconds=36)
    t_file = np.array([t for _, t, _, _ in from_file.scores])
    s_file = np.array([s for _, _, _, s in from_file.scores])
    s_live = np.array([s for _, _, _, s in monitor.scores])
    nearest = s_file[np.abs(t_file[None, :] - np.array([t for _, t, _, _ in monitor.scores])[:, None]).argmin(axis=1)]
    assert np.corrcoef(s_live, nearest)[0, 1] > 0.9
    ended = [m["event"] for m in from_file.messages if m["type"] == "end"]
    assert any(f["start_s"] < event["end_s"] and event["start_s"] < f["end_s"] for f in ended), (ended, event)

    # webhook: every message, signed
    assert [p["type"] for p, _, _ in got] == types
    for payload, signature, raw in got:
        assert signature == sign("hook-secret", raw)
        assert set(payload["event"]) >= {"id", "start_frame", "end_frame", "start_s", "end_s", "peak_s", "peak_score"}
        assert payload["camera"] == "door"
    assert sinks[1].failed >= 1 and sinks[1].delivered == 0

    # MQTT: the same bodies on oddsight/door/events, and a retained availability
    events = [p for topic, p, _ in received if topic == "oddsight/door/events"]
    assert [p["type"] for p in events] == types
    assert ("oddsight/door/availability", "online") in [(t, p) for t, p, _ in received]
    assert any(t == "oddsight/door/events/new" for t, _, _ in received)


def test_rtsp_outage_reconnects_and_keeps_scoring(rtsp, tmp_path):
    monitor = Monitor(rtsp.url, _engine(), 2.0, out=tmp_path / "clips", camera="gate")
    opened = []
    open_stream = monitor.stream._open
    monitor.stream._open = lambda: opened.append(open_stream()) or opened[-1]
    runner = threading.Thread(target=monitor.run, kwargs={"max_seconds": 20}, daemon=True)
    runner.start()
    time.sleep(8)
    before = len(monitor.scores)
    rtsp.stop()  # the camera goes away for 20 s
    time.sleep(20)
    during = len(monitor.scores)
    rtsp.start()
    runner.join(90)
    assert not runner.is_alive()
    stats = monitor.stream.stats
    assert stats.reconnects >= 1 and stats.outages and stats.outages[0]["s"] >= 15
    assert len(monitor.scores) > during >= before > 5  # scoring went on after the camera came back
    outages = [json.loads(x) for x in (tmp_path / "clips" / "gate" / "outages.jsonl").read_text().splitlines()]
    assert outages and outages[0]["type"] == "outage" and outages[0]["s"] >= 15
    # and a camera-health event of its own, new and ended once the camera is back
    logged = [json.loads(x) for x in (tmp_path / "clips" / "gate" / "events.jsonl").read_text().splitlines()]
    offline = [m for m in logged if m.get("event", {}).get("kind") == "tamper"]
    assert [m["type"] for m in offline] == ["new", "end"] and offline[0]["event"]["label"] == "offline"
    assert "offline for" in offline[0]["event"]["reason"]
    # its clip remuxed with the new connection's stream, and the lost connection closed as soon as it was replaced
    with av.open(offline[1]["event"]["clip"]) as clip:
        assert sum(1 for _ in clip.decode(video=0)) > 0
    with pytest.raises(AssertionError, match="not open"):
        next(opened[0].demux())


def _scaled(src, dst, size: tuple[int, int]):
    """``src`` re-encoded at ``size`` (H.264 with B-frames, a keyframe each second): a camera's main stream."""
    with av.open(str(src)) as inp, av.open(str(dst), "w") as out:
        stream = out.add_stream("libx264", rate=inp.streams.video[0].average_rate)
        stream.width, stream.height, stream.pix_fmt = *size, "yuv420p"
        stream.options = {"preset": "ultrafast", "g": "30", "bf": "2"}
        for frame in inp.decode(video=0):
            for packet in stream.encode(frame.reformat(width=size[0], height=size[1], format="yuv420p")):
                out.mux(packet)
        for packet in stream.encode():
            out.mux(packet)
    return dst


def _grey(frame) -> np.ndarray:
    return frame.to_ndarray(format="gray", width=80, height=60).astype(np.float32)


def test_clips_are_cut_from_the_main_stream_while_the_substream_is_scored(rtsp, tmp_path):
    """A camera's low-resolution substream is scored and its main stream (here 640x480) only kept, never decoded:
    the event's clip is the main stream's, at the event's moment (its first frame is the source's frame from
    about CLIP_PRE_S before the event, back to a keyframe); the snapshot is the substream's."""
    main = RtspServer(_scaled(shared_data() / FIGHT, tmp_path / "main.mp4", (640, 480))).start()
    try:
        monitor = Monitor(rtsp.url, _engine(), 2.0, out=tmp_path / "clips", camera="yard", record_url=main.url)
        monitor.run(max_seconds=36)
    finally:
        main.stop()
    assert monitor.recorder.stats.decoded == 0 and monitor.status()["record"]["reconnects"] == 0
    # the substream's packets are not kept (no clip is cut from it); the main stream's were spooled on disk, and
    # the spool is gone once the camera stops
    assert not monitor.stream._ring and monitor.recorder.spool is not None
    assert not (tmp_path / "clips" / "yard" / ".packets").exists()
    event = next(m["event"] for m in monitor.messages if m["type"] == "end" and m["event"]["kind"] == "anomaly")
    assert 18 <= event["start_s"] <= 28, event
    with av.open(event["clip"]) as clip:
        assert (clip.streams.video[0].width, clip.streams.video[0].height) == (640, 480)
        frames = list(clip.decode(video=0))
    assert float(frames[-1].time - frames[0].time) >= event["end_s"] - event["start_s"]
    with av.open(str(shared_data() / FIGHT)) as source:
        originals = [(float(f.time), _grey(f)) for f in source.decode(video=0)]
    first = _grey(frames[0])
    t_first = min(originals, key=lambda o: float(np.abs(o[1] - first).mean()))[0]
    assert event["start_s"] - CLIP_PRE_S - 2.0 <= t_first <= event["start_s"] - CLIP_PRE_S + 0.5, (t_first, event)
    with av.open(event["snapshot"]) as snapshot:
        assert next(snapshot.decode(video=0)).width < 640  # the substream's picture (320 wide, and a margin)


class Mjpeg(http.server.BaseHTTPRequestHandler):
    frames: ClassVar[list[bytes]] = []

    def do_GET(self) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "multipart/x-mixed-replace; boundary=frame")
        self.end_headers()
        try:
            for jpeg in Mjpeg.frames:
                self.wfile.write(b"--frame\r\nContent-Type: image/jpeg\r\n")
                self.wfile.write(f"Content-Length: {len(jpeg)}\r\n\r\n".encode() + jpeg + b"\r\n")
                time.sleep(0.1)
        except (BrokenPipeError, ConnectionResetError):
            return

    def log_message(self, *args) -> None:
        return None


def test_mjpeg_over_http(tmp_path):
    import io

    with av.open(str(shared_data() / FIGHT)) as c:
        Mjpeg.frames = []
        for i, frame in enumerate(c.decode(c.streams.video[0])):
            if i % 3 == 0:  # 10 fps
                buf = io.BytesIO()
                frame.to_image().save(buf, format="JPEG", quality=80)
                Mjpeg.frames.append(buf.getvalue())
            if len(Mjpeg.frames) >= 100:
                break
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Mjpeg)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        url = f"http://127.0.0.1:{server.server_address[1]}/cam.mjpg"
        monitor = Monitor(url, _engine(), 2.0, camera="mjpeg")
        monitor.stream.reconnect = False
        monitor.run(max_seconds=8)
    finally:
        server.shutdown()
    assert len(monitor.scores) >= 12 and monitor.stream.stats.decoded >= 70


def _subscriber(port: int, topics: tuple[str, ...], got: list[tuple[str, str, bool]]):
    import paho.mqtt.client as mqtt

    sub = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2)
    sub.on_message = lambda c, u, m: got.append((m.topic, m.payload.decode(), m.retain))
    sub.connect("127.0.0.1", port)
    for topic in topics:
        sub.subscribe(topic, qos=1)
    sub.loop_start()
    return sub


def test_home_assistant_discovers_the_camera_and_sees_its_states(mosquitto):
    got: list[tuple[str, str, bool]] = []
    sub = _subscriber(mosquitto, ("homeassistant/#", "site/#"), got)
    sink = MqttSink(f"mqtt://127.0.0.1:{mosquitto}/site", "door")
    monitor = Monitor(str(shared_data() / FIGHT), _engine(), 2.0, sinks=[sink], camera="door")
    monitor.run(max_seconds=36)
    sink.close()
    time.sleep(1)
    sub.loop_stop()
    configs = {t: json.loads(p) for t, p, _ in got if t.startswith("homeassistant/")}
    anomaly = configs["homeassistant/binary_sensor/oddsight_door/anomaly/config"]
    assert anomaly["state_topic"] == "site/door/anomaly" and anomaly["availability_topic"] == "site/door/availability"
    assert anomaly["device"]["identifiers"] == ["oddsight_door"]
    assert configs["homeassistant/binary_sensor/oddsight_door/tamper/config"]["device_class"] == "tamper"
    assert configs["homeassistant/sensor/oddsight_door/score/config"]["state_topic"] == "site/door/score"
    states = [p for t, p, _ in got if t == "site/door/anomaly"]
    assert states[0] == "ON"  # on from the new message, off at its end
    assert states[-1] == "OFF"
    assert [p for t, p, _ in got if t == "site/door/availability"][-1] == "offline"
    scores = [float(p) for t, p, _ in got if t == "site/door/score"]
    assert scores and all(np.isfinite(scores))
    # Home Assistant started later still finds the camera: the discovery configs and the last state are retained
    late: list[tuple[str, str, bool]] = []
    later = _subscriber(mosquitto, ("homeassistant/#", "site/door/anomaly"), late)
    time.sleep(1)
    later.loop_stop()
    assert {t for t, _, retained in late if retained} >= set(configs) | {"site/door/anomaly"}
    assert dict((t, p) for t, p, _ in late)["site/door/anomaly"] == "OFF"
