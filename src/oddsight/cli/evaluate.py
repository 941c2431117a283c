"""``oddsight eval``: a method on a labelled benchmark, by the same path as ``detect``."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from oddsight.cli.app import app
from oddsight.cli.cluster import on_ray
from oddsight.cli.common import Errors, config_from, warn
from oddsight.cli.options import JsonOpt, QuietOpt, RayOpt, with_options
from oddsight.option_fields import EVAL


@app.command("eval")
@with_options(EVAL)
def eval_(
    dataset: Annotated[
        str, typer.Option("--dataset", help="ucf-crime | xd-violence | frame-labels | frame-text | segment-text | csv")
    ],
    root: Annotated[Path, typer.Option("--root", help="The dataset's folder.")],
    out: Annotated[Path | None, typer.Option("--out", "-o", help="Also write ROC/PR and per-video plots.")] = None,
    as_json: JsonOpt = False,
    quiet: QuietOpt = False,
    end_exclusive: Annotated[
        bool, typer.Option("--end-exclusive", help="Label end frames are exclusive.", metavar="")
    ] = False,
    labels: Annotated[
        Path | None, typer.Option("--labels", help="csv: the labels file (default ROOT/labels.csv).")
    ] = None,
    csv_units: Annotated[str, typer.Option("--csv-units", help="csv: frames | seconds")] = "frames",
    iou: Annotated[float, typer.Option("--iou", help="IoU for event-level precision/recall.")] = 0.1,
    sweep: Annotated[
        str | None,
        typer.Option("--sweep", help="threshold: event precision/recall and false alarms/hour over thresholds."),
    ] = None,
    ray: RayOpt = None,
    options: dict | None = None,
) -> None:
    """Measure a method on a labelled benchmark with the same code path as `detect`."""
    with Errors():
        from oddsight.evaluate.datasets import load_dataset
        from oddsight.evaluate.runner import evaluate
        from oddsight.options import METHODS

        config = config_from(options or {}, (*METHODS, "text-sim"), progress=not quiet and not as_json)
        if sweep not in (None, "threshold"):
            from oddsight.errors import ConfigError

            raise ConfigError(f"--sweep takes 'threshold', got {sweep!r}")
        if out is not None:  # before a long run, not after it
            from oddsight.atomic import check_writable

            check_writable(out, folder=True)
        videos = load_dataset(dataset, root, end_inclusive=not end_exclusive, labels=labels, csv_units=csv_units)
        say = None if quiet or as_json else (lambda name, i, n: typer.echo(f"[{i + 1}/{n}] {name}", err=True))
        results = None
        if ray:
            results = on_ray([str(v.source) for v in videos], config, ray)
            say = None
        report = evaluate(videos, config, dataset=dataset, min_iou=iou, on_video=say, results=results)
        for v in report.videos:
            for w in v.warnings:
                warn(f"{v.name}: {w}")
        from oddsight.atomic import dumps, write_json

        payload = report.to_dict()
        rows = None
        if sweep:
            from oddsight.evaluate.sweep import threshold_sweep

            rows = threshold_sweep(report, config, min_iou=iou)
            payload["sweep"] = rows
        if out is not None:
            from oddsight.evaluate.plots import write_eval_plots

            write_eval_plots(report, out)
            if rows is not None:
                from oddsight.evaluate.sweep import write_sweep_plot

                title = f"{report.dataset}: {report.method} ({report.model}), events @IoU {iou:g}"
                write_sweep_plot(rows, out / "sweep.png", report.summary.get("threshold"), title)
            write_json(out / "eval.json", payload)
        if as_json:
            typer.echo(dumps(payload))
        elif not quiet:
            _print_eval(report)
            if rows is not None:
                _print_sweep(rows, report.summary.get("threshold"))


def _fmt(value: float | None, digits: int = 4) -> str:
    return "n/a" if value is None else f"{value:.{digits}f}"


def _print_eval(report) -> None:
    s = report.summary
    typer.echo(f"{report.dataset}: {report.method} ({report.model}), {s['n_videos']} videos, {s['n_frames']} frames")
    for v in report.videos:
        typer.echo(f"  {v.name:<28} frames {len(v.labels):>6}  AUC {_fmt(v.auc, 3):>6}  events {len(v.result.events)}")
    typer.echo(
        f"micro AUC {_fmt(s['auc'])}  macro AUC {_fmt(s['macro_auc'])}  AP {_fmt(s['ap'])}  "
        f"PR-AUC(trapz) {_fmt(s['pr_auc'])}  EER {_fmt(s['eer'])}"
    )
    typer.echo(
        f"events @IoU {s['event_iou']}: precision {_fmt(s['event_precision'], 3)} recall {_fmt(s['event_recall'], 3)}; "
        f"false alarms/hour on normal videos {_fmt(s['false_alarms_per_hour'], 2)}  (threshold {s['threshold']:g})"
    )


def _print_sweep(rows: list[dict], default: float | None) -> None:
    typer.echo(f"{'threshold':>10} {'precision':>9} {'recall':>7} {'F1':>6} {'false alarms/h':>14}")
    for r in rows:
        mark = "  <- default" if default is not None and r["threshold"] == default else ""
        typer.echo(
            f"{r['threshold']:>10.4g} {_fmt(r['event_precision'], 3):>9} {_fmt(r['event_recall'], 3):>7} "
            f"{_fmt(r['event_f1'], 3):>6} {_fmt(r['false_alarms_per_hour'], 2):>14}{mark}"
        )
