"""``oddsight fit``: a one-class detector from normal footage, saved pickle-free."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from oddsight.cli.app import app
from oddsight.cli.cluster import on_ray
from oddsight.cli.common import Errors, config_from, warn
from oddsight.cli.options import QuietOpt, RayOpt, with_options
from oddsight.option_fields import FIT


@app.command()
@with_options(FIT)
def fit(
    videos: Annotated[
        list[str], typer.Argument(help="Normal footage only: videos, frame folders, folders.", metavar="VIDEO")
    ],
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
    quiet: QuietOpt = False,
    ray: RayOpt = None,
    options: dict | None = None,
) -> None:
    """Fit a one-class detector on normal videos and save it (pickle-free)."""
    with Errors():
        from oddsight.atomic import check_writable
        from oddsight.detectors.persist import save_detector
        from oddsight.methods.registry import METHODS
        from oddsight.options import METHODS as NAMES
        from oddsight.pipeline import fit_oneclass
        from oddsight.video.inputs import expand_inputs

        options = {**(options or {}), "model": (options or {}).get("model") or METHODS["oneclass"].default_model}
        config = config_from(options, NAMES, progress=not quiet)

        inputs = expand_inputs(videos)
        check_writable(output)  # before encoding any footage
        say = (lambda v: None) if quiet else (lambda v: typer.echo(f"encoding {v}", err=True))
        features = None
        if ray:  # features on the cluster (the same cache keys), the fit here
            found = on_ray(inputs, config, ray, features_only=True)
            features = [found[v] for v in inputs]
        det = fit_oneclass(inputs, config, kind=kind, nu=nu, k=k, on_video=say, on_warning=warn, features=features)
        save_detector(det, output)
        if not quiet:
            typer.echo(
                f"fitted {det.kind} on {det.n_train_} frames of {len(inputs)} video(s) "
                f"({det.model_id_}, {det.sampling_key_}); threshold {det.threshold_:g} -> {output}"
            )
