"""The service under load, measured side by side with the CLI in one run.

1. `oddsight detect` (a subprocess, feature cache off) on one real video, and the same analysis through a real
   `oddsight serve` (upload already done, cache off, a warm worker): the service's added time.
2. 10,000 events stored; 20 concurrent local clients call `GET /api/v1/events` for a fixed time while one
   analysis job runs: p50 / p99 latency, requests/s, and the job's time under that load against the CLI's.
3. The result page of a 60-minute video (108,000 frame scores) in Debian's chromium: time to open and draw.

    .venv/bin/python benchmarks/bench_server.py [--video PATH] [--seconds 20] [--clients 20] [--limit 100]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
SHARED = ROOT.parent / "shared" / "data"
DEFAULT_VIDEO = SHARED / "ucf_crime" / "videos" / "Normal_Videos_641_x264.mp4"

from tests.server_process import Server, oddsight, store_one_hour_result, wait_job  # noqa: E402


def cli_seconds(video: Path, home: Path, fps: float) -> float:
    t0 = time.perf_counter()
    subprocess.run(
        oddsight("detect", str(video), "--no-cache", "-q", "--fps", str(fps), "--out", str(home / "cli-out")),
        check=True,
        env={**os.environ, "ODDSIGHT_HOME": str(home)},
    )
    return time.perf_counter() - t0


def api_job(api: httpx.Client, video_id: str, fps: float) -> tuple[float, float]:
    """(client wall seconds from POST to done, the job's own running time)."""
    t0 = time.perf_counter()
    job_id = api.post("/analyses", json={"video_id": video_id, "no_cache": True, "fps": fps}).json()["job_id"]
    job = wait_job(api, job_id, timeout=1800)
    assert job["state"] == "done", job
    return time.perf_counter() - t0, job["finished_at"] - job["started_at"]


def seed_events(data: Path, n: int) -> None:
    from oddsight.server.store import Store

    store = Store(data)
    per = 100
    for r in range(n // per):
        events = []
        for i in range(per):
            t = 10.0 * i
            events.append(
                {
                    "start_frame": int(t * 30),
                    "end_frame": int(t * 30) + 60,
                    "start_s": t,
                    "end_s": t + 2,
                    "peak_frame": int(t * 30) + 30,
                    "peak_s": t + 1,
                    "peak_score": 1.0 + (r * per + i) % 97 / 10,
                    "mean_score": 1.0,
                    "label": None,
                    "details": {"reason": "synthetic load"},
                }
            )
        doc = {"schema_version": 1, "video": {"source": f"cam{r}.mp4", "fps": 30.0}, "method": "novelty"}
        store.add_result({**doc, "threshold": 1.0, "frame_scores": [], "events": events}, {}, None)


WRK_SCRIPT = """
local paths = {"/api/v1/events?limit=%(limit)d", "/api/v1/events?limit=%(limit)d&min_score=5",
               "/api/v1/events?limit=%(limit)d&review=new", "/api/v1/events?limit=%(limit)d&sort=peak_score"}
local i = 0
request = function() i = i + 1; return wrk.format("GET", paths[(i %% #paths) + 1]) end
"""


def load_wrk(url: str, clients: int, seconds: float, limit: int, tmp: Path) -> dict[str, float]:
    """20 closed-loop connections from wrk (C, so the load generator takes little of the 2 cores)."""
    import re

    script = tmp / "events.lua"
    script.write_text(WRK_SCRIPT % {"limit": limit})
    cmd = ["wrk", "-t2", f"-c{clients}", f"-d{seconds:g}s", "--latency", "-s", str(script), url]
    out = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout

    def ms(label: str) -> float:
        value, unit = re.search(rf"^\s*{label}\s+([\d.]+)(us|ms|s)\s*$", out, re.M).groups()
        return float(value) * {"us": 1e-3, "ms": 1.0, "s": 1e3}[unit]

    return {
        "requests": float(re.search(r"(\d+) requests in", out).group(1)),
        "rps": float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1)),
        "p50": ms("50%"),
        "p99": ms("99%"),
        "errors": float("Non-2xx" in out or "Socket errors" in out),
    }


def load_python(url: str, clients: int, seconds: float, limit: int) -> dict[str, float]:
    """The same load from httpx in this process (when wrk is missing); its own CPU use inflates the figures."""
    latencies: list[float] = []
    deadline = time.perf_counter() + seconds
    filters = [{}, {"min_score": 5}, {"review": "new"}, {"sort": "peak_score"}]

    async def one(client: httpx.AsyncClient, k: int) -> None:
        i = 0
        while time.perf_counter() < deadline:
            t0 = time.perf_counter()
            reply = await client.get("/api/v1/events", params={"limit": limit, **filters[(k + i) % len(filters)]})
            reply.raise_for_status()
            latencies.append(time.perf_counter() - t0)
            i += 1

    async def run() -> None:
        async with httpx.AsyncClient(base_url=url, timeout=30) as client:
            await asyncio.gather(*(one(client, k) for k in range(clients)))

    asyncio.run(run())
    ms = sorted(1000 * x for x in latencies)
    n = len(ms)
    p99 = ms[int(0.99 * (n - 1))]
    return {"requests": n, "rps": n / seconds, "p50": statistics.median(ms), "p99": p99, "errors": 0}


def page_draw_seconds(server: Server, data: Path, runs: int = 5) -> list[float]:
    from playwright.sync_api import sync_playwright

    result_id = store_one_hour_result(data)
    out = []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path="/usr/bin/chromium", args=["--no-sandbox", "--disable-gpu"])
        page = browser.new_page(viewport={"width": 1280, "height": 800})
        for _ in range(runs):
            page.goto("about:blank")
            t0 = time.perf_counter()
            page.goto(f"{server.url}/#/result/{result_id}")
            page.wait_for_selector("#chart[data-drawn-ms]")
            out.append(time.perf_counter() - t0)
        browser.close()
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--video", type=Path, default=DEFAULT_VIDEO)
    parser.add_argument("--fps", type=float, default=10.0, help="sampling of the timed analyses (longer jobs)")
    parser.add_argument("--seconds", type=float, default=20.0, help="length of the load phase (about the job's)")
    parser.add_argument("--clients", type=int, default=20)
    parser.add_argument("--limit", type=int, default=100, help="events per GET (a page of the Events table)")
    parser.add_argument("--events", type=int, default=10_000)
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        tmp_path = Path(tmp)
        home = tmp_path / "home"
        print(f"{os.cpu_count()} CPUs; video {args.video.name}, fps {args.fps:g}, cache off")
        cli = [cli_seconds(args.video, home, args.fps) for _ in range(2)]
        print(f"1. CLI `oddsight detect`: {min(cli):.2f} s (best of 2: {', '.join(f'{c:.2f}' for c in cli)})")

        data = tmp_path / "data"
        with Server(data, [args.video.parent]) as server, server.client() as api:
            video_id = api.post("/videos/register", json={"path": args.video.name}).json()["id"]
            api_job(api, video_id, 2.0)  # warm the worker (imports, first-call costs)
            runs = [api_job(api, video_id, args.fps) for _ in range(2)]
            wall = min(r[0] for r in runs)
            own = min(r[1] for r in runs)
            print(
                f"   service: {wall:.2f} s from POST to done (job itself {own:.2f} s): "
                f"{100 * (wall / min(cli) - 1):+.1f} % against the CLI (target < +5 %)"
            )

            seed_events(data, args.events)
            print(f"2. {api.get('/events', params={'limit': 100000}).json().__len__()} events stored")
            job_id = api.post("/analyses", json={"video_id": video_id, "no_cache": True, "fps": args.fps})
            job_id = job_id.json()["job_id"]
            wait_job(api, job_id, until=("running",))
            if shutil.which("wrk"):
                tool, load = "wrk", load_wrk(server.url, args.clients, args.seconds, args.limit, tmp_path)
            else:
                tool, load = "httpx (wrk missing)", load_python(server.url, args.clients, args.seconds, args.limit)
            job = wait_job(api, job_id, timeout=1800)
            job_s = job["finished_at"] - job["started_at"]
            print(
                f"   GET /api/v1/events?limit={args.limit} (4 filters in turn), {args.clients} clients ({tool}) for "
                f"{args.seconds:g} s while a job ran: {load['requests']:.0f} requests ({load['rps']:.0f}/s), "
                f"p50 {load['p50']:.1f} ms, p99 {load['p99']:.1f} ms (target p99 < 100 ms)"
                + ("; SOME REQUESTS FAILED" if load["errors"] else "")
            )
            print(
                f"   the job under load: {job_s:.2f} s, {100 * (job_s / own - 1):+.1f} % against the same job "
                f"unloaded; {100 * (job_s / min(cli) - 1):+.1f} % against the CLI (target within 10 %; the load "
                f"phase covered {min(args.seconds, job_s):.1f} s of it)"
            )
            draws = page_draw_seconds(server, data)
            print(
                f"3. 60-minute result page (108,000 scores) opened and drawn in {statistics.median(draws):.3f} s "
                f"(median of {len(draws)}: {', '.join(f'{d:.3f}' for d in draws)}; target < 1 s)"
            )


if __name__ == "__main__":
    main()
