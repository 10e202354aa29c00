"""Speed of CycleGAN training and synthesis, each against a plain-fp32 Keras baseline.

For both presets (``paper``: 256 px, ngf 64, 9 blocks; ``fast``: 128 px, ngf 32, 6 blocks):

* training seconds per iteration (batch 1). Baseline: the same networks in float32 with
  the straightforward step (each generator and discriminator call on its own image).
  eusaug: the configured step (``precision=auto``: bfloat16 mixed precision with float32
  losses where the CPU computes bfloat16 natively, float32 elsewhere; and the
  generator/discriminator calls that share weights merged into one batch), without and
  with the denoisers in front of the discriminators;
* synthesis images per second of the CT -> EUS generator. Baseline: float32, one image per
  call. eusaug: the ``cyclegan`` translator (its precision, batches of ``--synth-batch``);
* the training *loop*: a short real run through the code ``eusaug train`` runs
  (``CycleGANTranslator.train`` -> ``train_run``: planes sliced from the bundled sample CT,
  synthetic "EUS" frames the benchmark writes, validation, sample grid, checkpoint and
  export every epoch), denoisers off as in the bare-step figure beside it. The first
  epoch (which traces the graphs) is not timed; the loop figure is the wall time of the
  later epochs over their iterations, end-of-epoch work included.

Each step figure is the median of the timed iterations after a warm-up (the first call
traces the graph). Wall-clock time is reported; ``*_cpu_s`` lines give CPU seconds too,
which move less when other processes share the machine.

The goals are ratios against the reference PyTorch CycleGAN (junyanz) measured **in the
same run on the same machine**: when torch is importable, each preset starts by running
``../shared/reference-cyclegan/bench_reference.py`` (the upstream code, in a subprocess)
for that size, and its inference rate is measured again right after eusaug's synthesis
(the two reference figures bracket eusaug's; their mean is the basis). Goals: a training
step at most half the reference's, synthesis at least 3x (``paper``) / 2x (``fast``) its
rate; printed as ``{preset}_step_over_reference`` and ``{preset}_synth_over_reference``.
``--no-reference`` skips it; earlier figures are then printed only as labelled context.
Prints ``name: value`` lines; about 10-12 minutes on 2 cores with the reference.

    python benchmarks/bench_cyclegan.py [--presets fast,paper] [--iterations 3] [--no-reference]
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402
from eusaug_plugins.cyclegan.config import resolve_config  # noqa: E402
from eusaug_plugins.cyclegan.denoiser import build_denoiser  # noqa: E402
from eusaug_plugins.cyclegan.training import CycleGAN, Denoisers, _l1, _mse  # noqa: E402
from eusaug_plugins.cyclegan.translator import CycleGANTranslator  # noqa: E402

from eusaug import FieldOfView, Planes  # noqa: E402
from eusaug.io import resolve_precision  # noqa: E402
from eusaug.pipeline.environment import cpu_name  # noqa: E402

#: Context only (never a goal's basis): figures measured 2026-11 on an AMD EPYC machine
#: kind (2 vCPUs), printed under ``quoted`` when the reference is not run in this run.
QUOTED_SOURCE = "quoted, measured 2026-11, AMD EPYC machine kind (2 vCPUs); context only"
QUOTED = {
    "paper": {"reference_pytorch_train_s_per_iter": 7.29, "reference_pytorch_synth_batch8_img_per_s": 1.99},
    "fast": {"reference_pytorch_train_s_per_iter": 0.49, "reference_pytorch_synth_batch8_img_per_s": 51.0},
}
#: Where the reference lives, relative to the repository root, and its size tag per preset.
REFERENCE_DIR = Path(__file__).resolve().parents[1].parent / "shared" / "reference-cyclegan"
REFERENCE_TAG = {"paper": "256", "fast": "128"}
#: The goals: step <= TRAIN_GOAL x reference; synthesis >= SYNTH_GOAL x reference.
TRAIN_GOAL = 0.5
SYNTH_GOAL = {"paper": 3.0, "fast": 2.0}
#: Training iterations per epoch of the loop benchmark (two epochs: the first is not timed).
LOOP_ITERATIONS = {"fast": 20, "paper": 4}


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
    ours_s, _ = timed(lambda: translator.translate(planes, rng), 3, warmup=1)
    return images / base_s, images / ours_s


def reference_figures(reference_dir: Path, preset: str, iterations: int, batch: int,
                      infer_only: bool = False) -> dict[str, float]:
    """Run the reference PyTorch CycleGAN's own benchmark at ``preset``'s size, in a subprocess.

    A subprocess keeps torch's thread pool apart from TensorFlow's. Returns
    ``train_s_per_iter`` (unless ``infer_only``) and ``infer_img_per_s`` (batch ``batch``).
    """
    tag = REFERENCE_TAG[preset]
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "reference.json"
        command = [sys.executable, str(reference_dir / "bench_reference.py"), "--configs", tag, "--no-3ch",
                   "--iters", str(iterations), "--batches", str(batch), "--infer-iters", "5", "--out", str(out)]
        if infer_only:
            command += ["--only", "infer"]
        done = subprocess.run(command, capture_output=True, text=True)
        if done.returncode != 0 or not out.is_file():
            raise SystemExit(f"the reference benchmark failed ({' '.join(command)}):\n{done.stderr[-2000:]}")
        results = json.loads(out.read_text())["results"]
    got = {"infer_img_per_s": float(results[f"ref_infer_img_per_s_{tag}_b{batch}"])}
    if not infer_only:
        got["train_s_per_iter"] = float(results[f"ref_train_s_per_iter_{tag}"])
    return got


def reference_available(reference_dir: Path) -> str | None:
    """None when the reference can run here, else why not."""
    if importlib.util.find_spec("torch") is None:
        return "torch is not importable (pip install torch)"
    if not (reference_dir / "bench_reference.py").is_file():
        return f"{reference_dir / 'bench_reference.py'} does not exist (pass --reference-dir)"
    return None


def loop_seconds(preset: str, iterations: int, epochs: int = 2,
                 overrides: dict[str, object] | None = None) -> dict[str, float]:
    """A short real training run at ``preset`` (denoisers off), ``iterations`` per epoch.

    Returns the loop's wall seconds per iteration over epochs 2.. (end-of-epoch work
    included), the training part alone (the epoch's step loop), the end-of-epoch
    seconds (validation, sample grid, checkpoint, export, loss plot) per epoch, and the
    first and last epochs' mean training cycle loss (to see that it learns).
    ``overrides``: config fields on top of the preset (e.g. tiny networks for a smoke run).
    """
    overrides = {"denoiser": False, **(overrides or {}), "epochs": epochs}
    from eusaug_plugins.cyclegan.config import resolve_config as resolve
    from eusaug_plugins.cyclegan.translator import CycleGANTranslator as Translator

    from eusaug import load_case, sample_ct_path, sample_labels_path
    from eusaug.io.images import write_png
    from eusaug.poses.sampling import sample_poses

    cfg = resolve(preset, **overrides)  # type: ignore[arg-type]
    case = load_case(sample_ct_path(), sample_labels_path())
    fov = FieldOfView(height_px=cfg.load_size_px, width_px=cfg.load_size_px)
    pose_set = sample_poses(case, "liver", 12, seed=0, fov=fov)
    # Frames: the validation split takes 10 % (at least one), the rest are the iterations.
    n_frames = iterations + max(1, round(0.1 * (iterations + 1)))
    rng = np.random.default_rng(0)
    stamps: list[float] = []
    rows: list[dict[str, float]] = []
    with tempfile.TemporaryDirectory() as tmp:
        frames = Path(tmp) / "eus"
        frames.mkdir()
        side = cfg.load_size_px
        y, x = np.mgrid[:side, :side] / side
        for k in range(n_frames):  # a bright sector of speckle, darker with depth
            sector = np.abs(x - 0.5) < 0.6 * y
            speckle = rng.rayleigh(0.3, (side, side)) * (1.2 - y)
            write_png(frames / f"eus_{k:03d}.png", np.clip(np.where(sector, speckle * 1.6 - 1, -1), -1, 1))
        began = time.perf_counter()

        def on_epoch(row: dict[str, float]) -> None:
            stamps.append(time.perf_counter())
            rows.append(row)

        Translator.train(Path(tmp) / "run", cases=[case], pose_sets=[pose_set], eus_dir=frames, landmark="liver",
                         preset=preset, overrides=overrides, on_epoch=on_epoch)
    steps = [int(r["step"]) for r in rows]
    timed_iters = steps[-1] - steps[0]
    loop = (stamps[-1] - stamps[0]) / timed_iters
    train = sum(r["seconds"] for r in rows[1:]) / timed_iters
    ends = [(stamps[i] - stamps[i - 1]) - rows[i]["seconds"] for i in range(1, len(rows))]
    return {"loop_s_per_iter": loop, "loop_train_part_s_per_iter": train,
            "loop_end_of_epoch_s": statistics.mean(ends), "loop_first_epoch_s": stamps[0] - began,
            "loop_iterations_per_epoch": steps[0], "first_epoch_cycle_loss": rows[0]["train_cycle"],
            "last_epoch_cycle_loss": rows[-1]["train_cycle"]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--presets", default="fast,paper", help="comma-separated presets to measure")
    parser.add_argument("--iterations", type=int, default=3, help="timed training iterations per variant")
    parser.add_argument("--synth-images", type=int, default=16, help="images translated per synthesis run")
    parser.add_argument("--synth-batch", type=int, default=8, help="batch size of the eusaug translator")
    parser.add_argument("--no-loop", action="store_true", help="skip the training-loop measurement")
    parser.add_argument("--no-reference", action="store_true", help="do not run the PyTorch reference")
    parser.add_argument("--reference-dir", type=Path, default=REFERENCE_DIR,
                        help="folder of the reference's bench_reference.py (default ../shared/reference-cyclegan)")
    args = parser.parse_args()

    print("# same run")
    print(f"cpu: {cpu_name()}")
    print(f"cpu_count: {os.cpu_count()}")
    print(f"tensorflow: {tf.__version__}")
    why_not = "--no-reference" if args.no_reference else reference_available(args.reference_dir)
    print(f"reference_in_this_run: {'no (' + why_not + ')' if why_not else 'yes'}")
    measured: dict[str, dict[str, float]] = {}
    reference: dict[str, dict[str, float]] = {}
    presets = [p.strip() for p in args.presets.split(",") if p.strip()]
    for preset in presets:
        got = measured[preset] = {}
        if not why_not:  # the reference right before eusaug's figures of the same size
            ref = reference[preset] = reference_figures(args.reference_dir, preset, args.iterations, args.synth_batch)
            print(f"{preset}_reference_train_s_per_iter: {ref['train_s_per_iter']:.3f}")
            print(f"{preset}_reference_synth_batch{args.synth_batch}_img_per_s (before): {ref['infer_img_per_s']:.2f}")
        base_cfg = resolve_config(preset, precision="fp32", denoiser=False)
        size = base_cfg.image_size_px
        print(f"{preset}_shape: {size}px ngf{base_cfg.ngf} {base_cfg.n_blocks} blocks")
        base_wall, base_cpu = train_seconds(PlainCycleGAN(base_cfg), size, args.iterations)
        print(f"{preset}_train_fp32_baseline_s_per_iter: {base_wall:.3f}")
        print(f"{preset}_train_fp32_baseline_cpu_s_per_iter: {base_cpu:.3f}")

        cfg = resolve_config(preset, denoiser=False)
        precision = resolve_precision(cfg.precision)  # auto: bf16 only where the CPU computes it natively
        wall, cpu = train_seconds(CycleGAN(cfg), size, args.iterations)
        got["step"] = wall
        print(f"{preset}_train_{precision}_s_per_iter: {wall:.3f}")
        print(f"{preset}_train_{precision}_cpu_s_per_iter: {cpu:.3f}")
        print(f"{preset}_train_speedup_vs_baseline: {base_wall / wall:.2f}")

        resize_wall, _ = train_seconds(CycleGAN(cfg.replace(upsample="resize")), size, args.iterations)
        print(f"{preset}_train_{precision}_resize_upsampling_s_per_iter: {resize_wall:.3f}")

        cfg_dn = resolve_config(preset)
        denoisers = Denoisers(*(build_denoiser(cfg_dn.denoiser_depth, cfg_dn.denoiser_filters, name=f"dn_{d}",
                                               dtype=cfg_dn.dtype_policy) for d in ("ct", "eus")))
        dn_wall, _ = train_seconds(CycleGAN(cfg_dn, denoisers), size, args.iterations)
        print(f"{preset}_train_{precision}_with_denoisers_s_per_iter: {dn_wall:.3f}")

        if not args.no_loop:
            loop = loop_seconds(preset, LOOP_ITERATIONS[preset])
            got["loop"] = loop["loop_s_per_iter"]
            print(f"{preset}_loop_iterations_per_epoch: {loop['loop_iterations_per_epoch']}")
            print(f"{preset}_loop_first_epoch_s (traces the graphs, not timed): {loop['loop_first_epoch_s']:.1f}")
            print(f"{preset}_loop_{precision}_s_per_iter: {loop['loop_s_per_iter']:.3f}")
            print(f"{preset}_loop_{precision}_train_part_s_per_iter: {loop['loop_train_part_s_per_iter']:.3f}")
            print(f"{preset}_loop_end_of_epoch_s: {loop['loop_end_of_epoch_s']:.2f}")
            print(f"{preset}_step_{precision}_s_per_iter (beside it): {wall:.3f}")
            print(f"{preset}_loop_over_step: {loop['loop_s_per_iter'] / wall:.2f}")
            print(f"{preset}_loop_train_part_over_step: {loop['loop_train_part_s_per_iter'] / wall:.2f}")

        base_rate, rate = synth_rates(preset, args.synth_images, args.synth_batch)
        got["synth"] = rate
        print(f"{preset}_synth_fp32_baseline_img_per_s: {base_rate:.2f}")
        print(f"{preset}_synth_{precision}_batch{args.synth_batch}_img_per_s: {rate:.2f}")
        print(f"{preset}_synth_speedup_vs_baseline: {rate / base_rate:.2f}")
        if not why_not:  # and again after eusaug's synthesis: the two bracket it
            after = reference_figures(args.reference_dir, preset, args.iterations, args.synth_batch, infer_only=True)
            print(f"{preset}_reference_synth_batch{args.synth_batch}_img_per_s (after): {after['infer_img_per_s']:.2f}")
            ref = reference[preset]
            ref["infer_img_per_s"] = (ref["infer_img_per_s"] + after["infer_img_per_s"]) / 2

    if why_not:
        print(f"# quoted ({QUOTED_SOURCE}); not measured by this run, no goal is judged against them")
        for preset in presets:
            for name, value in QUOTED[preset].items():
                print(f"{preset}_{name}: {value}")
        return
    print("# goals: same-run ratios against the reference (step <= 0.5x its time; synthesis >= 3x paper, 2x fast)")
    for preset in presets:
        ref, got = reference[preset], measured[preset]
        print(f"{preset}_step_over_reference: {got['step'] / ref['train_s_per_iter']:.2f} (goal <= {TRAIN_GOAL})")
        if "loop" in got:
            print(f"{preset}_loop_over_reference: {got['loop'] / ref['train_s_per_iter']:.2f}")
        print(f"{preset}_synth_over_reference: {got['synth'] / ref['infer_img_per_s']:.2f} (goal >= {SYNTH_GOAL[preset]})")


if __name__ == "__main__":
    main()
