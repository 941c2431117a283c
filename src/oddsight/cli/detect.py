"""``oddsight detect``: score videos, write JSON, CSV, a plot (and an annotated video), print a summary."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from oddsight.cli.app import app
from oddsight.cli.cluster import detect_on_ray
from oddsight.cli.common import Errors, clock, config_from, error_line, warn
from oddsight.cli.options import JsonOpt, QuietOpt, RayOpt, with_options
from oddsight.option_fields import DETECT

if TYPE_CHECKING:  # pragma: no cover
    from oddsight.config import DetectConfig
    from oddsight.result import DetectionResult


@app.command()
@with_options(DETECT)
def detect(
    videos: Annotated[
        list[str],
        typer.Argument(help="Video files, frame folders, folders of videos, stream URLs.", metavar="VIDEO"),
    ],
    out: Annotated[Path, typer.Option("--out", "-o", help="Folder for JSON, CSV and PNG outputs.")] = Path(
        "oddsight-out"
    ),
    save_video: Annotated[bool, typer.Option("--save-video", help="Also write an annotated MP4.", metavar="")] = False,
    as_json: JsonOpt = False,
    quiet: QuietOpt = False,
    ray: RayOpt = None,
    resume: Annotated[
        bool,
        typer.Option(
            "--resume", help="Skip videos whose results are already in --out (after an interruption).", metavar=""
        ),
    ] = False,
    options: dict | None = None,
) -> None:
    """Score every frame of each video and report anomalous events."""
    with Errors():
        from oddsight.atomic import check_writable
        from oddsight.detection import Detection
        from oddsight.errors import OddsightError
        from oddsight.options import METHODS
        from oddsight.video.inputs import expand_inputs

        config = config_from(options or {}, METHODS, progress=not quiet and not as_json)

        inputs = expand_inputs(videos)
        check_writable(out, folder=True)
        todo = [v for v in inputs if not (resume and _has_result(out, v))]
        if resume and len(todo) < len(inputs) and not quiet:
            typer.echo(f"--resume: {len(inputs) - len(todo)} video(s) already have results in {out}", err=True)
        results, failures = [], 0

        def handle(video: str, result: DetectionResult | None, error: str | None) -> None:
            nonlocal failures
            if error is not None:
                failures += 1
                error_line(error)
                return
            for w in result.warnings:
                warn(w)
            files = _write_outputs(result, out, save_video, config)
            results.append((result, files))
            if not quiet and not as_json:
                _print_summary(result, files)

        if ray:
            detect_on_ray(todo, config, ray, handle, quiet or as_json, len(inputs) - len(todo))
        else:
            session = Detection(config)
            for video in todo:
                try:
                    result = session.run(video)
                except OddsightError as exc:
                    if len(inputs) == 1:
                        raise
                    handle(video, None, str(exc))
                    continue
                handle(video, result, None)
        if as_json:
            from oddsight.atomic import dumps
            from oddsight.report.files import SCHEMA_VERSION, result_to_dict

            payload = [{**result_to_dict(r), "files": {k: str(v) for k, v in f.items()}} for r, f in results]
            typer.echo(dumps({"schema_version": SCHEMA_VERSION, "results": payload}))
        if failures:
            raise typer.Exit(1)


def _has_result(out: Path, video: str) -> bool:
    """Whether ``out`` holds a complete result for ``video`` (written atomically, so a file is a whole one)."""
    path = out / f"{_stem_of(video)}.json"
    try:
        return "frame_scores" in json.loads(path.read_text())
    except (OSError, ValueError):
        return False


def _stem_of(source: str) -> str:
    """The file-name stem of a video's outputs (``--out DIR/<stem>.json`` and the rest)."""
    return Path(source.rstrip("/")).stem.replace(":", "_") or "stream"


def _write_outputs(result: DetectionResult, out: Path, save_video: bool, config: DetectConfig) -> dict[str, Path]:
    from oddsight.report.files import write_events_csv, write_json
    from oddsight.report.plot import plot_scores

    stem = _stem_of(result.info.source)
    files = {
        "json": write_json(result, out / f"{stem}.json"),
        "csv": write_events_csv(result, out / f"{stem}.events.csv"),
        "plot": plot_scores(result, out / f"{stem}.png"),
    }
    if save_video:
        if result.info.kind != "file":
            warn(f"{stem}: --save-video works for video files only; skipped")
        else:
            from oddsight.report.annotate import write_annotated_video

            files["video"] = write_annotated_video(result, out / f"{stem}.annotated.mp4", progress=config.progress)
    return files


def _print_summary(result: DetectionResult, files: dict[str, Path]) -> None:
    name = Path(result.info.source).name
    cache = " (features from cache)" if result.from_cache else ""
    live = f" [live: threshold {result.calibration}]" if result.mode == "live" else ""
    typer.echo(
        f"{name}: {len(result.frame_scores)} frames, {len(result.sample_scores)} scored, "
        f"{len(result.events)} event(s) at threshold {result.threshold:g}{cache}{live}"
    )
    for i, e in enumerate(result.events, 1):
        label = f"  {e.label}" if e.label else ""
        typer.echo(
            f"  #{i} {clock(e.start_s)}-{clock(e.end_s)} (frames {e.start_frame}-{e.end_frame}) "
            f"peak {e.peak_score:.3f} at {clock(e.peak_s)}{label}"
        )
    if not result.events and len(result.frame_scores):
        peak = int(result.frame_scores.argmax())
        typer.echo(
            f"  no event: the highest score, {result.frame_scores[peak]:.3f} at {clock(peak / result.info.fps)}, "
            f"stays under the threshold {result.threshold:g}"
        )
    typer.echo("  -> " + ", ".join(str(p) for p in files.values()))
