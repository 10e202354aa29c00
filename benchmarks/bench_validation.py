"""What the end-of-epoch validation costs, against the training epoch it follows (``fast`` preset).

Prints ``name: value`` lines: the validation frames' features (once per run), one
epoch's validation (snapshot + 32 planes translated + KID), one training step, and the
epoch that 404 shared frames make at batch 1, for the share. Needs ../shared/data.

    python benchmarks/bench_validation.py [--frames ../shared/data/us/abdominal_rus_train] [--subject c]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    shared = Path(__file__).resolve().parents[1] / "../shared/data/us/abdominal_rus_train"
    parser.add_argument("--frames", type=Path, default=shared)
    parser.add_argument("--subject", default="c")
    parser.add_argument("--planes", type=int, default=32)
    parser.add_argument("--backbone", default="auto")
    parser.add_argument("--epoch-frames", type=int, default=404)
    args = parser.parse_args()

    import tensorflow as tf
    from eusaug_plugins.cyclegan.config import resolve_config
    from eusaug_plugins.cyclegan.training import CycleGAN
    from eusaug_plugins.cyclegan.validation import EpochValidator, KIDScorer
    from PIL import Image

    from eusaug.io import list_images, read_grey_uint8

    config = resolve_config("fast", denoiser=False)
    side, size = config.load_size_px, config.image_size_px
    m = config.crop_margin_px // 2
    paths = [p for p in list_images(args.frames) if p.name.startswith(args.subject)]
    frames = np.stack([np.asarray(Image.fromarray(read_grey_uint8(p)).resize((side, side), Image.Resampling.BILINEAR))
                       for p in paths])[:, m:m + size, m:m + size]
    print(f"validation_frames: {len(frames)}")
    began = time.perf_counter()
    scorer = KIDScorer(frames, args.backbone)
    print(f"validation_backbone: {scorer.backbone}")
    print(f"validation_features_once_s: {time.perf_counter() - began:.2f}")

    model = CycleGAN(config)
    rng = np.random.default_rng(0)
    planes = rng.uniform(-1, 1, (args.planes, size, size)).astype(np.float32)
    with tempfile.TemporaryDirectory() as tmp:
        validator = EpochValidator(Path(tmp), planes, np.ones_like(planes, bool), lambda: scorer, 0)
        times = []
        for epoch in (1, 2, 3):
            began = time.perf_counter()
            validator.end_epoch(epoch, model.g_ct2eus)
            times.append(time.perf_counter() - began)
        snapshot = (Path(tmp) / "generators" / "epoch-0001.keras").stat().st_size
    print(f"validation_per_epoch_s: {min(times[1:]):.2f} (first {times[0]:.2f})")
    print(f"generator_snapshot_mb: {snapshot / 2**20:.1f}")

    ct = tf.constant(rng.uniform(-1, 1, (1, size, size, 1)).astype(np.float32))
    eus = tf.constant(rng.uniform(-1, 1, (1, size, size, 1)).astype(np.float32))
    draws, slots = tf.constant([[0.9, 0.9]], tf.float32), tf.constant([[0, 0]], tf.int32)
    model.train_step(ct, eus, draws, slots)  # traces the graph
    began, steps = time.perf_counter(), 8
    for _ in range(steps):
        model.train_step(ct, eus, draws, slots)
    step = (time.perf_counter() - began) / steps
    epoch_s = step * args.epoch_frames * (1 - config.validation_fraction)
    print(f"train_step_s: {step:.3f}")
    print(f"train_epoch_s ({args.epoch_frames} frames): {epoch_s:.1f}")
    print(f"validation_share_of_epoch: {min(times[1:]) / epoch_s:.1%}")


if __name__ == "__main__":
    main()
