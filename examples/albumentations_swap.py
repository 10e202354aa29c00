"""An albumentations pipeline that swaps in synthetic images at a ratio, on the fly.

    python examples/albumentations_swap.py                      # demo data, see below
    python examples/albumentations_swap.py --bank SYN --images REAL --seed 1 -o grid.png

``--bank`` is a labelled set of synthetic images (a folder with one sub-folder per class,
or a CSV such as a ``eusaug mix`` manifest); ``--images`` a labelled set of real images
with the same class names. Without them, the demo builds both in a temporary folder from
raysim frames of the embedded sample CT (``demo_data.py``): the classes are the three
landmarks and the "synthetic" bank is simulated from other poses at another frequency.
They stand in for EUS and sEUS only so that the example runs anywhere; the swap rate,
not the pixels, is what it shows.
"""

from __future__ import annotations

import argparse
import json
import tempfile
from pathlib import Path

import albumentations as A
import numpy as np
from PIL import Image

from eusaug.geometry import FieldOfView
from eusaug.mix import DepthGain, SectorMask, SpeckleNoise, SyntheticSwap, read_labelled_set

try:  # run as a script from the repository root, or as a module (examples.albumentations_swap)
    from demo_data import raysim_sets
except ImportError:
    from examples.demo_data import raysim_sets  # type: ignore[no-redef]



def demo_sets(folder: Path) -> tuple[Path, Path]:
    """Real images (8 per landmark) and a 'synthetic' bank (12 per landmark) as class folders."""
    sets = raysim_sets(folder, {"real": 8, "bank": 12})
    return sets["real"], sets["bank"]


def build_pipeline(bank: Path, seed: int) -> A.Compose:
    fov = FieldOfView(opening_deg=70.0, depth_mm=50.0, probe_radius_mm=10.0)
    return A.Compose(
        [
            SyntheticSwap(bank, p=0.5),  # 50 % synthetic on average, class kept
            A.HorizontalFlip(p=0.5),
            DepthGain(gain_db_range=(-6.0, 6.0), knots=4, fov=fov, p=0.5),
            SpeckleNoise(strength_range=(0.1, 0.3), grain_px=2.0, p=0.5),
            A.RandomBrightnessContrast(brightness_limit=0.1, contrast_limit=0.1, p=0.3),
            SectorMask(fov),  # every output gets the same field of view
        ],
        seed=seed,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bank", type=Path, help="Synthetic labelled set (class folders or CSV).")
    parser.add_argument("--images", type=Path, help="Real labelled set with the same classes.")
    parser.add_argument("-n", type=int, default=300, help="How many images to push through the pipeline.")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("-o", "--output", type=Path, help="Preview grid PNG (default: in a temporary folder).")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="eusaug_swap_") as tmp:
        if (args.bank is None) != (args.images is None):
            raise SystemExit("Pass both --bank and --images, or neither for the demo data.")
        real, bank = (args.images, args.bank) if args.bank else demo_sets(Path(tmp))
        pipeline = build_pipeline(bank, args.seed)
        images = read_labelled_set(real)
        items = [(name, path) for name, paths in images.items() for path in paths]
        rng = np.random.default_rng(args.seed)

        swapped: dict[str, list[int]] = {name: [0, 0] for name in images}
        preview = []
        for index in rng.integers(len(items), size=args.n):
            name, path = items[index]
            with Image.open(path) as image:
                pixels = np.asarray(image.convert("L").resize((160, 120)))
            out = pipeline(image=pixels, label=name, is_synthetic=False)
            swapped[name][0] += int(out["is_synthetic"])
            swapped[name][1] += 1
            if len(preview) < 8:
                preview.append(out["image"])

        print(f"pipeline: {len(pipeline.transforms)} transforms, seed {args.seed}")
        for name, (n_syn, n) in swapped.items():
            print(f"class {name}: {n_syn}/{n} swapped for synthetic ({n_syn / max(n, 1):.0%})")
        total = sum(s for s, _ in swapped.values())
        print(f"swapped: {total}/{args.n} = {total / args.n:.1%} (p = 0.5)")

        # The pipeline is data: save it as JSON and rebuild it, seed and all.
        spec = A.to_dict(pipeline)
        rebuilt = A.from_dict(json.loads(json.dumps(spec)))
        rebuilt.set_random_seed(args.seed + 1)
        pipeline.set_random_seed(args.seed + 1)
        name, path = items[0]
        with Image.open(path) as image:
            pixels = np.asarray(image.convert("L").resize((160, 120)))
        same = np.array_equal(pipeline(image=pixels, label=name)["image"], rebuilt(image=pixels, label=name)["image"])
        print(f"to_dict/from_dict round trip gives the same output: {same}")

        grid = np.concatenate([np.concatenate(preview[:4], axis=1), np.concatenate(preview[4:8], axis=1)], axis=0)
        output = args.output or Path(tempfile.gettempdir()) / "eusaug_swap_preview.png"
        Image.fromarray(grid).save(output)
        print(f"preview: {output}")


if __name__ == "__main__":
    main()
