"""Peak RSS of `oddsight detect` on a 60-minute video vs a 1-minute one.

Both videos are made by remuxing (no re-encoding) a real 2-minute surveillance video from
../shared/data: the first 60 s, and the whole video looped 30 times. Each `detect` runs in its own
process (cache off, JSON/CSV/PNG written as usual); its peak RSS is read with getrusage.

    .venv/bin/python benchmarks/bench_memory.py [--fps 2] [--minutes 60]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SOURCE = ROOT.parent / "shared" / "data" / "ucf_crime" / "videos" / "Normal_Videos_641_x264.mp4"

MEASURE = (
    "import resource, subprocess, sys; r = subprocess.run(sys.argv[1:]); "
    "print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss); sys.exit(r.returncode)"
)


def remux(source: Path, target: Path, seconds: float) -> float:
    """Write the first ``seconds`` of ``source`` (looping it as often as needed) without re-encoding."""
    import av

    with av.open(str(source)) as src:
        stream = src.streams.video[0]
        tb = stream.time_base
        packets = [p for p in src.demux(stream) if p.dts is not None]
    period = max(p.pts for p in packets) + (packets[1].pts - packets[0].pts if len(packets) > 1 else 1)
    limit = int(seconds / tb)
    with av.open(str(source)) as src, av.open(str(target), "w") as out:
        ostream = out.add_stream_from_template(src.streams.video[0])
        loop = 0
        while True:
            for p in packets:
                pts = p.pts + loop * period
                if pts >= limit:
                    return float(limit * tb)
                p.pts, p.dts = pts, p.dts + loop * period
                p.stream = ostream
                out.mux(p)
                p.pts, p.dts = pts - loop * period, p.dts - loop * period
            loop += 1


def peak_rss_mb(video: Path, fps: float, out: Path) -> tuple[float, float, dict]:
    exe = Path(sys.executable).parent / "oddsight"
    cmd = [
        sys.executable,
        "-c",
        MEASURE,
        str(exe),
        "detect",
        str(video),
        "--fps",
        str(fps),
        "--no-cache",
        "-q",
        "--out",
        str(out),
    ]
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True, check=True)
    elapsed = time.perf_counter() - t0
    result = json.loads((out / f"{video.stem}.json").read_text())
    return int(proc.stdout.strip().splitlines()[-1]) / 1024, elapsed, result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--fps", type=float, default=2.0)
    parser.add_argument("--minutes", type=float, default=60)
    args = parser.parse_args()
    exe = Path(sys.executable).parent / "oddsight"
    subprocess.run([str(exe), "models", "pull", "dinov2-small"], check=True, capture_output=True)  # not measured
    with tempfile.TemporaryDirectory() as tmp:
        tmp_path = Path(tmp)
        short, long = tmp_path / "one_minute.mp4", tmp_path / "long.mp4"
        remux(SOURCE, short, 60)
        remux(SOURCE, long, args.minutes * 60)
        rows = []
        for video in (short, long):
            rss, elapsed, result = peak_rss_mb(video, args.fps, tmp_path / "out")
            frames = len(result["frame_scores"])
            rows.append(rss)
            print(
                f"{video.name:<16} {frames:>7} frames ({frames / result['video']['fps'] / 60:5.1f} min), "
                f"{len(result['samples']['score']):>5} scored: peak RSS {rss:7.1f} MB, {elapsed:6.1f} s"
            )
        print(f"  long / short peak RSS = {rows[1] / rows[0]:.3f}   (target <= 1.10)")


if __name__ == "__main__":
    main()
