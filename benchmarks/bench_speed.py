"""Speed of `detect` on the dev videos, measured side by side in one run.

Prints: raw encoder throughput (pre-decoded, pre-processed frames, batch 16), end-to-end cold
detect (decode + preprocess + encode + score, cache on), warm re-score from the cache, cold detect with
the previous default encoder (dinov2-small) on the same videos, the seed-style baseline
(benchmarks/seed_baseline.py), and `oddsight --help` start-up time, with the ratios the targets are stated in.

    .venv/bin/python benchmarks/bench_speed.py [--model motion] [--previous dinov2-small] [--videos DIR]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_VIDEOS = ROOT.parent / "shared" / "data" / "ucf_crime" / "videos"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--model", default="motion", help="the encoder measured (default: the product's default)")
    parser.add_argument("--previous", default="dinov2-small", help="the previous default, measured beside it")
    parser.add_argument("--seed-model", default="dinov2-small-fp32")
    parser.add_argument("--videos", type=Path, default=DEFAULT_VIDEOS)
    parser.add_argument("--fps", type=float, default=2.0)
    parser.add_argument("--skip-seed", action="store_true")
    args = parser.parse_args()
    os.environ.setdefault("ODDSIGHT_HOME", str(ROOT / ".bench" / "home"))

    from oddsight.config import DetectConfig
    from oddsight.detection import Detection
    from oddsight.features.cache import FeatureCache
    from oddsight.models.loader import load_image_encoder
    from oddsight.video.sampling import Sampling
    from oddsight.video.source import open_source

    videos = sorted(args.videos.glob("*.mp4"))
    sampling = Sampling(fps=args.fps)
    encoder = load_image_encoder(args.model)
    print(f"model {args.model}, {len(videos)} videos, sampling {sampling.key}, {os.cpu_count()} CPUs")

    # 1. raw encoder: the same frames, decoded and preprocessed beforehand, batch 16
    pairs = bool(getattr(encoder, "needs_previous", False))

    def frame_input(f):
        return np.stack([f.previous, f.image]) if pairs else f.image

    tensors = [
        encoder.preprocess(
            np.stack([frame_input(f) for f in open_source(v).frames(sampling, encoder.input_size, previous=pairs)])
        )
        for v in videos
    ]
    n = sum(len(t) for t in tensors)
    encoder.embed(tensors[0][:16])  # warm-up
    t0 = time.perf_counter()
    for t in tensors:
        for i in range(0, len(t), 16):
            encoder.embed(t[i : i + 16])
    raw_s = time.perf_counter() - t0

    def cold_detect(model: str, loaded) -> tuple[float, FeatureCache, tempfile.TemporaryDirectory]:
        tmp = tempfile.TemporaryDirectory()
        cache = FeatureCache(Path(tmp.name))
        session = Detection(DetectConfig(model=model, sampling=sampling, progress=False), cache=cache, encoder=loaded)
        t0 = time.perf_counter()  # the encoder was loaded beforehand: loading is not part of the figure
        for v in videos:
            session.run(v)
        return time.perf_counter() - t0, cache, tmp

    # 2. cold end-to-end detect, 3. warm re-score from the cache, 4. the previous default beside it
    previous_s, _, previous_tmp = cold_detect(args.previous, load_image_encoder(args.previous))
    previous_tmp.cleanup()
    cold_s, cache, tmp = cold_detect(args.model, encoder)
    with tmp:
        warm = Detection(DetectConfig(model=args.model, sampling=sampling, progress=False, threshold=0.05), cache=cache)
        t0 = time.perf_counter()
        results = [warm.run(v) for v in videos]
        warm_s = time.perf_counter() - t0
        assert all(r.from_cache for r in results)

    print(f"raw encoder        {n / raw_s:7.2f} frames/s  ({raw_s:.1f} s for {n} frames)")
    print(f"detect, cold       {n / cold_s:7.2f} frames/s  ({cold_s:.1f} s)")
    print(f"detect, warm       {warm_s * 1000:7.1f} ms for all videos (re-score from cache)")
    print(f"detect, cold, {args.previous} (previous default) {n / previous_s:7.2f} frames/s  ({previous_s:.1f} s)")
    print(f"  {args.model} / {args.previous} frames/s = {previous_s / cold_s:.0%}   (target >= 50%)")
    print(f"  end-to-end / raw encoder = {raw_s / cold_s:.1%}   (target >= 90%)")
    print(f"  cold / warm             = {cold_s / warm_s:.0f}x    (target >= 50x)")

    # 4. seed-style baseline on the same videos and frames
    if not args.skip_seed:
        sys.path.insert(0, str(Path(__file__).parent))
        import onnxruntime as ort
        from seed_baseline import seed_embed_video

        from oddsight.models.loader import _dinov2_onnx
        from oddsight.models.registry import get_spec, resolve

        seed_file = _dinov2_onnx(resolve(get_spec(args.seed_model)))
        opts = ort.SessionOptions()
        opts.intra_op_num_threads = os.cpu_count() or 1
        seed_session = ort.InferenceSession(str(seed_file), opts, providers=["CPUExecutionProvider"])
        t0 = time.perf_counter()
        seed_n = sum(len(seed_embed_video(seed_session, v, args.fps)) for v in videos)
        seed_s = time.perf_counter() - t0
        print(f"seed-style         {seed_n / seed_s:7.2f} frames/s  ({seed_s:.1f} s, {args.seed_model}, batch 1)")
        print(f"  detect speed-up over seed-style = {seed_s / cold_s:.2f}x   (target >= 3x)")

    # 5. CLI start-up
    exe = Path(sys.executable).parent / "oddsight"
    times = []
    for _ in range(5):
        t0 = time.perf_counter()
        subprocess.run([str(exe), "--help"], check=True, capture_output=True)
        times.append(time.perf_counter() - t0)
    best, median = min(times) * 1000, np.median(times) * 1000
    print(f"oddsight --help    {best:7.0f} ms best of 5, {median:.0f} ms median (target < 500 ms)")


if __name__ == "__main__":
    main()
