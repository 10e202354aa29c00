"""The GPU check's measurements: training step and loop, synthesis rate, peak memory, a learning run.

Run by ``benchmarks/gpu_check.sh`` (which installs first); prints ``name: value`` lines.
On a GPU everything runs at full size with mixed precision (float16 where the CycleGAN
config offers it, else bfloat16, which the GPU runs natively and which needs no loss
scaling). ``--cpu-smoke`` runs the same code on tiny networks for a few iterations, so a
test can run it on any machine and the script cannot rot. Exit status 1 when the
learning run's loss did not fall, 2 when no GPU is visible without ``--cpu-smoke``.
"""

from __future__ import annotations

import argparse
import os
import sys
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402
from bench_cyclegan import loop_seconds, train_seconds  # noqa: E402
from eusaug_plugins.cyclegan.config import PRECISIONS, resolve_config  # noqa: E402
from eusaug_plugins.cyclegan.training import CycleGAN  # noqa: E402
from eusaug_plugins.cyclegan.translator import CycleGANTranslator  # noqa: E402

from eusaug import FieldOfView, Planes  # noqa: E402
from eusaug.io import resolve_precision  # noqa: E402

#: Tiny networks for ``--cpu-smoke``: the ``fast`` preset shrunk until a run takes seconds.
SMOKE_OVERRIDES: dict[str, object] = {"image_size_px": 32, "ngf": 8, "ndf": 8, "n_blocks": 1, "crop_margin_px": 8,
                                      "pool_size": 4}
#: (preset, overrides, iterations per epoch, epochs) of each measurement, full and smoke.
FULL = {"step": ("paper", {}, 10), "loop": ("paper", {}, 20, 2), "learn": ("fast", {}, 40, 4),
        "synth_images": 256, "synth_batch": 32}
#: In the smoke run one short run is both the loop measurement and the learning run (None).
SMOKE = {"step": ("fast", SMOKE_OVERRIDES, 2), "loop": ("fast", {**SMOKE_OVERRIDES, "learning_rate": 1e-3}, 4, 3),
         "learn": None, "synth_images": 8, "synth_batch": 4}


def mixed_precision(on_gpu: bool) -> str:
    """The CycleGAN ``precision`` the check trains with: float16 on a GPU when offered, else
    bfloat16; on a CPU what ``auto`` picks there (float32 where bfloat16 would be emulated)."""
    if not on_gpu:
        return resolve_precision("auto")
    return "fp16" if "fp16" in PRECISIONS else "bf16"


def synth_rate(cfg: object, images: int, batch: int) -> float:
    """Images per second of the CT -> EUS translator (after one warm-up call)."""
    size = cfg.image_size_px  # type: ignore[attr-defined]
    rng = np.random.default_rng(0)
    hu = rng.uniform(-200, 200, (images, size, size)).astype(np.float32)
    planes = Planes(hu, np.zeros(hu.shape, np.int16), np.ones(hu.shape, bool), np.tile(np.eye(4), (images, 1, 1)),
                    FieldOfView(height_px=size, width_px=size))
    translator = CycleGANTranslator(CycleGAN(cfg).g_ct2eus, cfg, batch_size=batch)  # type: ignore[arg-type]
    translator.translate(planes, rng)
    began = time.perf_counter()
    translator.translate(planes, rng)
    return images / (time.perf_counter() - began)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cpu-smoke", action="store_true", help="tiny networks, a few iterations, no GPU needed")
    args = parser.parse_args(argv)
    plan = SMOKE if args.cpu_smoke else FULL
    gpus = tf.config.list_physical_devices("GPU")
    if not gpus and not args.cpu_smoke:
        print("gpu: none", flush=True)
        print("TensorFlow sees no GPU: install it with CUDA (pip install \"tensorflow[and-cuda]\") and check "
              "nvidia-smi, or run with --cpu-smoke.", file=sys.stderr)
        return 2
    for gpu in gpus:  # take memory as needed, so the peak below is what the work used
        tf.config.experimental.set_memory_growth(gpu, True)
    gpu_name = tf.config.experimental.get_device_details(gpus[0]).get("device_name", "unknown") if gpus else "none"
    precision = mixed_precision(bool(gpus))
    print(f"mode: {'cpu-smoke' if args.cpu_smoke else 'full'}")
    print(f"gpu: {gpu_name}")
    print(f"tensorflow: {tf.__version__}")
    print(f"precision: {precision}", flush=True)

    preset, overrides, iterations = plan["step"]
    cfg = resolve_config(preset, precision=precision, denoiser=False, **overrides)
    wall, _ = train_seconds(CycleGAN(cfg), cfg.image_size_px, iterations)
    print(f"{preset}_step_{precision}_s_per_iter: {wall:.4f}", flush=True)

    preset, overrides, iterations, epochs = plan["loop"]
    loop = loop_seconds(preset, iterations, epochs, overrides={**overrides, "precision": precision})
    print(f"{preset}_loop_{precision}_s_per_iter: {loop['loop_s_per_iter']:.4f}")
    print(f"{preset}_loop_over_step: {loop['loop_s_per_iter'] / wall:.2f}", flush=True)

    for name in ("fast", "paper"):
        synth_cfg = resolve_config(name, precision=precision, denoiser=False,
                                   **(SMOKE_OVERRIDES if args.cpu_smoke else {}))
        rate = synth_rate(synth_cfg, plan["synth_images"], plan["synth_batch"])
        print(f"{name}_synth_batch{plan['synth_batch']}_img_per_s: {rate:.2f}", flush=True)

    if plan["learn"] is None:
        learn = loop
    else:
        preset, overrides, iterations, epochs = plan["learn"]
        learn = loop_seconds(preset, iterations, epochs, overrides={**overrides, "precision": precision})
    fell = learn["last_epoch_cycle_loss"] < learn["first_epoch_cycle_loss"]
    print(f"learn_{preset}_epochs: {epochs} of {iterations} iterations")
    print(f"learn_first_epoch_cycle_loss: {learn['first_epoch_cycle_loss']:.4f}")
    print(f"learn_last_epoch_cycle_loss: {learn['last_epoch_cycle_loss']:.4f}")
    print(f"learn_loss_fell: {'yes' if fell else 'no'}")

    if gpus:
        peak = tf.config.experimental.get_memory_info("GPU:0")["peak"]
        print(f"peak_gpu_memory_mib: {peak / 2**20:.0f}")
    else:
        print("peak_gpu_memory_mib: n/a (no GPU)")
    return 0 if fell else 1


if __name__ == "__main__":
    sys.exit(main())
