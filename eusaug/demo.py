"""``eusaug demo``: the whole chain on the embedded sample CT, ending in one HTML report.

For aorta, liver and pancreas: sample poses on the stomach wall, slice CT planes,
translate them with the physics simulator ``raysim`` and with a short ``fast``-preset
CycleGAN, mix the synthetic images into a training set at the paper's ratios, and run
the evaluators (FID/KID with controls, the classifier ratio sweep, McNemar, Grad-CAM)
in their fast forms. Every stage writes into its own folder and is skipped when a
previous run finished it (see :mod:`eusaug.stages`).

Without real EUS frames (``eus_dir=None``) the "real" domain is raysim frames simulated
from *other* poses than the ones the CycleGAN translates; the report says so plainly.
"""

from __future__ import annotations

import csv
import json
import os
import platform
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np

from eusaug.errors import EusaugError
from eusaug.geometry import FieldOfView
from eusaug.imageio import list_images, write_png
from eusaug.progress import console
from eusaug.registry import Registry
from eusaug.sample import SAMPLE_PRESET, sample_ct_path, sample_labels_path
from eusaug.stages import Stage, StageResult, run_stages
from eusaug.volume import CTCase, load_case

DEMO_LANDMARKS = ("aorta", "liver", "pancreas")
PAPER_RATIOS = (0.0, 0.25, 0.5, 0.75)


@dataclass(frozen=True)
class DemoConfig:
    """Sizes of the demo; the defaults finish in well under 10 minutes on 2 CPU cores.

    ``planes_per_landmark``: CT planes the CycleGAN learns from and translates (the
    synthetic set). ``real_*_per_landmark``: simulated "real" frames when no EUS folder
    is given (training and held-out test). ``minutes``: the wall-clock budget; CycleGAN
    training gets what the other stages leave (at least one epoch per landmark).
    """

    landmarks: tuple[str, ...] = DEMO_LANDMARKS
    image_size_px: int = 128
    planes_per_landmark: int = 40
    real_train_per_landmark: int = 40
    real_test_per_landmark: int = 16
    cyclegan_epochs: int = 6
    cyclegan_overrides: dict[str, Any] = field(default_factory=dict)
    minutes: float = 8.0
    ratios: tuple[float, ...] = PAPER_RATIOS
    classifier_preset: str = "fast"
    weights: str = "auto"
    seed: int = 0

    def __post_init__(self) -> None:
        if not self.landmarks:
            raise EusaugError("The demo needs at least one landmark.")
        if self.minutes <= 0:
            raise EusaugError(f"--minutes {self.minutes}: give a positive time budget.")
        for name in ("planes_per_landmark", "real_train_per_landmark", "real_test_per_landmark", "cyclegan_epochs"):
            if getattr(self, name) < 1:
                raise EusaugError(f"Demo setting {name}={getattr(self, name)} must be at least 1.")


#: ``tiny`` runs the same chain in seconds (tests, smoke checks); ``default`` is the real demo.
DEMO_PRESETS = {
    "default": DemoConfig(),
    "tiny": DemoConfig(
        image_size_px=64,
        planes_per_landmark=8,
        real_train_per_landmark=8,
        real_test_per_landmark=4,
        cyclegan_epochs=1,
        cyclegan_overrides={"ngf": 8, "ndf": 8, "n_blocks": 1, "denoiser_steps": 20, "denoiser_filters": 8,
                            "denoiser_depth": 3, "crop_margin_px": 8, "pool_size": 4},
        minutes=2.0,
        ratios=(0.0, 0.5),
    ),
}


@dataclass
class DemoContext:
    """What the stages share: the case, the folders, the resolved choices, the timings."""

    config: DemoConfig
    root: Path
    case: CTCase
    eus_dir: Path | None
    registry: Registry
    weights: str
    weights_note: str
    started: float
    real_by_class: bool = False

    @property
    def fov(self) -> FieldOfView:
        return FieldOfView(height_px=self.config.image_size_px, width_px=self.config.image_size_px)

    def seconds_left(self) -> float:
        return self.config.minutes * 60.0 - (time.perf_counter() - self.started)


def _resolve_weights(weights: str) -> tuple[str, str]:
    """``auto``: ImageNet when Keras' cache has the files, else random weights with a note."""
    if weights != "auto":
        return weights, ""
    from eusaug.pretrained import resolve_weights

    try:
        resolve_weights("imagenet", "inception_v3")
        resolve_weights("imagenet", "vgg16")
    except EusaugError as exc:
        return "none", (
            "ImageNet weights are not available offline on this machine, so FID/KID and the VGG-16 "
            "classifier ran with random weights (--weights none): their values are NOT comparable with "
            f"published ones. ({exc})"
        )
    return "imagenet", ""


def _write_labelled_csv(path: Path, rows: Sequence[tuple[Path, str]]) -> Path:
    """A labelled set as ``path,class`` rows (the form :mod:`eusaug.classfolders` reads).

    Paths are relative to the CSV, so a stage folder stays valid when it is renamed into place.
    """
    with path.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["path", "class"])
        for image, label in rows:
            writer.writerow([os.path.relpath(Path(image).resolve(), path.parent.resolve()), label])
    return path


def _synth_images(folder: Path) -> list[Path]:
    from eusaug.synth import read_manifest

    return [folder / row["file"] for row in read_manifest(folder)]


# ----------------------------------------------------------------------------- stages


def _stage_poses(ctx: DemoContext, folder: Path) -> dict[str, Any]:
    from eusaug.pose_plot import plot_pose_sets
    from eusaug.poses import sample_poses, save_poses

    cfg = ctx.config
    counts: dict[str, dict[str, int]] = {}
    plan_sets = []
    roles = {"planes": cfg.planes_per_landmark}
    if not ctx.real_by_class:
        roles.update(real_train=cfg.real_train_per_landmark, real_test=cfg.real_test_per_landmark)
    for index, landmark in enumerate(cfg.landmarks):
        counts[landmark] = {}
        for offset, (role, n) in enumerate(roles.items()):
            seed = cfg.seed * 1000 + index * 10 + offset
            pose_set = sample_poses(ctx.case, landmark, n, seed=seed, fov=ctx.fov, registry=ctx.registry)
            save_poses(folder / f"{landmark}_{role}.json", pose_set)
            counts[landmark][role] = len(pose_set)
            if role == "planes":
                plan_sets.append(pose_set)
    plot_pose_sets(ctx.case, plan_sets, folder / "poses.png",
                   title="Sampled EUS probe poses on the stomach wall (embedded sample CT)")
    return counts


def _stage_real(ctx: DemoContext, folder: Path) -> dict[str, Any]:
    """The "real" domain: the user's frames, or raysim frames from other poses."""
    from eusaug.synth import synthesize

    poses_dir = ctx.root / "poses"
    cfg = ctx.config
    if ctx.real_by_class:
        assert ctx.eus_dir is not None
        train = [(p, lm) for lm in cfg.landmarks for p in list_images(ctx.eus_dir / lm)]
        _write_labelled_csv(folder / "train.csv", train)
        return {"source": str(ctx.eus_dir), "train": len(train)}
    train_rows, test_rows = [], []
    for landmark in cfg.landmarks:
        for role, rows, n in (("real_train", train_rows, cfg.real_train_per_landmark),
                              ("real_test", test_rows, cfg.real_test_per_landmark)):
            out = folder / role / landmark
            synthesize(sample_ct_path(), landmark, n, out, labels=sample_labels_path(),
                       poses=poses_dir / f"{landmark}_{role}.json", translator="raysim",
                       seed=cfg.seed, registry=ctx.registry)
            rows.extend((p, landmark) for p in _synth_images(out))
    _write_labelled_csv(folder / "train.csv", train_rows)
    _write_labelled_csv(folder / "test.csv", test_rows)
    return {"source": "raysim (other poses)", "train": len(train_rows), "test": len(test_rows)}


def _cyclegan_target(ctx: DemoContext, landmark: str) -> Path:
    """The folder of EUS frames the CycleGAN for ``landmark`` learns to produce."""
    if ctx.eus_dir is not None:
        return ctx.eus_dir / landmark if ctx.real_by_class else ctx.eus_dir
    return ctx.root / "real" / "real_train" / landmark


def _stage_cyclegan(ctx: DemoContext, landmark: str, index: int) -> Callable[[Path], Any]:
    def run(folder: Path) -> dict[str, Any]:
        from eusaug.train import train_translator

        cfg = ctx.config
        overrides = {"image_size_px": cfg.image_size_px, "epochs": cfg.cyclegan_epochs, "seed": cfg.seed,
                     **cfg.cyclegan_overrides}
        poses = ctx.root / "poses" / f"{landmark}_planes.json"
        common = dict(ct=[sample_ct_path()], labels=[sample_labels_path()], poses=[poses],
                      eus_dir=_cyclegan_target(ctx, landmark), landmark=landmark, preset="fast",
                      overrides=overrides, register=False, registry=ctx.registry, label_preset=SAMPLE_PRESET)
        # One epoch first, then as many more as this landmark's share of the budget allows.
        start = time.perf_counter()
        train_translator(folder, stop_after=1, **common)
        epoch_s = time.perf_counter() - start
        landmarks_left = len(cfg.landmarks) - index
        share = max(0.0, ctx.seconds_left() - _RESERVED_AFTER_TRAINING_S) / landmarks_left
        more = int(min(cfg.cyclegan_epochs - 1, share // max(epoch_s, 1e-6) - 1))
        if more > 0:
            train_translator(folder, stop_after=more, **common)
        return {"landmark": landmark, "first_epoch_s": round(epoch_s, 1), "epochs_trained": 1 + max(more, 0)}

    return run


#: Seconds kept back for synthesis, mixing, evaluation and the report.
_RESERVED_AFTER_TRAINING_S = 150.0


def _stage_synth(ctx: DemoContext, folder: Path) -> dict[str, Any]:
    from eusaug.slicing import slice_case
    from eusaug.synth import synthesize

    cfg = ctx.config
    rows: dict[str, list[tuple[Path, str]]] = {"cyclegan": [], "raysim": []}
    for landmark in cfg.landmarks:
        poses = ctx.root / "poses" / f"{landmark}_planes.json"
        for translator in ("cyclegan", "raysim"):
            model = ctx.root / f"cyclegan-{landmark}" if translator == "cyclegan" else None
            out = folder / translator / landmark
            synthesize(sample_ct_path(), landmark, cfg.planes_per_landmark, out, labels=sample_labels_path(),
                       model=model, poses=poses, translator=translator, seed=cfg.seed, registry=ctx.registry)
            rows[translator].extend((p, landmark) for p in _synth_images(out))
        from eusaug.poses import load_poses

        pose_set = load_poses(poses, case=ctx.case)
        planes = slice_case(ctx.case, pose_set.poses[:4], ctx.fov, registry=ctx.registry)
        for k, image in enumerate(planes.windowed()):
            write_png(folder / "ct" / landmark / f"ct_{k:04d}.png", image)
    for translator, labelled in rows.items():
        _write_labelled_csv(folder / f"{translator}.csv", labelled)
    return {t: len(r) for t, r in rows.items()}


def _stage_mix(ctx: DemoContext, folder: Path) -> dict[str, Any]:
    from eusaug.mix import mix_sweep, summarise

    sweep = mix_sweep(ctx.root / "real" / "train.csv", ctx.root / "synth" / "cyclegan.csv", ctx.config.ratios,
                      folder / "sets", seed=ctx.config.seed, link=True)
    table = []
    for ratio, manifest in sweep.items():
        for count in summarise(manifest, ratio):
            table.append({"ratio": ratio, **asdict(count)})
    with (folder / "counts.csv").open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(table[0]))
        writer.writeheader()
        writer.writerows(table)
    return {"ratios": list(sweep)}


def _evaluate(ctx: DemoContext, name: str, folder: Path, **options: Any) -> dict[str, Any]:
    evaluator = ctx.registry.create("evaluator", name)
    result = evaluator.evaluate(folder, **options)  # type: ignore[attr-defined]
    return {"title": result.title, "rows": result.rows, "notes": result.notes,
            "files": [str(p) for p in result.files]}


def _stage_fid(ctx: DemoContext, folder: Path) -> dict[str, Any]:
    real = ctx.root / "real" / "train.csv"
    out: dict[str, Any] = {}
    for translator in ("cyclegan", "raysim"):
        out[translator] = _evaluate(ctx, "fid", folder / translator, real=str(real),
                                    synthetic=str(ctx.root / "synth" / f"{translator}.csv"),
                                    weights=ctx.weights, controls=translator == "cyclegan", seed=ctx.config.seed)
    return out


def _stage_classifier(ctx: DemoContext, folder: Path) -> dict[str, Any]:
    test = ctx.root / "real" / "test.csv"
    options: dict[str, Any] = {
        "real": str(ctx.root / "real" / "train.csv"),
        "synthetic": str(ctx.root / "synth" / "cyclegan.csv"),
        "preset": ctx.config.classifier_preset,
        "weights": ctx.weights,
        "ratios": ",".join(f"{r:g}" for r in ctx.config.ratios),
        "seed": ctx.config.seed,
    }
    if test.is_file():
        options["test"] = str(test)
    summary = {"classifier": _evaluate(ctx, "classifier", folder / "sweep", **options)}
    summary["mcnemar"] = _evaluate(ctx, "mcnemar", folder / "mcnemar",
                                   predictions=(str(folder / "sweep" / "predictions.csv"),))
    models = sorted((folder / "sweep" / "models").glob("*.keras"))
    middle = models[len(models) // 2] if models else None
    if middle is not None:
        summary["gradcam"] = _evaluate(ctx, "gradcam", folder / "gradcam", model=str(middle),
                                       real=str(ctx.root / "real" / "train.csv"),
                                       synthetic=str(ctx.root / "synth" / "cyclegan.csv"))
    return summary


# ----------------------------------------------------------------------------- the run


def _detect_real_by_class(eus_dir: Path | None, landmarks: Sequence[str]) -> bool:
    if eus_dir is None:
        return False
    if not eus_dir.is_dir():
        raise EusaugError(f"EUS folder {eus_dir} does not exist or is not a folder: pass --eus FOLDER of frames.")
    present = [lm for lm in landmarks if (eus_dir / lm).is_dir()]
    if present and len(present) != len(landmarks):
        missing = ", ".join(lm for lm in landmarks if lm not in present)
        raise EusaugError(f"EUS folder {eus_dir} has class sub-folders but none for {missing}: add them, "
                          "or give a flat folder of frames.")
    if not present:
        list_images(eus_dir)  # a clear error for an empty folder
    return bool(present)


def run_demo(
    output_dir: str | os.PathLike[str] = "demo-out",
    eus_dir: str | os.PathLike[str] | None = None,
    config: DemoConfig | str = "default",
    minutes: float | None = None,
    redo: bool = False,
    registry: Registry | None = None,
) -> Path:
    """Run the demo into ``output_dir`` and return the path of ``report.html``.

    Finished stages of an earlier run in the same folder are reused unless ``redo``.
    """
    from eusaug.demo_report import write_demo_report

    if isinstance(config, str):
        if config not in DEMO_PRESETS:
            raise EusaugError(f"Unknown demo preset {config!r}: use one of {', '.join(DEMO_PRESETS)}.")
        config = DEMO_PRESETS[config]
    if minutes is not None:
        config = replace(config, minutes=minutes)
    root = Path(output_dir)
    eus = Path(eus_dir) if eus_dir is not None else None
    real_by_class = _detect_real_by_class(eus, config.landmarks)
    if eus is not None and not real_by_class:
        raise EusaugError(
            f"EUS folder {eus} has no class sub-folders ({', '.join(config.landmarks)}): the demo needs labelled "
            "real frames for the classifier sweep. Put each landmark's frames in a sub-folder of that name."
        )
    registry = registry or Registry()
    weights, weights_note = _resolve_weights(config.weights)
    case = load_case(sample_ct_path(), sample_labels_path(), SAMPLE_PRESET)
    ctx = DemoContext(config, root, case, eus, registry, weights, weights_note, time.perf_counter(), real_by_class)
    out = console()

    stages = [
        Stage("poses", lambda f: _stage_poses(ctx, f), description="sampling probe poses"),
        Stage("real", lambda f: _stage_real(ctx, f), description="preparing the real domain"),
        *[Stage(f"cyclegan-{lm}", _stage_cyclegan(ctx, lm, i), atomic=False, description=f"training CycleGAN ({lm})")
          for i, lm in enumerate(config.landmarks)],
        Stage("synth", lambda f: _stage_synth(ctx, f), description="synthesising sEUS (CycleGAN and raysim)"),
        Stage("mix", lambda f: _stage_mix(ctx, f), description="mixing at the paper's ratios"),
        Stage("fid", lambda f: _stage_fid(ctx, f), description="FID/KID with controls"),
        Stage("classifier", lambda f: _stage_classifier(ctx, f),
              description="classifier ratio sweep, McNemar, Grad-CAM"),
    ]
    total = len(stages)

    def announce(stage: Stage) -> None:
        number = [s.name for s in stages].index(stage.name) + 1
        elapsed = time.perf_counter() - ctx.started
        out.print(f"[bold cyan][{number}/{total}][/bold cyan] {stage.description}  [dim]({elapsed:.0f} s)[/dim]")

    results: list[StageResult] = run_stages(root, stages, redo=redo, on_start=announce)
    run_info = {
        "config": asdict(config),
        "eus_dir": str(eus) if eus else None,
        "weights": weights,
        "versions": _versions(),
        "timings_s": {r.name: round(r.seconds, 1) for r in results},
        "reused_stages": [r.name for r in results if r.skipped],
        "total_s": round(time.perf_counter() - ctx.started, 1),
    }
    (root / "demo.json").write_text(json.dumps(run_info, indent=2, default=str))
    report = write_demo_report(ctx, results, run_info)
    out.print(f"[bold green]Done[/bold green] in {run_info['total_s']:.0f} s. Report: [bold]{report.resolve()}[/bold]")
    return report


def _versions() -> dict[str, str]:
    from importlib.metadata import PackageNotFoundError, version

    out = {"python": platform.python_version(), "machine": platform.machine(), "cpu": _cpu_name()}
    for package in ("eusaug", "tensorflow", "keras", "numpy", "scipy", "albumentations", "nibabel"):
        try:
            out[package] = version(package)
        except PackageNotFoundError:
            out[package] = "-"
    return out


def _cpu_name() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"
