"""Quality of each dev set in both modes, side by side: `oddsight eval` (a file, offline) and `oddsight eval --live`
(what a camera runs: the past only), cold and with the camera's normal footage first (`--history`).

    .venv/bin/python benchmarks/quality_modes.py [--only ucf,ped2,avenue,vtest] [--out runs/quality]

Prints one row per (set, method, mode): micro / macro frame AUC, event precision / recall at IoU 0.1, events on
vtest (a normal scene: 0 is right). Every figure comes from the project's own `eval` / `detect` code.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT.parent / "shared" / "data"
ODDSIGHT = [sys.executable, "-c", "from oddsight.cli import main; main()"]

SETS = {
    "ucf": {"args": ["--dataset", "ucf-crime", "--root", str(DATA / "ucf_crime")], "train": None, "fit": []},
    "ped2": {
        "args": ["--dataset", "frame-labels", "--root", str(DATA / "ucsd_ped2"), "--frames-fps", "10", "--fps", "10"],
        "train": DATA / "ucsd_ped2" / "train",
        "fit": ["--frames-fps", "10", "--fps", "10"],
    },
    "avenue": {  # fitted at 5 fps (as the README's table); training-free at the default 2
        "args": ["--dataset", "frame-labels", "--root", str(DATA / "avenue")],
        "train": DATA / "avenue" / "train",
        "fit": ["--fps", "5"],
    },
}


def run(*args: str) -> str:
    done = subprocess.run([*ODDSIGHT, *args], capture_output=True, text=True, cwd=ROOT)
    if done.returncode != 0:
        raise SystemExit(f"oddsight {' '.join(args)} failed:\n{done.stderr[-2000:]}")
    return done.stdout


def fmt(value: float | None) -> str:
    return "-" if value is None else f"{value:.3f}"


def eval_row(name: str, method: str, mode: str, args: list[str]) -> dict:
    t0 = time.perf_counter()
    report = json.loads(run("eval", *args, "--json", "-q"))
    return {
        "set": name,
        "method": method,
        "mode": mode,
        "micro": report["auc"],
        "macro": report["macro_auc"],
        "precision": report["event_precision"],
        "recall": report["event_recall"],
        "seconds": round(time.perf_counter() - t0, 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--only", default="ucf,ped2,avenue,vtest")
    parser.add_argument("--out", type=Path, default=ROOT / "runs" / "quality")
    parser.add_argument("--modes", default="offline,live,live + history", help="offline alone runs on older code")
    a = parser.parse_args()
    a.out.mkdir(parents=True, exist_ok=True)
    rows = []
    for name in a.only.split(","):
        if name == "vtest":
            for mode, extra in (("offline", []), ("live", ["--live"])):
                if mode not in a.modes.split(","):
                    continue
                result = json.loads(
                    run("detect", str(DATA / "normal" / "vtest.avi"), "--json", "-q", "--out", str(a.out), *extra)
                )
                events = result["results"][0]["events"]
                rows.append({"set": "vtest", "method": "novelty", "mode": mode, "events": len(events)})
                print(f"vtest novelty {mode}: {len(events)} event(s)", flush=True)
            continue
        spec = SETS[name]
        plans = [("novelty", "offline", []), ("novelty", "live", ["--live"])]
        if spec["train"] is not None:
            detector = a.out / f"{name}.oddsight"
            run("fit", str(spec["train"]), "-o", str(detector), "--quiet", *spec["fit"])
            fitted = ["--method", "oneclass", "--detector", str(detector), *spec["fit"]]
            history = ["--live", "--history", str(spec["train"])]
            plans += [
                ("novelty", "live + history", history),
                ("oneclass", "offline", fitted),
                ("oneclass", "live", [*fitted, "--live"]),
            ]
        for method, mode, extra in plans:
            if mode not in a.modes.split(","):
                continue
            row = eval_row(name, method, mode, [*spec["args"], *extra])
            rows.append(row)
            print(
                f"{name} {method} {mode}: micro {fmt(row['micro'])} macro {fmt(row['macro'])} "
                f"events P {fmt(row['precision'])} R {fmt(row['recall'])} ({row['seconds']} s)",
                flush=True,
            )
    (a.out / "quality.json").write_text(json.dumps(rows, indent=1))
    print("\n| set | method | mode | micro AUC | macro AUC | event P / R |")
    print("|---|---|---|---|---|---|")
    for r in rows:
        if r["set"] == "vtest":
            print(f"| vtest | novelty | {r['mode']} | - | - | {r['events']} event(s) (0 is right) |")
        else:
            print(
                f"| {r['set']} | {r['method']} | {r['mode']} | {fmt(r['micro'])} | {fmt(r['macro'])} | "
                f"{fmt(r['precision'])} / {fmt(r['recall'])} |"
            )


if __name__ == "__main__":
    main()
