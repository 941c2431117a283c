"""A PNG of the score over time, the threshold, and the events shaded."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from oddsight.atomic import atomic_file
from oddsight.result import DetectionResult

MAX_POINTS = 4000  # a 1,100-pixel-wide plot shows no more; memory stays flat for long videos


def _decimate(scores: np.ndarray, fps: float) -> tuple[np.ndarray, np.ndarray]:
    """At most MAX_POINTS (time, score) points: the maximum of each bucket, so peaks are kept."""
    n = len(scores)
    if n <= MAX_POINTS:
        return np.arange(n) / fps, scores
    bucket = -(-n // MAX_POINTS)
    padded = np.pad(scores, (0, (-n) % bucket), mode="edge")
    return np.arange(0, n, bucket) / fps, padded.reshape(-1, bucket).max(axis=1)


def _event_note(label: str | None, reason: str | None, width: int = 48) -> str:
    """What an event was and why, wrapped short enough to sit above its peak."""
    import textwrap

    parts = [p for p in (label, reason) if p]
    return "\n".join(textwrap.shorten(p, width * 2, placeholder="...") for p in parts)


def plot_scores(
    result: DetectionResult, path: Path, *, truth: list[tuple[int, int]] | None = None, title: str | None = None
) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fps = result.info.fps
    t, line = _decimate(result.frame_scores, fps)
    fig, ax = plt.subplots(figsize=(11, 3.2), dpi=100)
    for a, b in truth or []:
        ax.axvspan(a / fps, (b + 1) / fps, color="tab:green", alpha=0.18, label="ground truth")
    for i, e in enumerate(result.events):
        ax.axvspan(e.start_s, e.end_s, color="tab:red", alpha=0.22, label="event" if i == 0 else None)
        note = _event_note(e.label, e.reason)
        if note:
            ax.annotate(note, (e.peak_s, e.peak_score), fontsize=7, ha="center", va="bottom", wrap=True)
    ax.plot(result.sample_times, result.sample_scores, ".", ms=2.5, color="0.6", label="sampled score")
    ax.plot(t, line, color="tab:blue", lw=1.2, label="score (smoothed)")
    ax.axhline(result.threshold, color="tab:red", ls="--", lw=1, label=f"threshold {result.threshold:g}")
    ax.set_xlabel("time (s)")
    ax.set_ylabel(f"{result.method} score")
    ax.set_xlim(0, max(t[-1] if len(t) else 1, 1e-3))
    name = Path(result.info.source).name
    ax.set_title(title or f"{name} — {result.method} ({result.model_id}), {len(result.events)} event(s)", fontsize=10)
    handles, labels = ax.get_legend_handles_labels()
    unique = dict(zip(labels, handles, strict=True))
    ax.legend(unique.values(), unique.keys(), fontsize=7, loc="upper left", ncol=3)
    fig.tight_layout()
    with atomic_file(path) as tmp:
        fig.savefig(tmp, format="png")
    plt.close(fig)
    return path
