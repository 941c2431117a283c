"""`detect --ray` on a local Ray cluster against the plain local run, side by side on the same videos.

Starts `ray start --head --num-cpus N` on 127.0.0.1, runs `oddsight detect` (cache off) locally and with
`--ray`, twice each, and prints the throughput of each (hours of video per hour of wall time), their ratio,
and the sizing figures the README's table is computed from.

    .venv/bin/python benchmarks/bench_ray.py [--videos DIR] [--repeat 3] [--cpus 2]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
DEFAULT_VIDEOS = ROOT.parent / "shared" / "data" / "ucf_crime" / "videos"

from tests.server_process import free_port, oddsight  # noqa: E402


def detect(videos: list[Path], out: Path, home: Path, ray: str | None) -> float:
    args = ["detect", *map(str, videos), "--out", str(out), "-q", "--no-cache"]
    if ray:
        args += ["--ray", ray]
    env = {**os.environ, "ODDSIGHT_HOME": str(home), "RAY_USAGE_STATS_ENABLED": "0"}
    t0 = time.perf_counter()
    subprocess.run(oddsight(*args), check=True, env=env, capture_output=True)
    return time.perf_counter() - t0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--videos", type=Path, default=DEFAULT_VIDEOS)
    parser.add_argument("--repeat", type=int, default=3, help="copies of the video list (longer runs)")
    parser.add_argument("--cpus", type=int, default=os.cpu_count() or 2)
    args = parser.parse_args()
    base = sorted(args.videos.glob("*.mp4"))
    videos = base * args.repeat
    ray = Path(sys.executable).with_name("ray")
    with tempfile.TemporaryDirectory() as tmp:
        tmp_path = Path(tmp)
        links = []
        for i, v in enumerate(videos):  # distinct names, so each copy has its own output
            link = tmp_path / "in" / f"{i:03d}-{v.name}"
            link.parent.mkdir(exist_ok=True)
            link.symlink_to(v)
            links.append(link)
        hours = 0.0
        for v in base:
            probe = subprocess.run(
                oddsight("detect", str(v), "--json", "-q", "--out", str(tmp_path / "p")),
                capture_output=True,
                text=True,
                env={**os.environ, "ODDSIGHT_HOME": str(tmp_path)},
            )
            hours += json.loads(probe.stdout)["results"][0]["video"]["duration_s"] / 3600
        hours *= args.repeat
        port = free_port()
        env = {**os.environ, "RAY_USAGE_STATS_ENABLED": "0"}
        start = [str(ray), "start", "--head", "--num-cpus", str(args.cpus), "--node-ip-address", "127.0.0.1"]
        start += ["--port", str(port), "--include-dashboard=false", "--disable-usage-stats"]
        t0 = time.perf_counter()
        subprocess.run(start, check=True, capture_output=True, env=env)
        print(
            f"{os.cpu_count()} CPUs; ray head with {args.cpus} CPUs up in {time.perf_counter() - t0:.1f} s; "
            f"{len(links)} videos, {hours * 60:.1f} min of video, fps 2, cache off"
        )
        try:
            rows = []
            for name, address in (
                ("local", None),
                ("ray", f"127.0.0.1:{port}"),
                ("local", None),
                ("ray", f"127.0.0.1:{port}"),
            ):
                wall = detect(links, tmp_path / f"out-{name}-{len(rows)}", tmp_path / "home", address)
                rows.append((name, wall))
                print(f"  {name:<5} {wall:7.1f} s  -> {hours / (wall / 3600):6.1f} h of video per hour")
        finally:
            subprocess.run([str(ray), "stop", "--force"], capture_output=True, env=env)
        local = min(w for n, w in rows if n == "local")
        cluster = min(w for n, w in rows if n == "ray")
        per_node = hours / (cluster / 3600)
        print(f"ray throughput = {100 * local / cluster:.1f}% of local (best of 2 each; target >= 90%)")
        print(
            f"sizing: {per_node:.1f} h of video per node-hour on this {os.cpu_count()}-core CPU at 2 fps; "
            f"10,000 h of video = {10_000 / per_node:,.0f} node-hours"
        )


if __name__ == "__main__":
    main()
