"""Cameras per machine: how many live streams of real footage (720p H.264, 25 fps) this machine scores at 2 fps
each in real time: the worst lag under 2 s and under 0.5 % of the sampled frames dropped (the issue's bar).

A 720p 25 fps H.264 file is made once from a ../shared video (scaled up), served by GStreamer's RTSP server
(Debian's gir1.2-gst-rtsp-server-1.0; one pipeline per client, no transcoding), and N monitors watch it in one
process for --seconds. For each N: the worst lag (decode to scored), how far decoding fell behind the stream,
frames dropped, CPU per camera, the process's RSS (at --rss-at seconds and at the end: memory must stay flat),
and where the time went (decode, resize, encode, score).

``--latency`` measures instead the time from the first anomalous frame on the wire to the MQTT ``new`` message:
Mosquitto (Debian) is started, one RTSP camera serves UCF-Crime's Fighting033 (the fight starts at 19.0 s), and
the first frame's arrival fixes when each later frame was sent (the server paces the file in real time).

    .venv/bin/python benchmarks/bench_live.py [--cameras 2,4,8,12] [--seconds 600] [--fps 2] [--rss-at 300]
    .venv/bin/python benchmarks/bench_live.py --latency [--runs 3]
    .venv/bin/python benchmarks/bench_live.py --serve --cameras 8 [--seconds 600]

``--serve`` runs the cameras inside ``oddsight serve`` instead (one process per camera, added through the API),
polling ``GET /api/v1/cameras`` every 2 s for each camera's worst lag (its start included), and reading each
camera process's CPU time and RSS; frames dropped while the cameras started are printed apart.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import threading
import time
from fractions import Fraction
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
SOURCE = ROOT.parent / "shared" / "data" / "ucf_crime" / "videos" / "Normal_Videos_641_x264.mp4"

from tests.server_process import free_port  # noqa: E402


def make_720p(src: Path, dst: Path, seconds: float, size: tuple[int, int] = (1280, 720)) -> Path:
    """``seconds`` of 720p (or ``size``) 25 fps H.264 from ``src`` (30 fps), played forwards and backwards as often
    as needed (no jump at the seams, so the footage stays as calm as the source)."""
    import av

    with av.open(str(src)) as inp:
        frames = [f for n, f in enumerate(inp.decode(inp.streams.video[0])) if n % 6 != 5]  # 30 -> 25 fps
    wanted = int(seconds * 25)
    with av.open(str(dst), "w", format="mp4") as out:
        stream = out.add_stream("libx264", rate=Fraction(25))
        stream.width, stream.height, stream.pix_fmt = *size, "yuv420p"
        stream.options = {"preset": "veryfast", "crf": "23", "g": "50", "bf": "0"}
        cycle = frames + frames[-2:0:-1]
        for n in range(wanted):
            image = cycle[n % len(cycle)].reformat(width=size[0], height=size[1], format="yuv420p")
            image.pts, image.time_base = n, Fraction(1, 25)
            for packet in stream.encode(image):
                out.mux(packet)
        for packet in stream.encode():
            out.mux(packet)
    return dst


def rss_mb() -> float:
    with open("/proc/self/status") as f:
        return next(int(line.split()[1]) for line in f if line.startswith("VmRSS:")) / 1024


def run(url: str, cameras: int, seconds: float, fps: float, rss_at: float) -> dict:
    from oddsight.live.engine import make_engine
    from oddsight.live.monitor import Monitor
    from oddsight.options import DetectOptions

    config = DetectOptions.parse({"threshold": 1e9}).to_config()  # no events: the cost of watching alone
    monitors = [Monitor(url, make_engine(config, warmup_s=0), fps, camera=f"cam{i}") for i in range(cameras)]
    worst = {"lag": 0.0, "behind": 0.0, "rss_at": None, "rss_start": rss_mb()}
    stop = threading.Event()

    def sample() -> None:
        while not stop.wait(0.5):
            for m in monitors:
                worst["lag"] = max(worst["lag"], m.stream.stats.worst_lag_s)
                worst["behind"] = max(worst["behind"], m.stream.stats.behind_s)
            if worst["rss_at"] is None and time.monotonic() - wall0 >= rss_at:
                worst["rss_at"] = rss_mb()

    threads = [threading.Thread(target=m.run, kwargs={"max_seconds": seconds}, daemon=True) for m in monitors]
    sampler = threading.Thread(target=sample, daemon=True)
    cpu0, wall0 = time.process_time(), time.monotonic()
    for t in threads:
        t.start()
    sampler.start()
    for t in threads:
        t.join(seconds * 3 + 60)
    wall = time.monotonic() - wall0
    cpu = time.process_time() - cpu0
    rss_end = rss_mb()
    stop.set()
    scored = sum(len(m.scores) for m in monitors)
    dropped = sum(m.stream.stats.dropped for m in monitors)
    stages = {key: sum(m.timings.get(key, 0.0) for m in monitors) for key in ("resize", "encode", "score")}
    return {
        "cameras": cameras,
        "wall": wall,
        "cpu_per_camera": cpu / wall / cameras,
        "lag": worst["lag"],
        "behind": worst["behind"],
        "scored": scored,
        "expected": int(cameras * seconds * fps),
        "dropped": dropped,
        "outages": sum(len(m.stream.stats.outages) for m in monitors),
        "rss": (worst["rss_start"], worst["rss_at"], rss_end),
        "stages": {k: 1000 * v / max(scored, 1) for k, v in stages.items()},  # ms of wall per scored frame
    }


FIGHT = ROOT.parent / "shared" / "data" / "ucf_crime" / "videos" / "Fighting033_x264.mp4"
FIGHT_STARTS_S = 19.0  # frame 570 at 30 fps (Temporal_Anomaly_Annotation.txt)


def start_rtsp(video: Path) -> tuple[subprocess.Popen, str]:
    server = subprocess.Popen(
        ["/usr/bin/python3", str(ROOT / "tests" / "rtsp_server.py"), str(free_port()), str(video)],
        stdout=subprocess.PIPE,
        text=True,
    )
    return server, server.stdout.readline().strip()


def latency(runs: int, fps: float, options: dict) -> None:
    """Seconds from the fight's first frame on the wire to the MQTT ``new`` message, per run."""
    import json
    import shutil

    import paho.mqtt.client as mqtt

    from oddsight.live.alerts import MqttSink
    from oddsight.live.engine import make_engine
    from oddsight.live.monitor import Monitor
    from oddsight.options import DetectOptions

    port = free_port()
    with tempfile.TemporaryDirectory() as tmp:
        conf = Path(tmp) / "mosquitto.conf"
        conf.write_text(f"listener {port} 127.0.0.1\nallow_anonymous true\npersistence false\n")
        broker = subprocess.Popen([shutil.which("mosquitto") or "/usr/sbin/mosquitto", "-c", str(conf)])
        server, url = start_rtsp(FIGHT)
        time.sleep(1)
        try:
            for n in range(runs):
                arrived: list[float] = []
                sub = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2)
                sub.on_message = lambda c, u, m, got=arrived: (
                    json.loads(m.payload)["type"] == "new" and got.append(time.time())
                )
                sub.connect("127.0.0.1", port)
                sub.subscribe("oddsight/+/events", qos=1)
                sub.loop_start()
                config = DetectOptions.parse({"threshold": 1.0, **options}).to_config()
                sink = MqttSink(f"mqtt://127.0.0.1:{port}/oddsight", "door")
                # when the stream's t = 0 went out: no frame arrives before it is sent, so the least delayed frame
                # (the smallest decode time minus stream time) fixes it; the first frames come in a burst
                sent_at_zero = [float("inf")]

                def earliest(update, frame, zero=sent_at_zero) -> None:
                    zero[0] = min(zero[0], frame.wall - frame.t)

                monitor = Monitor(url, make_engine(config, warmup_s=0), fps, sinks=[sink], on_update=earliest)
                monitor.run(max_seconds=FIGHT_STARTS_S + 8)
                sink.close()
                time.sleep(0.5)
                sub.loop_stop()
                if not arrived:
                    print(f"run {n + 1}: no MQTT new message")
                    continue
                new = next(m["event"] for m in monitor.messages if m["type"] == "new")
                wire = sent_at_zero[0] + FIGHT_STARTS_S
                print(
                    f"run {n + 1}: first anomalous frame on the wire -> MQTT new {arrived[0] - wire:.2f} s "
                    f"(event opened at stream {new['start_s']:.1f} s, fight starts {FIGHT_STARTS_S:.1f} s; "
                    f"min event {config.min_event_s:g} s and smoothing {config.effective_smooth_s:g} s included)"
                )
        finally:
            server.kill()
            broker.kill()


def _proc(pid: int) -> tuple[float, float]:
    """(CPU seconds, RSS MB) of a process."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    cpu = (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    with open(f"/proc/{pid}/status") as f:
        rss = next(int(line.split()[1]) for line in f if line.startswith("VmRSS:")) / 1024
    return cpu, rss


def _rss_parts(pids: list[int]) -> tuple[float, float]:
    """The processes' anonymous memory and file-backed pages (libraries, the model) in RSS, MB summed."""
    anon = file = 0.0
    for pid in pids:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith(("RssAnon:", "RssFile:")):
                    kb = int(line.split()[1]) / 1024
                    anon, file = (anon + kb, file) if line.startswith("RssAnon") else (anon, file + kb)
    return anon, file


def _rollup(pid: int) -> dict[str, float]:
    """A process's memory from ``/proc/PID/smaps_rollup``, MB: Rss, Pss (shared pages divided among their sharers),
    and Uss (its private pages: what it alone costs)."""
    kb: dict[str, float] = {}
    with open(f"/proc/{pid}/smaps_rollup") as f:
        for line in f:
            parts = line.split()
            if len(parts) == 3 and parts[2] == "kB":
                kb[parts[0].rstrip(":")] = float(parts[1])
    uss = kb.get("Private_Clean", 0.0) + kb.get("Private_Dirty", 0.0)
    return {"rss": kb.get("Rss", 0.0) / 1024, "pss": kb.get("Pss", 0.0) / 1024, "uss": uss / 1024}


def _memory(pids: list[int], server: int) -> dict[str, float]:
    """Per camera: the camera processes' RSS, PSS and USS, averaged, and PSS with the fork server's share (the
    process they are forked from, which holds what they share) spread over them."""
    parts = [_rollup(p) for p in pids]
    per = {k: sum(m[k] for m in parts) / max(len(parts), 1) for k in ("rss", "pss", "uss")}
    parents = {int(Path(f"/proc/{p}/stat").read_text().rsplit(")", 1)[1].split()[1]) for p in pids}
    forkserver = sum(_rollup(p)["pss"] for p in parents - {server})
    per["pss_with_forkserver"] = per["pss"] + forkserver / max(len(parts), 1)
    return per


def run_served(
    url: str,
    cameras: int,
    seconds: float,
    fps: float,
    rss_at: float,
    rss_every: float = 0.0,
    substream: str | None = None,
) -> dict:
    """N cameras watched by one ``oddsight serve`` (a process each), for ``seconds``; with ``substream``, each
    camera scores that low-resolution stream and keeps ``url`` (its main stream) for clips."""
    from oddsight.server.camera_store import CameraStore
    from oddsight.server.store import Store
    from tests.server_process import Server

    with tempfile.TemporaryDirectory() as tmp:
        srv = Server(Path(tmp) / "data", [], "--workers", "0").start()
        try:
            client = srv.client()
            for i in range(cameras):  # no events: the cost of watching alone
                # one source is one camera: each logs in as another user (the test server asks for no password)
                own = url.replace("rtsp://", f"rtsp://viewer{i}:x@")
                body = {"url": own, "name": f"cam{i}", "threshold": 1e9, "fps": fps}
                if substream:
                    body.update(url=substream.replace("rtsp://", f"rtsp://viewer{i}:x@"), record_url=own)
                reply = client.post("/cameras", json=body)
                reply.raise_for_status()
            store = CameraStore(Store(Path(tmp) / "data"))
            deadline = time.monotonic() + 120
            while time.monotonic() < deadline:  # every camera's process up and scoring
                rows = client.get("/cameras").json()
                if all(r["status"] and r["status"]["stream"]["sampled"] > 0 for r in rows):
                    break
                time.sleep(1)
            pids = [r["worker_pid"] for r in store.cameras()]
            start = {p: _proc(p) for p in pids}
            base_rows = client.get("/cameras").json()
            base = {r["id"]: r["status"]["stream"]["sampled"] for r in base_rows}
            dropped_before = sum(r["status"]["stream"]["dropped"] for r in base_rows)  # while the cameras started
            worst = {"lag": 0.0, "behind": 0.0}
            rss_mid, sampled_at = None, 0.0
            t0 = time.monotonic()
            drops, dropped_so_far = [], dropped_before  # (second of the span, frames dropped in the last 2 s)
            while time.monotonic() - t0 < seconds:
                time.sleep(2)
                polled = client.get("/cameras").json()
                for r in polled:
                    worst["lag"] = max(worst["lag"], r["status"]["stream"]["worst_lag_s"])
                    worst["behind"] = max(worst["behind"], r["status"]["stream"]["behind_s"])
                now_dropped = sum(r["status"]["stream"]["dropped"] for r in polled)
                if now_dropped > dropped_so_far:
                    drops.append((round(time.monotonic() - t0), now_dropped - dropped_so_far))
                dropped_so_far = now_dropped
                if rss_mid is None and time.monotonic() - t0 >= rss_at:
                    rss_mid = sum(_proc(p)[1] for p in pids)
                if rss_every and time.monotonic() - t0 >= sampled_at + rss_every:  # RSS over time, and what it is
                    sampled_at += rss_every
                    anon, file = _rss_parts(pids)
                    print(f"  {sampled_at:6.0f} s: RSS {anon + file:.0f} MB (anonymous {anon:.0f}, file {file:.0f})")
            wall = time.monotonic() - t0
            ended = [p for p in pids if not Path(f"/proc/{p}").exists()]
            if ended:  # a camera process died (and was restarted): say so, with the server's log
                print(f"  {len(ended)} camera process(es) ended during the run; the server log says:")
                print("\n".join(srv.log.read_text().splitlines()[-40:]))
                pids = [p for p in pids if p not in ended]
            end = {p: _proc(p) for p in pids}
            memory = _memory(pids, srv.proc.pid)
            rows = client.get("/cameras").json()
        finally:
            srv.stop()
    stats = [r["status"]["stream"] for r in rows]
    scored = sum(s["sampled"] for s in stats) - sum(base.values())
    timings = [r["status"]["timings"] for r in rows]
    total = max(sum(s["sampled"] for s in stats), 1)
    stages = {"decode": sum(s["decode_s"] for s in stats)}
    stages.update({k: sum(t.get(k, 0.0) for t in timings) for k in ("resize", "encode", "score")})
    return {
        "cameras": cameras,
        "wall": wall,
        "cpu_per_camera": sum(end[p][0] - start[p][0] for p in pids) / wall / max(len(pids), 1),
        "lag": worst["lag"],
        "behind": worst["behind"],
        "scored": scored,
        "expected": int(cameras * wall * fps),
        "dropped": sum(s["dropped"] for s in stats) - dropped_before,
        "dropped_at_start": dropped_before,
        "drops": drops,
        "outages": sum(len(s["outages"]) for s in stats),
        "rss": (sum(start[p][1] for p in pids), rss_mid, sum(end[p][1] for p in pids)),
        "memory": memory,
        "stages": {k: 1000 * v / total for k, v in stages.items()},  # ms per scored frame (decode: CPU ms)
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--cameras", default="2,4,8,12", help="camera counts to try, in order")
    parser.add_argument("--seconds", type=float, default=600.0, help="stream seconds per try")
    parser.add_argument("--fps", type=float, default=2.0)
    parser.add_argument("--rss-at", type=float, default=300.0, help="when to take the first RSS sample (s)")
    parser.add_argument("--rss-every", type=float, default=0.0, help="--serve: print the RSS every so many seconds")
    parser.add_argument(
        "--file-seconds", type=float, default=900.0, help="the stream file's length: past it each stream starts over"
    )
    parser.add_argument(
        "--substream",
        action="store_true",
        help="--serve: each camera scores a 640x360 substream of the same footage and keeps the 720p main stream "
        "(read, not decoded) for clips, as NVRs do",
    )
    parser.add_argument("--latency", action="store_true", help="measure event latency to MQTT instead")
    parser.add_argument("--serve", action="store_true", help="the cameras inside oddsight serve, a process each")
    parser.add_argument("--runs", type=int, default=3, help="latency runs")
    parser.add_argument("--min-event", type=float, default=None, help="latency: the watch option of that name")
    parser.add_argument("--smooth", type=float, default=None, help="latency: the watch option of that name")
    args = parser.parse_args()
    if args.latency:
        chosen = {"min_event": args.min_event, "smooth": args.smooth}
        latency(args.runs, args.fps, {k: v for k, v in chosen.items() if v is not None})
        return
    with tempfile.TemporaryDirectory() as tmp:
        t0 = time.monotonic()
        length = min(args.seconds + 20, args.file_seconds)
        video = make_720p(SOURCE, Path(tmp) / "cam720.mp4", length)
        print(f"made {video.stat().st_size / 1e6:.0f} MB of 720p H.264 in {time.monotonic() - t0:.0f} s")
        if args.seconds + 20 > length:
            print(f"note: the stream file is {length:g} s long; past it each stream starts over (a reconnect)")
        server, url = start_rtsp(video)
        sub_server, sub_url = None, None
        if args.substream:
            sub_video = make_720p(SOURCE, Path(tmp) / "cam360.mp4", length, (640, 360))
            sub_server, sub_url = start_rtsp(sub_video)
            print(f"substream {sub_url}: 640x360 H.264 25 fps of the same footage, scored; the 720p stream kept")
        where = "oddsight serve, a process per camera" if args.serve else "one process, a thread per camera"
        print(f"{os.cpu_count()} CPUs; {url} serving 720p H.264 25 fps ({SOURCE.name}); {args.fps:g} fps each; {where}")
        try:
            for n in (int(x) for x in args.cameras.split(",")):
                r = (
                    run_served(url, n, args.seconds, args.fps, args.rss_at, args.rss_every, sub_url)
                    if args.serve
                    else run(url, n, args.seconds, args.fps, args.rss_at)
                )
                ok = r["lag"] < 2.0 and r["behind"] < 2.0 and r["dropped"] < 0.005 * r["expected"]
                stages = ", ".join(f"{k} {v:.1f} ms" for k, v in r["stages"].items())
                start, at, end = r["rss"]
                flat = f"{100 * (end / at - 1):+.1f}% from {args.rss_at:g} s to the end" if at else "n/a"
                at_start = f" (and {r['dropped_at_start']} while the cameras started)" if args.serve else ""
                print(
                    f"{n:>3} cameras, {args.seconds:g} s: worst lag {r['lag']:.2f} s, decoding behind "
                    f"{r['behind']:.2f} s, {r['scored']}/{r['expected']} frames scored, {r['dropped']} dropped"
                    f"{at_start}, "
                    f"{r['outages']} outages; CPU {100 * r['cpu_per_camera']:.1f}% of a core per camera; RSS "
                    f"{start:.0f} MB at the start, {at or 0:.0f} MB at {args.rss_at:g} s, {end:.0f} MB at the end "
                    f"({flat})"
                    f"{' (the camera processes together)' if args.serve else ''}; per scored frame {stages} "
                    f"({'in each camera process' if args.serve else 'wall, in its camera thread: grows with the GIL'}) "
                    f"-> {'real time' if ok else 'NOT real time'}"
                )
                if args.serve and r["drops"]:  # when they fell: spread out, or all at once (work every camera does)
                    print("    dropped at: " + ", ".join(f"{t} s (+{n})" for t, n in r["drops"]))
                if args.serve:
                    m = r["memory"]
                    print(
                        f"    memory per camera process at the end: RSS {m['rss']:.0f} MB, PSS {m['pss']:.0f} MB "
                        f"({m['pss_with_forkserver']:.0f} MB with its share of the fork server), USS (its own) "
                        f"{m['uss']:.0f} MB"
                    )
        finally:
            server.kill()
            if sub_server is not None:
                sub_server.kill()


if __name__ == "__main__":
    main()
