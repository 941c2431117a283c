"""JSON and CSV outputs. The JSON schema is versioned: ``schema_version`` changes on any break."""

from __future__ import annotations

import csv
from dataclasses import asdict
from pathlib import Path
from typing import Any

from oddsight.atomic import atomic_file
from oddsight.atomic import write_json as write_json_file
from oddsight.result import DetectionResult
from oddsight.version import __version__

SCHEMA_VERSION = 2  # 2: an event's reason is its own field (it was details["reason"]); events have ids
EVENT_COLUMNS = [
    "video",
    "event",
    "start_frame",
    "end_frame",
    "start_s",
    "end_s",
    "duration_s",
    "peak_frame",
    "peak_s",
    "peak_score",
    "mean_score",
    "label",
    "reason",
    "box",
    "summary",
]


FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def csv_cell(value: Any) -> Any:
    """``value`` safe to open in a spreadsheet: text starting like a formula (``= + - @``, tab, CR) gets a leading
    ``'``; numbers and other values are kept. Every CSV writer (``write_events_csv``, the server's exports) uses it."""
    return "'" + value if isinstance(value, str) and value.startswith(FORMULA_STARTS) else value


def csv_row(row: dict[str, Any], columns: list[str]) -> dict[str, Any]:
    """``row``'s ``columns`` (missing ones empty), each through :func:`csv_cell`."""
    return {k: csv_cell(row.get(k, "")) for k in columns}


def result_to_dict(result: DetectionResult, *, frame_scores: bool = True) -> dict[str, Any]:
    """A JSON-ready dict: video info, method, model, threshold, events and a score for every frame."""
    out: dict[str, Any] = {
        "schema_version": SCHEMA_VERSION,
        "oddsight_version": __version__,
        "video": asdict(result.info),
        "method": result.method,
        "params": _jsonable(result.params),
        "model": result.model_id,
        "sampling": {k: v for k, v in asdict(result.sampling).items() if v is not None},
        "mode": result.mode,
        "threshold": result.threshold,
        "threshold_source": result.calibration,
        "n_events": len(result.events),
        "events": [e.to_dict() for e in result.events],
        "warnings": result.warnings,
        "from_cache": result.from_cache,
        "timings": result.timings,
        "samples": {
            "frame_index": result.sample_indices.tolist(),
            "time_s": [round(float(t), 4) for t in result.sample_times],
            "score": [round(float(s), 6) for s in result.sample_scores],
        },
    }
    if result.sample_texts is not None:
        out["samples"]["text"] = result.sample_texts
    if frame_scores:
        out["frame_scores"] = [round(float(s), 6) for s in result.frame_scores]
    return out


def _jsonable(params: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in params.items() if isinstance(v, (str, int, float, bool, list, type(None)))}


def write_json(result: DetectionResult, path: Path) -> Path:
    return write_json_file(path, result_to_dict(result))


def write_events_csv(result: DetectionResult, path: Path) -> Path:
    with atomic_file(path) as tmp, open(tmp, "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=EVENT_COLUMNS)
        writer.writeheader()
        for i, e in enumerate(result.events, 1):
            row = e.to_dict()
            row.update(
                video=result.info.source,
                event=i,
                reason=e.reason or "",
                box=str(e.box) if e.box else "",
                summary=e.details.get("summary", ""),
                label=e.label or "",
            )
            writer.writerow(csv_row(row, EVENT_COLUMNS))
    return path
