"""Seconds per training step of CUT and FastCUT against the CycleGAN, at the same size.

Builds each model of the ``fast`` preset (128 px, ngf 32, 6 blocks, ``precision=auto``, untrained
denoisers of the preset's size in front of the discriminators), traces its step once,
then times ``--steps`` steps on random images in one process, each model in turn, and
prints ``name: value`` lines: s/step and its ratio to the CycleGAN's (the baseline,
measured in the same run). On a shared CPU, compare the ratios, not the seconds.

    python benchmarks/bench_cut_step.py --steps 10
"""

from __future__ import annotations

import argparse
import os
import time

import numpy as np

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--steps", type=int, default=10, help="Timed steps per model (after one traced step).")
    parser.add_argument("--size", type=int, default=128, help="Training image size in px.")
    parser.add_argument("--rounds", type=int, default=2, help="Rounds over the models (the best round counts).")
    args = parser.parse_args()

    import tensorflow as tf
    from eusaug_plugins.cyclegan.config import CUT_PRESETS, resolve_config
    from eusaug_plugins.cyclegan.cut_model import CUT
    from eusaug_plugins.cyclegan.denoiser import build_denoiser
    from eusaug_plugins.cyclegan.training import CycleGAN, Denoisers

    def denoisers(cfg: object) -> Denoisers:
        make = lambda seed: build_denoiser(cfg.denoiser_depth, cfg.denoiser_filters, seed=seed,  # noqa: E731
                                           dtype=cfg.dtype_policy)
        return Denoisers(ct=make(0), eus=make(1))

    base = {"image_size_px": args.size}
    models = {
        "cyclegan": CycleGAN(cfg := resolve_config("fast", **base), denoisers(cfg)),
        "cut": CUT(cfg := resolve_config("fast", CUT_PRESETS, **base), denoisers(cfg)),
        "fastcut": CUT(cfg := resolve_config("fast", CUT_PRESETS, **base, nce_weight=10.0, nce_identity=False,
                                             flip_equivariance=True), denoisers(cfg)),
    }
    rng = np.random.default_rng(0)
    shape = (1, args.size, args.size, 1)
    batch = [tf.constant(rng.uniform(-1, 1, shape).astype(np.float32)) for _ in range(2)]
    extras = (tf.constant(rng.random((1, 2), np.float32)), tf.constant(np.zeros((1, 2), np.int32)))
    for model in models.values():
        model.train_step(*batch, *extras)  # trace
    best = {name: float("inf") for name in models}
    for _ in range(args.rounds):
        for name, model in models.items():
            began = time.perf_counter()
            for _ in range(args.steps):
                losses = model.train_step(*batch, *extras)
            float(losses["generator"])
            best[name] = min(best[name], (time.perf_counter() - began) / args.steps)
    print(f"cpu_cores: {os.cpu_count()}")
    print(f"size_px: {args.size}")
    for name, seconds in best.items():
        print(f"{name}_s_per_step: {seconds:.3f}")
        print(f"{name}_vs_cyclegan: {seconds / best['cyclegan']:.2f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
