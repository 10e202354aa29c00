"""Speed of CycleGAN training and synthesis, each against a plain-fp32 Keras baseline.

For both presets (``paper``: 256 px, ngf 64, 9 blocks; ``fast``: 128 px, ngf 32, 6 blocks):

* training seconds per iteration (batch 1). Baseline: the same networks in float32 with
  the straightforward step (each generator and discriminator call on its own image).
  eusaug: the configured step (bfloat16 mixed precision with float32 losses, and the
  generator/discriminator calls that share weights merged into one batch), without and
  with the denoisers in front of the discriminators;
* synthesis images per second of the CT -> EUS generator. Baseline: float32, one image per
  call. eusaug: the ``cyclegan`` translator (bfloat16, batches of ``--synth-batch``).

Each figure is the median of the timed iterations after a warm-up (the first call traces
the graph). Wall-clock time is reported; ``*_cpu_s`` lines give CPU seconds too, which
move less when other processes share the machine. The goals are the issue's: half the
PyTorch reference's training time, twice its inference rate. Prints ``name: value`` lines.

    python benchmarks/bench_cyclegan.py [--presets fast,paper] [--iterations 3]
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
from collections.abc import Callable

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402
from eusaug_plugins.cyclegan.config import resolve_config  # noqa: E402
from eusaug_plugins.cyclegan.denoiser import build_denoiser  # noqa: E402
from eusaug_plugins.cyclegan.training import CycleGAN, Denoisers, _l1, _mse  # noqa: E402
from eusaug_plugins.cyclegan.translator import CycleGANTranslator  # noqa: E402

from eusaug import FieldOfView, Planes  # noqa: E402
from eusaug.pipeline.steps import cpu_name  # noqa: E402

#: The issue's reference figures on this kind of machine (PyTorch junyanz CycleGAN).
REFERENCE = {
    "paper": {"train_s_per_iter": 7.7, "keras_fp32_s_per_iter": 8.0, "synth_img_per_s": 2.6},
    "fast": {"train_s_per_iter": 0.50, "keras_fp32_s_per_iter": 0.48, "synth_img_per_s": 42.0},
}


class PlainCycleGAN(CycleGAN):
    """The baseline step: every network call on one image, as a direct port would do."""

    def _generator_losses(self, ct: tf.Tensor, eus: tf.Tensor):  # type: ignore[no-untyped-def]
        cfg = self.config
        fake_eus = self.g_ct2eus(ct, training=True)
        fake_ct = self.g_eus2ct(eus, training=True)
        rec_ct = self.g_eus2ct(fake_eus, training=True)
        rec_eus = self.g_ct2eus(fake_ct, training=True)
        adversarial = _mse(self._judge(self.d_eus, self.denoisers.eus, fake_eus), 1.0) + _mse(
            self._judge(self.d_ct, self.denoisers.ct, fake_ct), 1.0)
        cycle = cfg.cycle_weight * (_l1(rec_ct, ct) + _l1(rec_eus, eus))
        identity = cfg.identity_weight * cfg.cycle_weight * (
            _l1(self.g_ct2eus(eus, training=True), eus) + _l1(self.g_eus2ct(ct, training=True), ct))
        return {"generator": adversarial, "cycle": cycle, "identity": identity}, fake_eus, fake_ct

    def _discriminator_loss(self, real_ct, real_eus, fake_ct, fake_eus):  # type: ignore[no-untyped-def]
        def half(d, dn, real, fake):  # type: ignore[no-untyped-def]
            return 0.5 * (_mse(self._judge(d, dn, real), 1.0) + _mse(self._judge(d, dn, fake), 0.0))

        return half(self.d_eus, self.denoisers.eus, real_eus, fake_eus) + half(
            self.d_ct, self.denoisers.ct, real_ct, fake_ct)


def timed(func: Callable[[], object], iterations: int, warmup: int) -> tuple[float, float]:
    """(median wall seconds, median CPU seconds) per call after ``warmup`` calls."""
    for _ in range(warmup):
        func()
    walls, cpus = [], []
    for _ in range(iterations):
        wall, cpu = time.perf_counter(), time.process_time()
        func()
        walls.append(time.perf_counter() - wall)
        cpus.append(time.process_time() - cpu)
    return statistics.median(walls), statistics.median(cpus)


def train_seconds(model: CycleGAN, size: int, iterations: int) -> tuple[float, float]:
    rng = np.random.default_rng(0)
    ct = tf.constant(rng.uniform(-1, 1, (1, size, size, 1)).astype(np.float32))
    eus = tf.constant(rng.uniform(-1, 1, (1, size, size, 1)).astype(np.float32))
    draws, slots = tf.constant([[0.7, 0.7]], tf.float32), tf.constant([[0, 0]], tf.int32)

    def step() -> None:
        losses = model.train_step(ct, eus, draws, slots)
        float(losses["cycle"])  # wait for the step to finish

    return timed(step, iterations, warmup=2)


def synth_rates(preset: str, images: int, batch: int) -> tuple[float, float]:
    """(baseline, eusaug) images per second of the CT -> EUS generator."""
    cfg_fp32 = resolve_config(preset, precision="fp32", denoiser=False)
    cfg = resolve_config(preset, denoiser=False)
    size = cfg.image_size_px
    fov = FieldOfView(height_px=size, width_px=size)
    rng = np.random.default_rng(1)
    hu = rng.uniform(-200, 200, (images, size, size)).astype(np.float32)
    planes = Planes(hu, np.zeros(hu.shape, np.int16), np.ones(hu.shape, bool), np.tile(np.eye(4), (images, 1, 1)), fov)

    baseline = CycleGAN(cfg_fp32).g_ct2eus
    windowed = planes.windowed()

    def one_by_one() -> None:
        for k in range(images):
            np.asarray(baseline(windowed[k : k + 1, ..., None], training=False))

    translator = CycleGANTranslator(CycleGAN(cfg).g_ct2eus, cfg, batch_size=batch)
    base_s, _ = timed(one_by_one, 1, warmup=1)
    ours_s, _ = timed(lambda: translator.translate(planes, rng), 1, warmup=1)
    return images / base_s, images / ours_s


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--presets", default="fast,paper", help="comma-separated presets to measure")
    parser.add_argument("--iterations", type=int, default=3, help="timed training iterations per variant")
    parser.add_argument("--synth-images", type=int, default=16, help="images translated per synthesis run")
    parser.add_argument("--synth-batch", type=int, default=8, help="batch size of the eusaug translator")
    args = parser.parse_args()

    print(f"cpu: {cpu_name()}")
    print(f"cpu_count: {os.cpu_count()}")
    print(f"tensorflow: {tf.__version__}")
    for preset in [p.strip() for p in args.presets.split(",") if p.strip()]:
        ref = REFERENCE[preset]
        base_cfg = resolve_config(preset, precision="fp32", denoiser=False)
        size = base_cfg.image_size_px
        print(f"{preset}_shape: {size}px ngf{base_cfg.ngf} {base_cfg.n_blocks} blocks")
        base_wall, base_cpu = train_seconds(PlainCycleGAN(base_cfg), size, args.iterations)
        print(f"{preset}_train_fp32_baseline_s_per_iter: {base_wall:.3f}")
        print(f"{preset}_train_fp32_baseline_cpu_s_per_iter: {base_cpu:.3f}")

        cfg = resolve_config(preset, denoiser=False)
        wall, cpu = train_seconds(CycleGAN(cfg), size, args.iterations)
        print(f"{preset}_train_{cfg.precision}_s_per_iter: {wall:.3f}")
        print(f"{preset}_train_{cfg.precision}_cpu_s_per_iter: {cpu:.3f}")
        print(f"{preset}_train_speedup_vs_baseline: {base_wall / wall:.2f}")

        cfg_dn = resolve_config(preset)
        denoisers = Denoisers(*(build_denoiser(cfg_dn.denoiser_depth, cfg_dn.denoiser_filters, name=f"dn_{d}",
                                               dtype=cfg_dn.dtype_policy) for d in ("ct", "eus")))
        dn_wall, _ = train_seconds(CycleGAN(cfg_dn, denoisers), size, args.iterations)
        print(f"{preset}_train_{cfg.precision}_with_denoisers_s_per_iter: {dn_wall:.3f}")
        print(f"{preset}_train_reference_pytorch_s_per_iter: {ref['train_s_per_iter']}")
        print(f"{preset}_train_goal_s_per_iter: {ref['train_s_per_iter'] / 2:.3f}")

        base_rate, rate = synth_rates(preset, args.synth_images, args.synth_batch)
        print(f"{preset}_synth_fp32_baseline_img_per_s: {base_rate:.2f}")
        print(f"{preset}_synth_{cfg.precision}_batch{args.synth_batch}_img_per_s: {rate:.2f}")
        print(f"{preset}_synth_speedup_vs_baseline: {rate / base_rate:.2f}")
        print(f"{preset}_synth_reference_pytorch_img_per_s: {ref['synth_img_per_s']}")
        print(f"{preset}_synth_goal_img_per_s: {ref['synth_img_per_s'] * 2:.1f}")


if __name__ == "__main__":
    main()
