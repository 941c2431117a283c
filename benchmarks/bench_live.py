"""Cameras per machine: how many live streams of real footage (720p H.264, 25 fps) this machine scores at 2 fps
each in real time, with the lag staying under 2 s.

A 720p 25 fps H.264 file is made once from a ../shared video (scaled up), served by GStreamer's RTSP server
(Debian's gir1.2-gst-rtsp-server-1.0; one pipeline per client, no transcoding), and N monitors watch it in one
process for --seconds. For each N: the worst lag (decode to scored), how far decoding fell behind the stream,
frames dropped, CPU per camera, and where the time went (decode, resize, encode, score).

    .venv/bin/python benchmarks/bench_live.py [--cameras 2,4,8,12] [--seconds 60] [--fps 2]
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


def make_720p(src: Path, dst: Path, seconds: float) -> Path:
    import av

    with av.open(str(src)) as inp, av.open(str(dst), "w", format="mp4") as out:
        stream = out.add_stream("libx264", rate=Fraction(25))
        stream.width, stream.height, stream.pix_fmt = 1280, 720, "yuv420p"
        stream.options = {"preset": "veryfast", "crf": "23", "g": "50", "bf": "0"}
        kept = 0
        for n, frame in enumerate(inp.decode(inp.streams.video[0])):
            if n % 6 == 5:  # keep 5 of every 6 frames: 30 -> 25 fps
                continue
            image = frame.reformat(width=1280, height=720, format="yuv420p")
            image.pts, image.time_base = kept, Fraction(1, 25)
            kept += 1
            for packet in stream.encode(image):
                out.mux(packet)
            if n + 1 >= seconds * 30:
                break
        for packet in stream.encode():
            out.mux(packet)
    return dst


def run(url: str, cameras: int, seconds: float, fps: float) -> dict:
    from oddsight.live.engine import make_engine
    from oddsight.live.monitor import Monitor
    from oddsight.options import DetectOptions

    config = DetectOptions.parse({"threshold": 1e9}).to_config()  # no events: the cost of watching alone
    monitors = [Monitor(url, make_engine(config, warmup_s=0), fps, camera=f"cam{i}") for i in range(cameras)]
    worst = {"lag": 0.0, "behind": 0.0}
    stop = threading.Event()

    def sample() -> None:
        while not stop.wait(0.5):
            for m in monitors:
                worst["lag"] = max(worst["lag"], m.stream.stats.lag_s)
                worst["behind"] = max(worst["behind"], m.stream.stats.behind_s)

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
        "stages": {k: 1000 * v / max(scored, 1) for k, v in stages.items()},  # ms of wall per scored frame
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--cameras", default="2,4,8,12", help="camera counts to try, in order")
    parser.add_argument("--seconds", type=float, default=100.0, help="stream seconds per try (the issue asks 600)")
    parser.add_argument("--fps", type=float, default=2.0)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        video = make_720p(SOURCE, Path(tmp) / "cam720.mp4", 120.0)  # the whole 2-minute source
        if args.seconds > 115:
            print("note: the source is 120 s; past it each stream starts over (a reconnect)")
        port = free_port()
        server = subprocess.Popen(
            ["/usr/bin/python3", str(ROOT / "tests" / "rtsp_server.py"), str(port), str(video)],
            stdout=subprocess.PIPE,
            text=True,
        )
        url = server.stdout.readline().strip()
        print(f"{os.cpu_count()} CPUs; {url} serving 720p H.264 25 fps ({SOURCE.name}); {args.fps:g} fps scored each")
        try:
            for n in (int(x) for x in args.cameras.split(",")):
                r = run(url, n, args.seconds, args.fps)
                ok = r["lag"] < 2.0 and r["behind"] < 2.0 and r["dropped"] <= 0.01 * r["expected"]
                stages = ", ".join(f"{k} {v:.1f} ms" for k, v in r["stages"].items())
                print(
                    f"{n:>3} cameras: worst lag {r['lag']:.2f} s, decoding behind {r['behind']:.2f} s, "
                    f"{r['scored']}/{r['expected']} frames scored, {r['dropped']} dropped; "
                    f"CPU {100 * r['cpu_per_camera']:.1f}% of a core per camera; wall per scored frame (in its "
                    f"camera's thread, so it grows with contention for the GIL) {stages} -> "
                    f"{'real time' if ok else 'NOT real time'}"
                )
        finally:
            server.kill()


if __name__ == "__main__":
    main()
