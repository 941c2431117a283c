"""A oneclass fit on one short clip: how its threshold is set decides whether it sees anything.

With one video, the fitted threshold scores each probed frame against the clip's frames more than ``APART_S``
away (with several videos, against the other videos) and takes the ``quantile`` (0.995) of those scores. The
memory and so every score (and AUC) are the same whatever the rule; only the threshold, and the events, change.
For each rule this prints the threshold and the events it gives, on footage of each kind:

- ped2 / avenue: fitted on one training video alone, evaluated on the test set (event precision / recall);
- fight: fitted on the first 18 s of UCF-Crime's Fighting033 (the corridor before the fight), detected on the
  whole video (the fight: 19-28 s);
- vtest: fitted on the first 30 s of vtest.avi (a normal street), detected on the rest (0 events is right).

    .venv/bin/python benchmarks/probe_one_clip_fit.py [--rules 2,1,0.5]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from fractions import Fraction
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT.parent / "shared" / "data"
ODDSIGHT = [sys.executable, "-c", "from oddsight.cli import main; main()"]
PED2 = ["--dataset", "frame-labels", "--root", str(DATA / "ucsd_ped2"), "--frames-fps", "10", "--fps", "10"]
AVENUE = ["--dataset", "frame-labels", "--root", str(DATA / "avenue"), "--fps", "5"]
FIGHT = DATA / "ucf_crime" / "videos" / "Fighting033_x264.mp4"
VTEST = DATA / "normal" / "vtest.avi"


def run(*args: str) -> str:
    done = subprocess.run([*ODDSIGHT, *args], capture_output=True, text=True, cwd=ROOT)
    if done.returncode != 0:
        raise SystemExit(f"oddsight {' '.join(args)} failed:\n{done.stderr[-2000:]}")
    return done.stdout


def clip(src: Path, dst: Path, start: float, end: float) -> Path:
    """``src`` from ``start`` to ``end`` seconds, re-encoded (H.264), as a file of its own."""
    import av

    with av.open(str(src)) as inp, av.open(str(dst), "w") as out:
        stream = inp.streams.video[0]
        rate = round(float(stream.average_rate))
        enc = out.add_stream("libx264", rate=rate)
        enc.width, enc.height, enc.pix_fmt = stream.width, stream.height, "yuv420p"
        n = 0
        for frame in inp.decode(stream):
            if frame.time is not None and start <= frame.time < end:
                picture = frame.reformat(format="yuv420p")
                picture.pts, picture.time_base = n, Fraction(1, rate)
                n += 1
                out.mux(enc.encode(picture))
        out.mux(enc.encode())
    return dst


def threshold(train: Path, fit_args: list[str], apart: float) -> float:
    """The threshold a fit on ``train`` gets with frames ``apart`` seconds away (the features from the cache)."""
    from oddsight.detectors import oneclass
    from oddsight.options import DetectOptions
    from oddsight.pipeline import fit_oneclass

    options = dict(zip(fit_args[::2], fit_args[1::2], strict=True))
    parsed = {k.lstrip("-").replace("-", "_"): float(v) for k, v in options.items()}
    oneclass.APART_S = apart
    detector = fit_oneclass([train], DetectOptions.parse(parsed).to_config())
    return detector.threshold_


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rules", default="2,1,0.5", help="APART_S values to try (seconds)")
    a = parser.parse_args()
    tmp = Path(tempfile.mkdtemp())
    fight_calm = clip(FIGHT, tmp / "calm.mp4", 0, 18)
    vtest_first = clip(VTEST, tmp / "vtest_first.mp4", 0, 30)
    vtest_rest = clip(VTEST, tmp / "vtest_rest.mp4", 30, 1e9)
    cases = [
        ("ped2 Train001", DATA / "ucsd_ped2" / "train" / "Train001", ["--frames-fps", "10", "--fps", "10"], PED2),
        ("ped2 Train008", DATA / "ucsd_ped2" / "train" / "Train008", ["--frames-fps", "10", "--fps", "10"], PED2),
        ("avenue 12.avi", DATA / "avenue" / "train" / "12.avi", ["--fps", "5"], AVENUE),
        ("avenue 16.avi", DATA / "avenue" / "train" / "16.avi", ["--fps", "5"], AVENUE),
        ("fight, first 18 s", fight_calm, [], FIGHT),
        ("vtest, first 30 s", vtest_first, [], vtest_rest),
    ]
    print("| fitted on | APART_S | threshold | events |")
    print("|---|---|---|---|")
    for name, train, fit_args, target in cases:
        detector = tmp / "d.oddsight"
        run("fit", str(train), "-o", str(detector), "--quiet", *fit_args)  # encodes once: the cache serves the rest
        for apart in (float(x) for x in a.rules.split(",")):
            t = threshold(train, fit_args, apart)
            use = ["--method", "oneclass", "--detector", str(detector), "--threshold", f"{t:.6f}"]
            if isinstance(target, list):
                report = json.loads(run("eval", *target, *use, "--json", "-q"))
                events = f"P {report['event_precision'] or 0:.3f} R {report['event_recall'] or 0:.3f}"
            else:
                result = json.loads(run("detect", str(target), *use, "--json", "-q", "--out", str(tmp / "o")))
                found = result["results"][0]["events"]
                events = ", ".join(f"{e['start_s']:.1f}-{e['end_s']:.1f} s" for e in found) or "none"
            print(f"| {name} | {apart:g} | {t:.3f} | {events} |", flush=True)


if __name__ == "__main__":
    main()
