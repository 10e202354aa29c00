"""What the end-of-epoch validation costs, against the training epoch it follows (the hybrid's ``fast``).

Prints ``name: value`` lines: the validation frames' features (once per run), one
epoch's validation (snapshot + 32 planes translated + KID) on 128 px crops (a run without
patch training), on whole planes of the frames' size translated whole, and on the same
planes translated over the fitted fan's bounding box only (a patch-trained run, as synth
draws them), one training step, and the share of an epoch of the training frames at
batch 1 that each takes when every ``--every``-th epoch is scored. Needs ../shared/data.

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
    parser.add_argument("--epoch-frames", type=int, default=267,
                        help="Training frames an epoch passes (267: the realism bench's d, e split, less validation).")
    parser.add_argument("--every", type=int, default=None, help="Score every Nth epoch (default: the fast preset's).")
    args = parser.parse_args()

    import tensorflow as tf
    from eusaug_plugins.cyclegan.config import HYBRID_PRESETS, resolve_config
    from eusaug_plugins.cyclegan.cut_model import CUT
    from eusaug_plugins.cyclegan.translator import WholePlaneGenerator, fan_box
    from eusaug_plugins.cyclegan.validation import EpochValidator, KIDScorer

    from eusaug.geometry import fit_field_of_view
    from eusaug.io import list_images, read_grey_uint8

    # The realism bench's default translator: the hybrid's learned stage, CUT, on 128 px patches.
    config = resolve_config("fast", HYBRID_PRESETS, patch_training=True)
    every = args.every or config.val_every
    size = config.image_size_px
    paths = [p for p in list_images(args.frames) if p.name.startswith(args.subject)]
    whole = np.stack([read_grey_uint8(p) for p in paths])
    height, width = whole.shape[1:]
    y, x = (height - size) // 2, (width - size) // 2
    print(f"validation_frames: {len(whole)} of {height}x{width} px (subject {args.subject})")
    fan = fit_field_of_view(paths).mask()
    rows, cols = box = fan_box(fan)
    print(f"fan_box_px: {rows.stop - rows.start}x{cols.stop - cols.start} ({fan.mean():.0%} of the plane is fan, "
          f"{fan[box].mean():.0%} of the box)")
    model = CUT(config)
    rng = np.random.default_rng(0)
    per_epoch = {}
    for name, frames, shape, adapt, window in (
            ("crop", whole[:, y:y + size, x:x + size], (size, size), None, None),
            ("whole", whole, (height, width), WholePlaneGenerator(config), None),
            ("fan box", whole, (height, width), WholePlaneGenerator(config), box)):
        began = time.perf_counter()
        scorer = KIDScorer(frames, args.backbone)
        print(f"validation_features_once_s ({name}, {scorer.backbone}): {time.perf_counter() - began:.2f}")
        planes = rng.uniform(-1, 1, (args.planes, *shape)).astype(np.float32)
        visible = np.broadcast_to(fan, planes.shape) if window is not None else np.ones_like(planes, bool)
        with tempfile.TemporaryDirectory() as tmp:
            validator = EpochValidator(Path(tmp), planes, visible, lambda s=scorer: s, 0, adapt=adapt, box=window)
            times = []
            for epoch in (1, 2, 3):
                began = time.perf_counter()
                validator.end_epoch(epoch, model.g_ct2eus)
                times.append(time.perf_counter() - began)
            snapshot = (Path(tmp) / "generators" / "epoch-0001.keras").stat().st_size
        per_epoch[name] = min(times[1:])
        print(f"validation_per_scored_epoch_s ({name} {shape[0]}x{shape[1]}): {per_epoch[name]:.2f} "
              f"(first {times[0]:.2f})")
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
    print(f"train_step_s (the hybrid's CUT, {size} px patches): {step:.3f}")
    print(f"train_epoch_s ({args.epoch_frames} frames): {epoch_s:.1f}")
    for name, seconds in per_epoch.items():
        print(f"validation_share_of_epoch ({name}, every epoch): {seconds / epoch_s:.1%}")
        print(f"validation_share_of_epoch ({name}, every {every}): {seconds / every / epoch_s:.1%}")


if __name__ == "__main__":
    main()
