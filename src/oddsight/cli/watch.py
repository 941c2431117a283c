"""``oddsight watch`` (cameras and streams, live) and ``oddsight feedback`` (a false alarm or a confirmed event)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from oddsight.cli.app import app
from oddsight.cli.common import Errors, clock, config_from, fail, read_json, warn
from oddsight.cli.options import QuietOpt, with_options
from oddsight.option_fields import WATCH


@app.command()
@with_options(WATCH)
def watch(
    sources: Annotated[
        list[str],
        typer.Argument(help="Cameras: rtsp://..., http://.../cam.mjpg, /dev/video0, or files.", metavar="SOURCE"),
    ],
    alert: Annotated[
        list[str] | None,
        typer.Option(
            "--alert", help="webhook:https://host/hook or mqtt://broker:1883/prefix; repeatable.", metavar="SPEC"
        ),
    ] = None,
    webhook_secret: Annotated[
        str | None,
        typer.Option("--webhook-secret", envvar="ODDSIGHT_WEBHOOK_SECRET", help="Sign webhooks (HMAC-SHA256)."),
    ] = None,
    clips: Annotated[
        Path | None, typer.Option("--clips", help="Folder for snapshots, clips and each camera's events.jsonl.")
    ] = None,
    realtime: Annotated[
        bool, typer.Option("--realtime", help="Play files at their own frame rate.", metavar="")
    ] = False,
    cooldown: Annotated[float, typer.Option("--cooldown", help="Seconds after an event before alerting again.")] = 0.0,
    zones: Annotated[
        Path | None,
        typer.Option("--zones", help="JSON of masks and named zones (the API's; see the README), for every camera."),
    ] = None,
    retention: Annotated[
        str | None,
        typer.Option(
            "--retention", help="Disk limits of --clips per camera: 'clips=2GB/30d,snapshots=500MB,logs=100MB'."
        ),
    ] = None,
    schedule: Annotated[
        list[str] | None,
        typer.Option(
            "--schedule",
            help="Alert only in these windows, local time: 'mon-fri 18:00-07:00'; repeatable.",
            metavar="WINDOW",
        ),
    ] = None,
    record: Annotated[
        list[str] | None,
        typer.Option(
            "--record",
            help="A camera's main stream that clips are cut from, while the source (its low-resolution substream) is "
            "scored; one per source, in order.",
            metavar="URL",
        ),
    ] = None,
    seconds: Annotated[
        float | None, typer.Option("--seconds", help="Stop after this many seconds of each stream.")
    ] = None,
    as_json: Annotated[
        bool, typer.Option("--json", help="Print every new/update/end message as a JSON line.", metavar="")
    ] = False,
    quiet: QuietOpt = False,
    options: dict | None = None,
) -> None:
    """Score cameras and streams as they arrive; events open and close live, with snapshots, clips and alerts."""
    with Errors():
        import threading

        from oddsight.errors import ConfigError
        from oddsight.live.alerts import make_sink
        from oddsight.live.engine import LIVE_METHODS, make_engine
        from oddsight.live.monitor import Monitor, camera_name, check_record_url
        from oddsight.live.policy import AlertPolicy
        from oddsight.live.retention import Retention
        from oddsight.live.run import run_monitors
        from oddsight.live.zones import Zones

        config = config_from({**(options or {}), "live": True}, LIVE_METHODS, progress=False)
        fps = config.sampling.fps or 2.0
        if clips is not None:
            from oddsight.atomic import check_writable

            check_writable(clips, folder=True)
        policy = AlertPolicy().apply({"schedule": schedule or []})
        areas = Zones.parse(read_json(zones, "--zones")) if zones is not None else None
        limits = Retention.parse(retention)
        names = [camera_name(s) for s in sources]
        if len(set(names)) != len(names):
            raise ConfigError("two sources have the same camera name; give distinct URLs or paths")
        records = record or []
        if records and len(records) != len(sources):
            raise ConfigError(f"--record: one per source, in order ({len(sources)} source(s), {len(records)} --record)")
        for url in records:
            check_record_url(url)
        lock = threading.Lock()

        def say(payload: dict) -> None:
            with lock:
                if as_json:
                    from oddsight.atomic import dumps

                    typer.echo(dumps(payload))
                elif not quiet:
                    e = payload["event"]
                    span = f"{clock(e['start_s'])}-{clock(e['end_s'])}"
                    clip = f" clip {e['clip']}" if e.get("clip") else ""
                    typer.echo(
                        f"{payload['camera']}: {payload['type']:<6} {e['id']} {span} peak {e['peak_score']:.3f}{clip}"
                    )

        monitors = []
        for i, (source, name) in enumerate(zip(sources, names, strict=True)):
            sinks = [make_sink(spec, name, webhook_secret) for spec in alert or []]
            engine = make_engine(config, camera=name)
            monitors.append(
                Monitor(
                    source,
                    engine,
                    fps,
                    realtime,
                    clips,
                    sinks,
                    say,
                    camera=name,
                    cooldown_s=cooldown,
                    policy=policy,
                    zones=areas,
                    retention=limits,
                    record_url=records[i] if records else None,
                )
            )
        errors = run_monitors(monitors, seconds)
        silent = []
        for m in monitors:
            stats, cal = m.stream.stats, m.engine.calibration
            if stats.sampled == 0 and not errors:
                silent.append(f"{m.camera}: no frame received ({stats.last_error or 'the stream sent nothing'})")
            elif cal.warming_up:
                warn(
                    f"{m.camera}: the stream ended {cal.warmup_s:g} s warm-up short of a threshold of its own: the "
                    f"default {cal.threshold:g} held throughout (give --threshold or a shorter --warmup)"
                )
            if not quiet and not as_json:
                typer.echo(
                    f"{m.camera}: {stats.sampled} frames scored, {stats.dropped} dropped, "
                    f"{stats.reconnects} reconnect(s); threshold {cal.threshold:g} ({cal.source})",
                    err=True,
                )
        if errors:
            raise errors[0]
        if silent:
            fail("; ".join(silent), 1)


@app.command()
def feedback(
    event_id: Annotated[str, typer.Argument(help="The event's id (from the watch log or its alerts).")],
    verdict: Annotated[str, typer.Argument(help="false-alarm | confirmed")],
    clips: Annotated[Path, typer.Option("--clips", help="The --clips folder `oddsight watch` wrote.")] = Path("clips"),
) -> None:
    """Say an event was a false alarm (its scene joins the camera's normal memory) or confirm it."""
    with Errors():
        from oddsight.live.feedback import give_feedback

        folder = give_feedback(clips, event_id, verdict)
        typer.echo(f"{event_id}: {verdict} (camera {folder.name}; a running watch picks it up within seconds)")
