"""Slicing speed: eusaug's ``plane`` slicer against ``scipy.ndimage.map_coordinates(order=1)``.

Both slice the same batch of 256x256 planes (default field of view) from the shared
abdomen CT. The baseline gets its voxel coordinates by broadcasting (cheaply, in float64)
and interpolates HU only; eusaug's slicer returns HU, nearest-neighbour labels and the
sector mask. Each side is timed best-of-``--repeats`` after one warm-up, the runs of the
two sides interleaved so that load from other processes hits both alike, and the two HU
results must agree. Prints ``name: value`` lines; the last is the speed-up.

    python benchmarks/bench_slicing.py [--planes 64] [--repeats 5] [--workers N]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
from scipy.ndimage import map_coordinates

from eusaug.ct.volume import AIR_HU, load_case
from eusaug.geometry.field_of_view import FieldOfView, pose_from_axes
from eusaug.geometry.interpolate import plane_grid
from eusaug.plugin.registry import Registry

DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"
CT = DATA / "ct" / "totalseg_abdomen_ct.nii.gz"
LABELS = DATA / "ct" / "totalseg_abdomen_labels.nii.gz"

#: Largest HU difference accepted between the two (float32 coordinates vs float64).
MAX_HU_DIFFERENCE = 1.0


def random_poses(case, n: int, seed: int) -> np.ndarray:  # type: ignore[no-untyped-def]
    """Poses at random stomach voxels, pointing in random directions (seeded)."""
    rng = np.random.default_rng(seed)
    voxels = np.argwhere(case.labels.ids == case.label_preset.id_of("stomach"))
    origins = case.ct.voxel_to_world(voxels[rng.integers(len(voxels), size=n)])
    beams, laterals = rng.normal(size=(n, 3)), rng.normal(size=(n, 3))
    return np.stack([pose_from_axes(o, b, lat) for o, b, lat in zip(origins, beams, laterals)])


def interleaved_best(funcs: list, repeats: int) -> tuple[list[float], list[object]]:  # type: ignore[type-arg]
    """Best wall time of each function over ``repeats`` rounds, one run of each per round."""
    results = [func() for func in funcs]  # warm-up (page faults, caches)
    best = [float("inf")] * len(funcs)
    for _ in range(repeats):
        for k, func in enumerate(funcs):
            start = time.perf_counter()
            results[k] = func()
            best[k] = min(best[k], time.perf_counter() - start)
    return best, results


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--planes", type=int, default=64)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--workers", type=int, default=None, help="eusaug slicer threads (default: plugin's)")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    case = load_case(CT, LABELS)
    fov = FieldOfView()
    poses = random_poses(case, args.planes, args.seed)

    def baseline() -> np.ndarray:
        ijk = plane_grid(poses, fov, case.ct.affine).ijk()
        return map_coordinates(case.ct.hu, np.moveaxis(ijk, -1, 0), order=1, mode="constant", cval=AIR_HU)

    options = {} if args.workers is None else {"workers": args.workers}
    slicer = Registry().create("slicer", "plane", **options)
    start = time.perf_counter()
    slicer.slice(case, poses[:1], fov)  # prepares the volume once, as a training loop would
    prepare_s = time.perf_counter() - start

    (base_s, fast_s), (base_hu, planes) = interleaved_best(
        [baseline, lambda: slicer.slice(case, poses, fov)], args.repeats
    )
    difference = float(np.abs(planes.hu - base_hu).max())  # type: ignore[attr-defined]

    base_rate, fast_rate = args.planes / base_s, args.planes / fast_s
    print(f"ct: {CT.name} {'x'.join(map(str, case.ct.shape))} voxels")
    print(f"planes: {args.planes} of {fov.height_px}x{fov.width_px} px")
    print(f"eusaug_workers: {slicer.workers}")  # type: ignore[attr-defined]
    print(f"eusaug_prepare_ms: {prepare_s * 1000:.1f}")
    print(f"max_abs_hu_difference: {difference:.4f}")
    print(f"planes_per_s_map_coordinates: {base_rate:.1f}")
    print(f"planes_per_s_eusaug: {fast_rate:.1f}")
    if difference > MAX_HU_DIFFERENCE:
        print(f"error: slices disagree by {difference:.3f} HU (> {MAX_HU_DIFFERENCE})", file=sys.stderr)
        return 1
    print(f"speedup_vs_map_coordinates: {fast_rate / base_rate:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
