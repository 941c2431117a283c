"""The ``oddsight`` command line. Thin: it parses options and calls the library.

Nothing heavy (numpy, onnxruntime, torch) is imported at start-up; each command imports what it uses.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, NoReturn

import typer

if TYPE_CHECKING:  # pragma: no cover
    from oddsight.config import DetectConfig
    from oddsight.result import DetectionResult

app = typer.Typer(
    help="oddsight: find the unusual in video. Scores every frame, finds events, says what and why.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
models_app = typer.Typer(help="List and fetch the models oddsight knows.", no_args_is_help=True)
app.add_typer(models_app, name="models")


def _print_version(value: bool) -> None:
    if value:
        from oddsight.version import __version__

        typer.echo(f"oddsight {__version__}")
        raise typer.Exit()


@app.callback()
def _main(
    version: Annotated[
        bool, typer.Option("--version", callback=_print_version, is_eager=True, help="Print the version and exit.")
    ] = False,
) -> None:
    """oddsight: find the unusual in video. Scores every frame, finds events, says what and why."""


def _fail(message: str, code: int = 1) -> NoReturn:
    _error_line(message)
    raise typer.Exit(code)


def _say(kind: str, message: str) -> None:
    """One line on stderr, with any credentials in URLs hidden."""
    from oddsight.redact import redact_urls

    typer.echo(f"oddsight: {kind}: {redact_urls(message)}", err=True)


def _error_line(message: str) -> None:
    _say("error", message)


def _warn(message: str) -> None:
    _say("warning", message)


class _Errors:
    """Turn library errors into one line on stderr and a non-zero exit."""

    def __enter__(self) -> None:
        return None

    def __exit__(self, kind, exc, tb) -> bool:
        from oddsight.errors import OddsightError

        if exc is None or isinstance(exc, (typer.Exit, typer.Abort, SystemExit)):
            return False
        if isinstance(exc, OddsightError):
            _fail(str(exc), exc.exit_code)
        if isinstance(exc, KeyboardInterrupt):
            _fail("interrupted", 130)
        if isinstance(exc, MemoryError):
            _fail("out of memory; try a lower --fps or --batch-size", 1)
        return False


FpsOpt = Annotated[float | None, typer.Option("--fps", help="Frames per second of video time to score (default 2).")]
StrideOpt = Annotated[int | None, typer.Option("--stride", help="Score every N-th frame instead of --fps.")]
ModelOpt = Annotated[
    str | None, typer.Option("--model", help="Model id (see `oddsight models list`); default per method.")
]
ModelPathOpt = Annotated[str | None, typer.Option("--model-path", help="Local model file or folder to load.")]
QuietOpt = Annotated[bool, typer.Option("--quiet", "-q", help="No progress bars or summaries.")]
FramesFpsOpt = Annotated[float, typer.Option("--frames-fps", help="Frame rate of image-folder inputs.")]


MethodOpt = Annotated[
    str, typer.Option("--method", "-m", help="novelty | oneclass | zeroshot | lavad | judge (| text-sim in eval)")
]
DetectorOpt = Annotated[str | None, typer.Option("--detector", help="Fitted .oddsight file (oneclass).")]
AnomalyOpt = Annotated[list[str] | None, typer.Option("--anomaly", help="Anomaly prompt, repeatable.")]
NormalOpt = Annotated[list[str] | None, typer.Option("--normal", help="Normal prompt, repeatable.")]
ThresholdOpt = Annotated[float | None, typer.Option("--threshold", help="Event threshold (default: method's).")]
SmoothOpt = Annotated[
    float | None, typer.Option("--smooth", help="Smoothing window, seconds (default: 4 novelty, 1 oneclass, 4 others).")
]
MinEventOpt = Annotated[float, typer.Option("--min-event", help="Shortest event kept, seconds.")]
MergeGapOpt = Annotated[float, typer.Option("--merge-gap", help="Merge events closer than this, seconds.")]
BatchOpt = Annotated[int, typer.Option("--batch-size", help="Frames per encoder call.")]
DeviceOpt = Annotated[str, typer.Option("--device", help="auto | cpu | cuda")]
NoCacheOpt = Annotated[bool, typer.Option("--no-cache", help="Do not read or write the feature cache.")]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print results as JSON on stdout.")]
LLMOpt = Annotated[
    str | None,
    typer.Option(
        "--llm",
        help="lavad/judge: GGUF model id (default qwen2.5-coder-1.5b), hf:<org>/<repo>/<file>.gguf, "
        "or openai:<base url>#<model>.",
    ),
]
LLMPathOpt = Annotated[str | None, typer.Option("--llm-path", help="lavad/judge: a local .gguf file.")]
ContextOpt = Annotated[
    str | None,
    typer.Option("--context", help="lavad/judge: what the camera watches and what is normal there, for the LLM."),
]
SplitOpt = Annotated[str, typer.Option("--split", help="lavad/judge: score units: clauses | sentences | none.")]
SummaryOpt = Annotated[str, typer.Option("--summary", help="lavad/judge: window text: join (fast) | llm (written).")]
WindowOpt = Annotated[float, typer.Option("--window", help="lavad: window length, seconds.")]
RefineOpt = Annotated[int, typer.Option("--refine-k", help="lavad: similar windows each score is refined over.")]
ChunkOpt = Annotated[float, typer.Option("--chunk", help="judge: chunk length, seconds.")]
GroupOpt = Annotated[
    float, typer.Option("--group", help="lavad/judge: ask once per group of units this cosine-similar (0 = off).")
]
CaptionerOpt = Annotated[
    str | None, typer.Option("--captioner", help="lavad/judge: hf:<model or folder> | openai:<base url>#<model>.")
]
NoReasonsOpt = Annotated[bool, typer.Option("--no-reasons", help="lavad/judge: do not ask the LLM why.")]
LiveOpt = Annotated[
    bool,
    typer.Option("--live", help="Score as a camera would (past only, trailing smoothing, warm-up): what watch runs."),
]
WarmupOpt = Annotated[
    float, typer.Option("--warmup", help="Live, no --threshold: seconds of scores that set the threshold.")
]
RayOpt = Annotated[
    str | None,
    typer.Option("--ray", help="Spread the videos over a Ray cluster: auto (a local `ray start --head`) or ADDRESS."),
]


def _config(method: str, methods: tuple[str, ...], options: dict, progress: bool | None = None) -> DetectConfig:
    """A DetectConfig from a command's options (its ``locals()``) through the one options model the API and the
    server's jobs use too; options a command lacks keep their defaults."""
    from oddsight.options import DetectOptions

    values = {name: options[name] for name in DetectOptions.model_fields if name in options}
    values["method"] = method
    if progress is None:
        progress = not options["quiet"] and not options["as_json"]
    return DetectOptions.parse(values).to_config(progress=progress, methods=methods)


@app.command()
def detect(
    videos: Annotated[list[str], typer.Argument(help="Video files, frame folders, folders of videos, stream URLs.")],
    method: MethodOpt = "novelty",
    fps: FpsOpt = None,
    stride: StrideOpt = None,
    start: Annotated[float, typer.Option("--start", help="Start at this second.")] = 0.0,
    end: Annotated[float | None, typer.Option("--end", help="Stop at this second (live streams too).")] = None,
    out: Annotated[Path, typer.Option("--out", "-o", help="Folder for JSON, CSV and PNG outputs.")] = Path(
        "oddsight-out"
    ),
    save_video: Annotated[bool, typer.Option("--save-video", help="Also write an annotated MP4.")] = False,
    as_json: JsonOpt = False,
    quiet: QuietOpt = False,
    model: ModelOpt = None,
    model_path: ModelPathOpt = None,
    detector: DetectorOpt = None,
    anomaly: AnomalyOpt = None,
    normal: NormalOpt = None,
    threshold: ThresholdOpt = None,
    smooth: SmoothOpt = None,
    min_event: MinEventOpt = 1.0,
    merge_gap: MergeGapOpt = 2.0,
    batch_size: BatchOpt = 16,
    device: DeviceOpt = "auto",
    no_cache: NoCacheOpt = False,
    frames_fps: FramesFpsOpt = 25.0,
    llm: LLMOpt = None,
    llm_path: LLMPathOpt = None,
    captions: Annotated[
        str | None, typer.Option("--captions", help="lavad/judge: your captions (.txt per frame, .jsonl segments).")
    ] = None,
    captioner: CaptionerOpt = None,
    split: SplitOpt = "sentences",
    context: ContextOpt = None,
    summary: SummaryOpt = "join",
    window: WindowOpt = 10.0,
    refine_k: RefineOpt = 10,
    chunk: ChunkOpt = 10.0,
    group: GroupOpt = 0.0,
    no_reasons: NoReasonsOpt = False,
    live: LiveOpt = False,
    warmup: WarmupOpt = 300.0,
    ray: RayOpt = None,
    resume: Annotated[
        bool, typer.Option("--resume", help="Skip videos whose results are already in --out (after an interruption).")
    ] = False,
) -> None:
    """Score every frame of each video and report anomalous events."""
    with _Errors():
        from oddsight.atomic import check_writable
        from oddsight.detection import Detection
        from oddsight.errors import OddsightError
        from oddsight.options import METHODS

        config = _config(method, METHODS, locals())
        from oddsight.video.inputs import expand_inputs

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
                _error_line(error)
                return
            for w in result.warnings:
                _warn(w)
            files = _write_outputs(result, out, save_video, config)
            results.append((result, files))
            if not quiet and not as_json:
                _print_summary(result, files)

        if ray:
            _detect_on_ray(todo, config, ray, handle, quiet or as_json, len(inputs) - len(todo))
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
            from oddsight.report.files import result_to_dict

            payload = [{**result_to_dict(r), "files": {k: str(v) for k, v in f.items()}} for r, f in results]
            typer.echo(dumps({"schema_version": 1, "results": payload}))
        if failures:
            raise typer.Exit(1)


def _has_result(out: Path, video: str) -> bool:
    """Whether ``out`` holds a complete result for ``video`` (written atomically, so a file is a whole one)."""
    path = out / f"{_stem_of(video)}.json"
    try:
        return "frame_scores" in json.loads(path.read_text())
    except (OSError, ValueError):
        return False


def _detect_on_ray(videos: list[str], config: DetectConfig, address: str, handle, quiet: bool, skipped: int) -> None:
    from oddsight.extras import require_extra

    require_extra("ray", "--ray")
    from oddsight.cluster.ray_runner import ClusterSummary, run_videos

    summary = ClusterSummary(skipped=skipped)
    for outcome in run_videos(videos, config, address, progress=config.progress, summary=summary):
        handle(*outcome)
    if not quiet:
        typer.echo(summary.line(), err=True)


def _on_ray(videos: list[str], config: DetectConfig, address: str, *, features_only: bool = False) -> dict:
    from oddsight.errors import ConfigError
    from oddsight.extras import require_extra
    from oddsight.methods.registry import LANGUAGE_METHODS

    require_extra("ray", "--ray")
    if config.method in LANGUAGE_METHODS or config.method == "text-sim":
        raise ConfigError("--ray runs the visual methods (novelty, oneclass, zeroshot) for now")
    from oddsight.cluster.ray_runner import results_by_video

    return results_by_video(videos, config, address, progress=config.progress, features_only=features_only)


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
            _warn(f"{stem}: --save-video works for video files only; skipped")
        else:
            from oddsight.report.annotate import write_annotated_video

            files["video"] = write_annotated_video(result, out / f"{stem}.annotated.mp4", progress=config.progress)
    return files


def _clock(seconds: float) -> str:
    m, s = divmod(seconds, 60)
    h, m = divmod(int(m), 60)
    return f"{h:d}:{m:02d}:{s:04.1f}" if h else f"{m:02d}:{s:04.1f}"


def _print_summary(result: DetectionResult, files: dict[str, Path]) -> None:
    name = Path(result.info.source).name
    cache = " (features from cache)" if result.from_cache else ""
    typer.echo(
        f"{name}: {len(result.frame_scores)} frames, {len(result.sample_scores)} scored, "
        f"{len(result.events)} event(s) at threshold {result.threshold:g}{cache}"
    )
    for i, e in enumerate(result.events, 1):
        label = f"  {e.label}" if e.label else ""
        typer.echo(
            f"  #{i} {_clock(e.start_s)}-{_clock(e.end_s)} (frames {e.start_frame}-{e.end_frame}) "
            f"peak {e.peak_score:.3f} at {_clock(e.peak_s)}{label}"
        )
    if not result.events and len(result.frame_scores):
        peak = int(result.frame_scores.argmax())
        typer.echo(
            f"  no event: the highest score, {result.frame_scores[peak]:.3f} at {_clock(peak / result.info.fps)}, "
            f"stays under the threshold {result.threshold:g}"
        )
    typer.echo("  -> " + ", ".join(str(p) for p in files.values()))


@app.command("eval")
def eval_(
    dataset: Annotated[
        str, typer.Option("--dataset", help="ucf-crime | xd-violence | frame-labels | frame-text | segment-text | csv")
    ],
    root: Annotated[Path, typer.Option("--root", help="The dataset's folder.")],
    method: MethodOpt = "novelty",
    fps: FpsOpt = None,
    stride: StrideOpt = None,
    out: Annotated[Path | None, typer.Option("--out", "-o", help="Also write ROC/PR and per-video plots.")] = None,
    as_json: JsonOpt = False,
    quiet: QuietOpt = False,
    model: ModelOpt = None,
    model_path: ModelPathOpt = None,
    detector: DetectorOpt = None,
    anomaly: AnomalyOpt = None,
    normal: NormalOpt = None,
    threshold: ThresholdOpt = None,
    smooth: SmoothOpt = None,
    min_event: MinEventOpt = 1.0,
    merge_gap: MergeGapOpt = 2.0,
    batch_size: BatchOpt = 16,
    device: DeviceOpt = "auto",
    no_cache: NoCacheOpt = False,
    frames_fps: FramesFpsOpt = 25.0,
    end_exclusive: Annotated[bool, typer.Option("--end-exclusive", help="Label end frames are exclusive.")] = False,
    labels: Annotated[
        Path | None, typer.Option("--labels", help="csv: the labels file (default ROOT/labels.csv).")
    ] = None,
    csv_units: Annotated[str, typer.Option("--csv-units", help="csv: frames | seconds")] = "frames",
    iou: Annotated[float, typer.Option("--iou", help="IoU for event-level precision/recall.")] = 0.1,
    sweep: Annotated[
        str | None,
        typer.Option("--sweep", help="threshold: event precision/recall and false alarms/hour over thresholds."),
    ] = None,
    llm: LLMOpt = None,
    llm_path: LLMPathOpt = None,
    split: SplitOpt = "sentences",
    context: ContextOpt = None,
    summary: SummaryOpt = "join",
    window: WindowOpt = 10.0,
    refine_k: RefineOpt = 10,
    chunk: ChunkOpt = 10.0,
    group: GroupOpt = 0.0,
    no_reasons: NoReasonsOpt = False,
    live: LiveOpt = False,
    warmup: WarmupOpt = 300.0,
    history: Annotated[
        str | None,
        typer.Option("--history", help="With --live: a camera's normal footage, watched before each video."),
    ] = None,
    ray: RayOpt = None,
) -> None:
    """Measure a method on a labelled benchmark with the same code path as `detect`."""
    with _Errors():
        from oddsight.evaluate.datasets import load_dataset
        from oddsight.evaluate.runner import evaluate
        from oddsight.options import METHODS

        config = _config(method, (*METHODS, "text-sim"), locals())
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
            results = _on_ray([str(v.source) for v in videos], config, ray)
            say = None
        report = evaluate(videos, config, dataset=dataset, min_iou=iou, on_video=say, results=results)
        for v in report.videos:
            for w in v.warnings:
                _warn(f"{v.name}: {w}")
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


@app.command()
def fit(
    videos: Annotated[list[str], typer.Argument(help="Normal footage only: videos, frame folders, folders.")],
    output: Annotated[Path, typer.Option("--output", "-o", help="Where to save the fitted detector.")],
    kind: Annotated[
        str | None,
        typer.Option(
            "--kind",
            help="knn (per cell on motion; the default there) | ocsvm (One-Class SVM; the default on "
            "one-vector encoders such as dinov2-small)",
        ),
    ] = None,
    nu: Annotated[float, typer.Option("--nu", help="OCSVM: share of normal frames allowed outside.")] = 0.05,
    k: Annotated[int, typer.Option("--k", help="knn: neighbours averaged.")] = 5,
    fps: FpsOpt = None,
    stride: StrideOpt = None,
    model: ModelOpt = None,
    model_path: ModelPathOpt = None,
    quiet: QuietOpt = False,
    frames_fps: FramesFpsOpt = 25.0,
    ray: RayOpt = None,
) -> None:
    """Fit a one-class detector on normal videos and save it (pickle-free)."""
    with _Errors():
        from oddsight.atomic import check_writable
        from oddsight.detectors.persist import save_detector
        from oddsight.methods.registry import METHODS
        from oddsight.options import DetectOptions
        from oddsight.pipeline import fit_oneclass

        config = DetectOptions.parse(
            {
                "fps": fps,
                "stride": stride,
                "model": model or METHODS["oneclass"].default_model,
                "model_path": model_path,
                "frames_fps": frames_fps,
            }
        ).to_config(progress=not quiet)
        from oddsight.video.inputs import expand_inputs

        inputs = expand_inputs(videos)
        check_writable(output)  # before encoding any footage
        say = (lambda v: None) if quiet else (lambda v: typer.echo(f"encoding {v}", err=True))
        features = None
        if ray:  # features on the cluster (the same cache keys), the fit here
            found = _on_ray(inputs, config, ray, features_only=True)
            features = [found[v] for v in inputs]
        det = fit_oneclass(inputs, config, kind=kind, nu=nu, k=k, on_video=say, on_warning=_warn, features=features)
        save_detector(det, output)
        if not quiet:
            typer.echo(
                f"fitted {det.kind} on {det.n_train_} frames of {len(inputs)} video(s) "
                f"({det.model_id_}, {det.sampling_key_}); threshold {det.threshold_:g} -> {output}"
            )


@app.command()
def watch(
    sources: Annotated[
        list[str], typer.Argument(help="Cameras: rtsp://..., http://.../cam.mjpg, /dev/video0, or files.")
    ],
    method: Annotated[
        str, typer.Option("--method", "-m", help="novelty | oneclass | zeroshot | lavad | judge")
    ] = "novelty",
    detector: DetectorOpt = None,
    fps: Annotated[float, typer.Option("--fps", help="Frames per second scored per camera.")] = 2.0,
    alert: Annotated[
        list[str] | None,
        typer.Option("--alert", help="webhook:https://host/hook or mqtt://broker:1883/prefix; repeatable."),
    ] = None,
    webhook_secret: Annotated[
        str | None,
        typer.Option("--webhook-secret", envvar="ODDSIGHT_WEBHOOK_SECRET", help="Sign webhooks (HMAC-SHA256)."),
    ] = None,
    clips: Annotated[
        Path | None, typer.Option("--clips", help="Folder for snapshots, clips and each camera's events.jsonl.")
    ] = None,
    realtime: Annotated[bool, typer.Option("--realtime", help="Play files at their own frame rate.")] = False,
    threshold: ThresholdOpt = None,
    warmup: Annotated[
        float, typer.Option("--warmup", help="Seconds of each camera that set its threshold (no --threshold).")
    ] = 300.0,
    cooldown: Annotated[float, typer.Option("--cooldown", help="Seconds after an event before alerting again.")] = 0.0,
    smooth: SmoothOpt = None,
    min_event: MinEventOpt = 1.0,
    merge_gap: MergeGapOpt = 2.0,
    model: ModelOpt = None,
    model_path: ModelPathOpt = None,
    device: DeviceOpt = "auto",
    anomaly: AnomalyOpt = None,
    normal: NormalOpt = None,
    captioner: CaptionerOpt = None,
    llm: LLMOpt = None,
    llm_path: LLMPathOpt = None,
    context: ContextOpt = None,
    chunk: ChunkOpt = 10.0,
    window: WindowOpt = 10.0,
    refine_k: RefineOpt = 10,
    no_reasons: NoReasonsOpt = False,
    seconds: Annotated[
        float | None, typer.Option("--seconds", help="Stop after this many seconds of each stream.")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print every new/update/end message as a JSON line.")] = False,
    quiet: QuietOpt = False,
) -> None:
    """Score cameras and streams as they arrive; events open and close live, with snapshots, clips and alerts."""
    with _Errors():
        import threading

        from oddsight.errors import ConfigError
        from oddsight.live.alerts import make_sink
        from oddsight.live.engine import LIVE_METHODS, make_engine
        from oddsight.live.monitor import Monitor, camera_name

        config = _config(method, LIVE_METHODS, locals(), progress=False)
        if clips is not None:
            from oddsight.atomic import check_writable

            check_writable(clips, folder=True)
        names = [camera_name(s) for s in sources]
        if len(set(names)) != len(names):
            raise ConfigError("two sources have the same camera name; give distinct URLs or paths")
        lock = threading.Lock()

        def say(payload: dict) -> None:
            with lock:
                if as_json:
                    from oddsight.atomic import dumps

                    typer.echo(dumps(payload))
                elif not quiet:
                    e = payload["event"]
                    span = f"{_clock(e['start_s'])}-{_clock(e['end_s'])}"
                    clip = f" clip {e['clip']}" if e.get("clip") else ""
                    typer.echo(
                        f"{payload['camera']}: {payload['type']:<6} {e['id']} {span} peak {e['peak_score']:.3f}{clip}"
                    )

        monitors = []
        for source, name in zip(sources, names, strict=True):
            sinks = [make_sink(spec, name, webhook_secret) for spec in alert or []]
            engine = make_engine(config, warmup_s=0 if threshold is not None else warmup, camera=name)
            monitors.append(Monitor(source, engine, fps, realtime, clips, sinks, say, camera=name, cooldown_s=cooldown))
        errors: list[BaseException] = []

        def run(m: Monitor) -> None:
            try:
                m.run(max_seconds=seconds)
            except BaseException as exc:
                errors.append(exc)

        threads = [threading.Thread(target=run, args=(m,), daemon=True) for m in monitors]
        for t in threads:
            t.start()
        try:
            for t in threads:
                while t.is_alive():
                    t.join(0.5)
        except KeyboardInterrupt:
            for m in monitors:
                m.stop()
            for t in threads:
                t.join(10)
        finally:
            for m in monitors:
                for sink in m.sinks:
                    sink.close()
        for m in monitors:
            stats = m.stream.stats
            if not quiet and not as_json:
                cal = m.engine.calibration
                level = f"{cal.threshold:g}" if cal.threshold is not None else "not set"
                typer.echo(
                    f"{m.camera}: {stats.sampled} frames scored, {stats.dropped} dropped, "
                    f"{stats.reconnects} reconnect(s); threshold {level} ({cal.source})",
                    err=True,
                )
        if errors:
            raise errors[0]


@app.command()
def feedback(
    event_id: Annotated[str, typer.Argument(help="The event's id (from the watch log or its alerts).")],
    verdict: Annotated[str, typer.Argument(help="false-alarm | confirmed")],
    clips: Annotated[Path, typer.Option("--clips", help="The --clips folder `oddsight watch` wrote.")] = Path("clips"),
) -> None:
    """Say an event was a false alarm (its scene joins the camera's normal memory) or confirm it."""
    with _Errors():
        from oddsight.live.feedback import give_feedback

        folder = give_feedback(clips, event_id, verdict)
        typer.echo(f"{event_id}: {verdict} (camera {folder.name}; a running watch picks it up within seconds)")


DataOpt = Annotated[
    Path | None, typer.Option("--data", help="The server's data folder (default $ODDSIGHT_HOME/server).")
]


@app.command()
def serve(
    host: Annotated[str, typer.Option("--host", help="Address to bind; anything but this machine needs a token.")] = (
        "127.0.0.1"
    ),
    port: Annotated[int, typer.Option("--port", help="TCP port.")] = 8321,
    data: DataOpt = None,
    media: Annotated[
        list[Path] | None, typer.Option("--media", help="A folder whose videos may be registered; repeatable.")
    ] = None,
    workers: Annotated[int, typer.Option("--workers", help="Worker processes that run jobs.")] = 1,
    token: Annotated[
        str | None,
        typer.Option("--token", envvar="ODDSIGHT_TOKEN", show_envvar=True, help="Require this token (API and UI)."),
    ] = None,
    max_upload_mb: Annotated[float, typer.Option("--max-upload-mb", help="Largest upload accepted, MB.")] = 2048.0,
    allowed_host: Annotated[
        list[str] | None,
        typer.Option("--allowed-host", help="Another name clients use for this server (Host header); repeatable."),
    ] = None,
    llm_endpoint: Annotated[
        list[str] | None,
        typer.Option(
            "--llm-endpoint",
            help="An OpenAI-compatible base URL analyses may use (and that gets $OPENAI_API_KEY); repeatable. "
            "Also $ODDSIGHT_LLM_ENDPOINTS.",
        ),
    ] = None,
) -> None:
    """Run the HTTP API (under /api/v1, docs at /docs) and the dashboard, with jobs in worker processes."""
    with _Errors():
        from oddsight.extras import require_extra

        require_extra("server", "oddsight serve")
        import os

        from oddsight.errors import ConfigError
        from oddsight.llm.openai_http import ENDPOINTS_ENV
        from oddsight.server.app import Settings, create_app, is_local, lock_data_folder
        from oddsight.server.store import default_data_dir
        from oddsight.validate import integer, number

        integer("--port", port, low=1)
        number("--max-upload-mb", max_upload_mb, low=0, low_open=True)
        if not is_local(host) and not token:
            raise ConfigError(f"--host {host} lets other machines in: set --token or $ODDSIGHT_TOKEN")
        folder = data or default_data_dir()
        lock = lock_data_folder(folder)  # noqa: F841 (held until the server stops)
        settings = Settings(
            data=folder,
            media=media or [],
            token=token,
            workers=workers,
            max_upload_mb=max_upload_mb,
            host=host,
            allowed_hosts=allowed_host or [],
            llm_endpoints=llm_endpoint or [],
        )
        server_app = create_app(settings)
        os.environ[ENDPOINTS_ENV] = ",".join(settings.llm_endpoints)  # workers and cameras: the key goes only there
        import uvicorn

        shown = f"[{host}]" if ":" in host else host
        typer.echo(f"oddsight: serving http://{shown}:{port}  (API /api/v1, docs /docs, data {folder})", err=True)
        uvicorn.run(server_app, host=host, port=port, log_level="warning", access_log=False)


@app.command("import")
def import_(
    path: Annotated[Path, typer.Argument(help="An `oddsight detect --out` folder, or one result .json file.")],
    data: DataOpt = None,
) -> None:
    """Import results the CLI wrote into the server's store (the dashboard shows them)."""
    with _Errors():
        from oddsight.errors import InputError
        from oddsight.server.imports import import_results
        from oddsight.server.store import Store, default_data_dir

        if not path.exists():
            raise InputError(f"{path}: no such file or folder")
        report = import_results(Store(data or default_data_dir()), path)
        typer.echo(f"imported {report['imported']} result(s), {report['skipped']} already there")
        for name in report["unreadable"]:
            _warn(f"{name}: not an oddsight result; skipped")


def _source_name(source: dict) -> str:
    if source["kind"] == "builtin":
        return "built in"
    if source["kind"] == "pip-parts":
        return f"{source['packages'][0]}..{len(source['packages'])}"
    return source.get("package") or source.get("repo", "?")


@models_app.command("list")
def models_list(as_json: Annotated[bool, typer.Option("--json", help="Print as JSON.")] = False) -> None:
    """Every known model: role, sources, licence, and whether it loads offline here now."""
    with _Errors():
        from oddsight.models.registry import availability, list_specs

        rows = []
        for spec in list_specs():
            sources = ", ".join(_source_name(s) for s in spec.sources)
            where = availability(spec)
            rows.append(
                {
                    "id": spec.id,
                    "role": spec.role,
                    "available": where,
                    "sources": sources,
                    "licence": spec.licence,
                    "description": spec.description,
                }
            )
        if as_json:
            typer.echo(json.dumps(rows, indent=1))
            return
        typer.echo(f"{'model':<18} {'role':<11} {'offline now':<12} sources  [licence]")
        for r in rows:
            status = "yes (" + r["available"] + ")" if r["available"] != "missing" else "no"
            typer.echo(f"{r['id']:<18} {r['role']:<11} {status:<12} {r['sources']}  [{r['licence']}]")


@models_app.command("pull")
def models_pull(
    name: Annotated[str, typer.Argument(help="Model id from `oddsight models list`.")],
    to: Annotated[Path | None, typer.Option("--to", help="Copy into this folder instead of the cache.")] = None,
) -> None:
    """Fetch a model into the cache, or into a folder to carry to an air-gapped machine."""
    with _Errors():
        from oddsight.models.loader import pull
        from oddsight.models.registry import get_spec

        target = pull(get_spec(name), to)
        typer.echo(f"{name} -> {target}")
        if to is not None:
            typer.echo(f"on the other machine: oddsight detect VIDEO --model {name} --model-path {target}")


def main() -> None:
    import signal

    if hasattr(signal, "SIGXFSZ"):  # past a file-size limit: an OSError (one message), not a killed process
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    try:
        app()
    except KeyboardInterrupt:  # pragma: no cover
        typer.echo("oddsight: error: interrupted", err=True)
        sys.exit(130)


if __name__ == "__main__":  # pragma: no cover
    main()
