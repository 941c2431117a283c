"""``--ray ADDRESS``: videos spread over a Ray cluster, with the same results as a local run.

Ray *actors*, not Ray Data: each worker process loads its encoder and detector once and scores whole videos
(the unit that is cached, retried and reported), so a cluster run is the local run's own code per video. A
worker killed mid-video is restarted by Ray and the video retried (``max_restarts``/``max_task_retries``); a
video that fails (a corrupt file) comes back as an error, reported once, and the run goes on. Workers read the
videos, and the feature cache under ``$ODDSIGHT_HOME``, from paths every node sees; results come back to the
driver, which writes the outputs exactly as a local run does.

This and ``server/ray_cameras.py`` (``serve --ray``) are the only modules that import ray (the ``ray`` extra).
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import ray

from oddsight.config import DetectConfig
from oddsight.errors import ConfigError, OddsightError
from oddsight.redact import redact_urls
from oddsight.result import DetectionResult

TASK_RETRIES = 3
IN_FLIGHT_PER_WORKER = 2  # a queued video per worker, so none waits on the driver between videos


@dataclass
class ClusterSummary:
    videos: int = 0
    failures: int = 0
    skipped: int = 0
    video_s: float = 0.0
    wall_s: float = 0.0
    workers: int = 0

    def add(self, result: DetectionResult | None, error: str | None) -> None:
        self.videos += 1
        self.failures += error is not None
        if result is not None:
            self.video_s += result.info.duration_s or 0.0

    @property
    def hours_per_hour(self) -> float:
        return self.video_s / self.wall_s if self.wall_s else 0.0

    def line(self) -> str:
        return (
            f"ray: {self.videos} video(s) on {self.workers} worker(s), {self.video_s / 3600:.2f} h of video in "
            f"{self.wall_s:.1f} s ({self.hours_per_hour:.1f} h of video per hour), {self.failures} failed"
            + (f", {self.skipped} skipped (--resume)" if self.skipped else "")
        )


@ray.remote(max_restarts=-1, max_task_retries=TASK_RETRIES)
class _DetectWorker:
    """One worker process: a Detection session (models loaded once) for many videos."""

    def __init__(self, config: DetectConfig, home: str | None) -> None:
        if home:
            os.environ.setdefault("ODDSIGHT_HOME", home)
        from oddsight.detection import Detection

        self.session = Detection(config)

    def pid(self) -> int:
        return os.getpid()

    def run(self, video: str, features_only: bool = False) -> tuple[str, Any, str | None]:
        try:
            if features_only:  # `fit --ray`: the features (as cached), fitted on the driver
                return video, self.session.visual.features(video)[0], None
            return video, self.session.run(video), None
        except OddsightError as exc:
            return video, None, redact_urls(str(exc))


def connect(address: str) -> None:
    """Join the cluster at ``address`` (``auto`` finds a local one started with ``ray start --head``)."""
    if ray.is_initialized():
        return
    _check_reachable(address)
    try:
        ray.init(address=address, log_to_driver=False, logging_level="ERROR", configure_logging=False)
    except (ConnectionError, RuntimeError, ValueError) as exc:
        first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise ConfigError(
            f"--ray {address}: no Ray cluster there ({first}); start one with `ray start --head`"
        ) from None


def _check_reachable(address: str) -> None:
    """A HOST:PORT (or ray://HOST:PORT) that nothing listens on fails at once (ray.init would retry for minutes)."""
    import socket

    if address == "auto":
        return
    hostport = address.split("://", 1)[-1].rsplit("/", 1)[0]
    host, _, port = hostport.rpartition(":")
    if not host or not port.isdigit():
        raise ConfigError(f"--ray takes auto, HOST:PORT or ray://HOST:PORT, got {address!r}")
    try:
        socket.create_connection((host.strip("[]"), int(port)), timeout=5).close()
    except OSError as exc:
        raise ConfigError(
            f"--ray {address}: no Ray cluster there ({exc.strerror or exc}); start one with `ray start --head`"
        ) from None


def workers_wanted(config: DetectConfig) -> tuple[int, dict[str, float]]:
    """One worker per CPU of the cluster; each takes a GPU where the cluster has them and the config allows."""
    resources = ray.cluster_resources()
    gpus = int(resources.get("GPU", 0))
    if gpus and config.device in ("auto", "cuda"):
        return gpus, {"num_cpus": 1, "num_gpus": 1}
    return max(1, int(resources.get("CPU", 1))), {"num_cpus": 1}


def run_videos(
    videos: list[str],
    config: DetectConfig,
    address: str,
    *,
    progress: bool = True,
    workers: int | None = None,
    features_only: bool = False,
    summary: ClusterSummary | None = None,
) -> Iterator[tuple[str, Any, str | None]]:
    """Score ``videos`` on the cluster; yields (video, result or None, error or None) as each finishes (with
    ``features_only``, each video's :class:`~oddsight.features.types.Features` instead of a result). ``summary``
    is filled as they come: workers, videos, hours of video, failures, wall time."""
    from tqdm.auto import tqdm

    connect(address)
    if not videos:  # everything skipped (--resume): no worker to start
        return
    n, options = workers_wanted(config)
    n = min(workers or n, len(videos))
    home = os.environ.get("ODDSIGHT_HOME")
    pool = [_DetectWorker.options(**options).remote(config, home) for _ in range(n)]
    t0 = time.perf_counter()
    if summary is not None:
        summary.workers = n
    pending: dict[Any, tuple[int, str]] = {}
    queue = list(videos)
    free = dict.fromkeys(range(n), IN_FLIGHT_PER_WORKER)
    with tqdm(total=len(videos), desc="ray", unit="video", disable=not progress) as bar:
        while queue or pending:
            for i in range(n):
                while queue and free[i] > 0:
                    video = queue.pop(0)
                    pending[pool[i].run.remote(video, features_only)] = (i, video)
                    free[i] -= 1
            (ref,), _ = ray.wait(list(pending), num_returns=1)
            worker, video = pending.pop(ref)
            free[worker] += 1
            try:
                outcome = ray.get(ref)
            except ray.exceptions.RayError as exc:  # retries used up: the worker kept dying on this video
                outcome = (
                    video,
                    None,
                    f"{video}: lost on the cluster after {TASK_RETRIES} retries ({type(exc).__name__})",
                )
            bar.update(1)
            if summary is not None and not features_only:
                summary.add(outcome[1], outcome[2])
                summary.wall_s = time.perf_counter() - t0
            yield outcome
    for actor in pool:
        ray.kill(actor)


def results_by_video(
    videos: list[str], config: DetectConfig, address: str, *, progress: bool = True, features_only: bool = False
) -> dict[str, Any]:
    """Every video's result (or features), keyed by video; the first failure raises (as a local run would)."""
    from oddsight.errors import InputError

    out: dict[str, Any] = {}
    for video, value, error in run_videos(videos, config, address, progress=progress, features_only=features_only):
        if error is not None:
            raise InputError(error)
        out[video] = value
    return out
