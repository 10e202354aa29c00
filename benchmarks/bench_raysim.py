"""Throughput of the ``raysim`` translator at 256x256, batched against one plane at a time.

Planes are sliced once (``eusaug.reference_slice``) from the shared abdomen CT along
poses from ``eusaug.poses.sampling.sample_poses`` (the paper's stomach-cone sampler) for the
liver, the aorta and the pancreas. The baseline
is the same simulation called once per plane (what a per-image loop would do); the
batched run is one ``translate`` call on the whole batch. Each is timed best-of-
``--repeats`` after a warm-up. Prints ``name: value`` lines.

    python benchmarks/bench_raysim.py [--planes 64] [--repeats 3]
"""

from __future__ import annotations

import argparse
import os
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

from eusaug import FieldOfView, Registry, load_case, reference_slice
from eusaug.ct.volume import CTCase
from eusaug.poses.sampling import sample_poses

DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"
CT = DATA / "ct" / "totalseg_abdomen_ct.nii.gz"


def landmark_poses(case: CTCase, n: int, seed: int) -> np.ndarray:
    """``n`` poses split over liver, aorta and pancreas, sampled as the pipeline does."""
    landmarks = ("liver", "aorta", "pancreas")
    counts = [n // len(landmarks) + (i < n % len(landmarks)) for i in range(len(landmarks))]
    return np.concatenate([
        sample_poses(case, name, count, seed=seed).poses for name, count in zip(landmarks, counts) if count
    ])


def best_time(func: Callable[[], object], repeats: int) -> float:
    func()
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        func()
        best = min(best, time.perf_counter() - start)
    return best


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--planes", type=int, default=64)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    case = load_case(CT)
    fov = FieldOfView(height_px=256, width_px=256)
    planes = reference_slice(case, landmark_poses(case, args.planes, args.seed), fov)
    translator = Registry().create("translator", "raysim")

    def batched() -> None:
        translator.translate(planes, np.random.default_rng(args.seed))  # type: ignore[attr-defined]

    def one_at_a_time() -> None:
        rng = np.random.default_rng(args.seed)
        for i in range(len(planes)):
            translator.translate(planes.subset([i]), rng)  # type: ignore[attr-defined]

    baseline_s = best_time(one_at_a_time, args.repeats)
    batched_s = best_time(batched, args.repeats)
    print(f"planes: {len(planes)}")
    print(f"grid_px: {fov.height_px}x{fov.width_px}")
    print(f"cpu_count: {os.cpu_count()}")
    print(f"baseline_one_at_a_time_img_per_s: {len(planes) / baseline_s:.1f}")
    print(f"raysim_batched_img_per_s: {len(planes) / batched_s:.1f}")
    print(f"speedup: {baseline_s / batched_s:.2f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
