"""Event figures over a range of thresholds, from the stored frame scores of one evaluation (no re-scoring):
how a threshold trades missed events against false alarms on a user's own labelled footage."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from oddsight.atomic import atomic_file
from oddsight.config import DetectConfig
from oddsight.evaluate.runner import EvalReport, event_figures
from oddsight.result import events_at

SWEEP_STEPS = 24


def sweep_thresholds(report: EvalReport, steps: int = SWEEP_STEPS) -> list[float]:
    """Thresholds spread over the upper half of all frame scores (quantiles 0.5 .. 0.999), with the run's own."""
    scores = np.concatenate([v.scores for v in report.videos])
    grid = np.quantile(scores, np.linspace(0.5, 0.999, steps)) if len(scores) else np.zeros(0)
    own = report.summary.get("threshold")
    values = {float(f"{t:.4g}") for t in grid} | ({float(own)} if own is not None else set())
    return sorted(values)


def threshold_sweep(
    report: EvalReport, config: DetectConfig, thresholds: list[float] | None = None, min_iou: float = 0.1
) -> list[dict[str, Any]]:
    """One row per threshold: event precision, recall, F1 and false alarms per hour, with the run's own event
    settings (hysteresis, minimum length, merge gap)."""
    rows = []
    for threshold in thresholds if thresholds is not None else sweep_thresholds(report):
        videos = [
            (v.labels, events_at(config, v.scores, v.result.info.fps, threshold), v.result.info.fps)
            for v in report.videos
        ]
        figures = event_figures(videos, min_iou)
        p, r = figures["event_precision"], figures["event_recall"]
        f1 = 2 * p * r / (p + r) if p is not None and r is not None and p + r > 0 else None
        rows.append({"threshold": threshold, **figures, "event_f1": f1})
    return rows


def write_sweep_plot(rows: list[dict[str, Any]], path: Path, default: float | None = None, title: str = "") -> Path:
    """Precision and recall (left axis) and false alarms per hour (right axis) against the threshold."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    t = [r["threshold"] for r in rows]
    nan = float("nan")
    fig, ax = plt.subplots(figsize=(7, 4), dpi=100)
    ax.plot(t, [nan if r["event_precision"] is None else r["event_precision"] for r in rows], "o-", label="precision")
    ax.plot(t, [nan if r["event_recall"] is None else r["event_recall"] for r in rows], "s-", label="recall")
    ax.set(xlabel="threshold", ylabel="event precision / recall", ylim=(-0.02, 1.02))
    if default is not None:
        ax.axvline(default, color="0.4", ls="--", lw=1, label=f"default {default:g}")
    fa = [r["false_alarms_per_hour"] for r in rows]
    if any(v is not None for v in fa):
        right = ax.twinx()
        right.plot(t, [nan if v is None else v for v in fa], "^:", color="tab:red", label="false alarms / hour")
        right.set_ylabel("false alarms per hour (normal videos)", color="tab:red")
        right.legend(loc="center right", fontsize=8)
    ax.legend(loc="upper right", fontsize=8)
    ax.set_title(title or "events over thresholds", fontsize=10)
    fig.tight_layout()
    with atomic_file(path) as tmp:
        fig.savefig(tmp, format="png")
    plt.close(fig)
    return path
