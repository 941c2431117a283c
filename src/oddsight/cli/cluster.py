"""``--ray``: the commands' work spread over a Ray cluster (the only CLI module that drives one)."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

import typer

if TYPE_CHECKING:  # pragma: no cover
    from oddsight.config import DetectConfig


def detect_on_ray(
    videos: list[str], config: DetectConfig, address: str, handle: Callable, quiet: bool, skipped: int
) -> None:
    """``detect --ray``: each video's outcome to ``handle(video, result, error)`` as it comes back."""
    from oddsight.extras import require_extra

    require_extra("ray", "--ray")
    from oddsight.cluster.ray_runner import ClusterSummary, run_videos

    summary = ClusterSummary(skipped=skipped)
    for outcome in run_videos(videos, config, address, progress=config.progress, summary=summary):
        handle(*outcome)
    if not quiet:
        typer.echo(summary.line(), err=True)


def on_ray(videos: list[str], config: DetectConfig, address: str, *, features_only: bool = False) -> dict:
    """The results (or features) of ``videos``, scored on the cluster, by video."""
    from oddsight.errors import ConfigError
    from oddsight.extras import require_extra
    from oddsight.methods.registry import LANGUAGE_METHODS

    require_extra("ray", "--ray")
    if config.method in LANGUAGE_METHODS or config.method == "text-sim":
        raise ConfigError("--ray runs the visual methods (novelty, oneclass, zeroshot) for now")
    from oddsight.cluster.ray_runner import results_by_video

    return results_by_video(videos, config, address, progress=config.progress, features_only=features_only)
