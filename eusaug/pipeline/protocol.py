"""The paper's whole protocol as resumable stages: the engine of ``eusaug demo`` and ``eusaug reproduce``.

For each landmark: sample probe poses on the stomach wall of every CT, train one
CycleGAN on their CT planes and the landmark's real EUS frames, synthesise sEUS with it
(and with the physics simulator ``raysim`` as a training-free baseline), mix the
synthetic images into the real training set at the paper's ratios, and evaluate: FID/KID
with the controls, the classifier ratio sweep, one-sided McNemar tests and Grad-CAM.
Each stage writes into its own folder and is skipped when an earlier run finished it
(:mod:`eusaug.pipeline.stage_runner`); everything ends in ``report.html``.

When no real frames are given, the "real" domain is raysim frames simulated from
*other* poses than those the CycleGAN translates, and the report says so plainly.
"""

from __future__ import annotations

import os
import shutil
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, fields, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from eusaug.ct.volume import load_case
from eusaug.errors import EusaugError
from eusaug.io.images import list_images, write_png
from eusaug.io.progress import console
from eusaug.io.tables import write_csv, write_json
from eusaug.pipeline.environment import environment_versions
from eusaug.pipeline.networks import resolve_fid_preset, resolve_network_weights
from eusaug.pipeline.run_config import (
    RESERVED_AFTER_TRAINING_S,
    CaseInput,
    RunConfig,
    RunContext,
)
from eusaug.pipeline.run_files import (
    drop_resume_checkpoints,
    drop_saved_models,
    synthesized_images,
    write_labelled_csv,
)
from eusaug.pipeline.split import split_frames
from eusaug.pipeline.stage_runner import Stage, StageResult, run_stages
from eusaug.plugin.registry import Registry

if TYPE_CHECKING:
    from eusaug.evaluate import ClassifierConfig

# ----------------------------------------------------------------------------- stages


def run_evaluator(registry: Registry, name: str, output_dir: Path, options: Any) -> dict[str, Any]:
    """Run the evaluator plugin ``name`` with typed ``options``; return a JSON-ready summary of its result."""
    evaluator = registry.create_evaluator(name)
    result = evaluator.run(options, output_dir)
    return {"title": result.title, "rows": result.rows, "notes": result.notes,
            "files": [str(p) for p in result.files]}


def _stage_poses(ctx: RunContext, folder: Path) -> dict[str, Any]:
    from eusaug.poses.plot import plot_pose_sets
    from eusaug.poses.sampling import sample_poses, save_poses

    cfg = ctx.config
    roles = {"planes": cfg.planes_per_case, "synth": cfg.synth_per_case}
    counts: dict[str, int] = {}
    for case_index, (case_input, case) in enumerate(ctx.cases):
        shown = []
        roles_here = dict(roles)
        if ctx.simulated_real and case_index == 0:
            roles_here.update(real_train=cfg.real_train_per_landmark, real_test=cfg.real_test_per_landmark)
        for landmark_index, landmark in enumerate(cfg.landmarks):
            for role_index, (role, n) in enumerate(roles_here.items()):
                seed = cfg.seed * 100_000 + case_index * 1000 + landmark_index * 10 + role_index
                pose_set = sample_poses(case, landmark, n, seed=seed, fov=ctx.fov, registry=ctx.registry,
                                        slice_filter=cfg.slice_filter)
                save_poses(folder / ctx.poses_file(case_input, landmark, role).name, pose_set)
                counts[f"{case_input.name}/{landmark}/{role}"] = len(pose_set)
                if role == "planes":
                    shown.append(pose_set)
        if case_index == 0:
            plot_pose_sets(case, shown, folder / "poses.png",
                           title=f"Sampled EUS probe poses on the stomach wall ({case_input.name})")
    return counts


def _stage_real(ctx: RunContext, folder: Path) -> dict[str, Any]:
    """The real labelled set: the user's frames, or raysim frames from other poses."""
    from eusaug.translate.synth import synthesize

    cfg = ctx.config
    if not ctx.simulated_real:
        split = ctx.require_split()
        write_labelled_csv(folder / "train.csv", [(p, c) for c, paths in split.train.items() for p in paths])
        write_labelled_csv(folder / "test.csv", [(p, c) for c, paths in split.test.items() for p in paths])
        # The CycleGAN of each landmark learns from the training subjects' frames only.
        for landmark in cfg.landmarks:
            target = folder / "cyclegan_train" / landmark
            target.mkdir(parents=True)
            for k, image in enumerate(split.train.get(landmark, ())):
                # Keep the file name: it carries the subject, which the guard reads.
                name = image.name if not (target / image.name).exists() else f"{image.stem}_{k}{image.suffix}"
                _link(image, target / name)
        write_json(folder / "split.json", split.to_dict())
        return {"source": str(ctx.eus_dir), **split.to_dict()}
    case_input, case = ctx.cases[0]
    rows: dict[str, list[tuple[Path, str]]] = {"real_train": [], "real_test": []}
    for landmark in cfg.landmarks:
        for role, n in (("real_train", cfg.real_train_per_landmark), ("real_test", cfg.real_test_per_landmark)):
            raw = folder / "raysim" / role / landmark
            synthesize(case, landmark, n, raw, poses=ctx.poses_file(case_input, landmark, role), translator="raysim",
                       label_preset=cfg.label_preset, seed=cfg.seed, registry=ctx.registry)
            # A folder of frames only (no label planes), as the CycleGAN's target domain expects.
            frames = folder / role / landmark
            frames.mkdir(parents=True)
            for image in synthesized_images(raw):
                _link(image, frames / image.name)
                rows[role].append((frames / image.name, landmark))
    write_labelled_csv(folder / "train.csv", rows["real_train"])
    write_labelled_csv(folder / "test.csv", rows["real_test"])
    return {"source": "raysim frames from other poses", "train": len(rows["real_train"]),
            "test": len(rows["real_test"])}


def _link(source: Path, target: Path) -> None:
    """A hard link where the file system allows one, else a copy."""
    try:
        os.link(source, target)
    except OSError:
        shutil.copy2(source, target)


def _cyclegan_target(ctx: RunContext, landmark: str) -> Path:
    """The folder of EUS frames the CycleGAN for ``landmark`` learns to produce."""
    if ctx.eus_dir is not None:
        return ctx.root / "real" / "cyclegan_train" / landmark
    return ctx.root / "real" / "real_train" / landmark


def _stage_cyclegan(ctx: RunContext, landmark: str, index: int) -> Callable[[Path], Any]:
    def run(folder: Path) -> dict[str, Any]:
        from eusaug.poses.sampling import load_poses
        from eusaug.translate.train import train_translator_cases

        cfg = ctx.config
        overrides: dict[str, Any] = {"image_size_px": cfg.image_size_px, "seed": cfg.seed, "devices": cfg.devices}
        if cfg.cyclegan_epochs is not None:
            overrides["epochs"] = cfg.cyclegan_epochs
        # Run-wide settings reach the translator where its training config has such a field.
        config_cls = getattr(ctx.registry.translator(cfg.translator), "training_config_class", None)
        known = {f.name for f in fields(config_cls)} if config_cls is not None else set()
        overrides = {**{k: v for k, v in overrides.items() if k in known}, **cfg.cyclegan_overrides}
        target = _cyclegan_target(ctx, landmark)
        ctx.require_split().guard(f"{cfg.translator}-{landmark}", list_images(target, recursive=True))
        # The cases this run loaded once, each with its poses file (checked against it on reading).
        poses_files = [ctx.poses_file(c, landmark, "planes") for c, _ in ctx.cases]
        common: dict[str, Any] = dict(
            cases=[case for _, case in ctx.cases],
            pose_sets=[load_poses(path, case=case) for (_, case), path in zip(ctx.cases, poses_files)],
            eus_dir=target, landmark=landmark, preset=cfg.cyclegan_preset, translator=cfg.translator,
            overrides=overrides, register=False, registry=ctx.registry,
            inputs={"ct": [str(Path(c.ct).resolve()) for c, _ in ctx.cases],
                    "labels": [str(Path(c.labels).resolve()) if c.labels else None for c, _ in ctx.cases],
                    "poses": [str(Path(p).resolve()) for p in poses_files], "eus_dir": str(Path(target).resolve()),
                    "label_preset": [case.label_preset.name for _, case in ctx.cases]},
        )
        if cfg.minutes is None:
            train_translator_cases(folder, **common)
            return {"landmark": landmark}
        # Under a budget: one epoch, then as many more as this landmark's share allows. The
        # first epoch also trains the denoisers and traces the step, so it over-estimates.
        start = time.perf_counter()
        train_translator_cases(folder, stop_after=1, **common)
        epoch_s = time.perf_counter() - start
        share = max(0.0, ctx.seconds_left() - RESERVED_AFTER_TRAINING_S) / (len(cfg.landmarks) - index)
        planned = (cfg.cyclegan_epochs or 1) - 1
        more = int(min(planned, share // max(epoch_s, 1e-6)))
        if more > 0:
            train_translator_cases(folder, stop_after=more, **common)
        return {"landmark": landmark, "first_epoch_s": round(epoch_s, 1), "epochs_trained": 1 + max(more, 0)}

    return run


def _stage_synth(ctx: RunContext, folder: Path) -> dict[str, Any]:
    from eusaug.poses.sampling import load_poses
    from eusaug.poses.slicing import slice_case
    from eusaug.translate.synth import load_translator, synthesize

    cfg = ctx.config
    trained, baseline = cfg.translator, cfg.baseline_translator
    rows: dict[str, list[tuple[Path, str]]] = {trained: [], baseline: []}
    for landmark in cfg.landmarks:
        models = {trained: ctx.root / f"{trained}-{landmark}", baseline: None}
        # One loaded translator per landmark, reused for every CT.
        translators = {name: load_translator(name, landmark, model, ctx.registry)[0] for name, model in models.items()}
        for case_input, case in ctx.cases:
            poses = ctx.poses_file(case_input, landmark, "synth")
            for name, translator in translators.items():
                out = folder / name / landmark / case_input.name
                synthesize(case, landmark, cfg.synth_per_case, out, model=models[name], poses=poses,
                           translator=translator, label_preset=cfg.label_preset, seed=cfg.seed, registry=ctx.registry)
                rows[name].extend((p, landmark) for p in synthesized_images(out))
        case_input, case = ctx.cases[0]
        pose_set = load_poses(ctx.poses_file(case_input, landmark, "synth"), case=case)
        planes = slice_case(case, pose_set.poses[:4], ctx.fov, registry=ctx.registry)
        for k, image in enumerate(planes.windowed()):
            write_png(folder / "ct" / landmark / f"ct_{k:04d}.png", image)
    for translator, labelled in rows.items():
        write_labelled_csv(folder / f"{translator}.csv", labelled)
    return {t: len(r) for t, r in rows.items()}


def _stage_mix(ctx: RunContext, folder: Path) -> dict[str, Any]:
    """The run's one mix: the classifier stage trains on exactly the sets written here."""
    from eusaug.mix.write import mix_sweep, summarise

    ctx.require_split().guard("mix (real training set)", _real_rows(ctx.root / "real" / "train.csv"))
    config = _classifier_config(ctx)
    sweep = mix_sweep(ctx.root / "real" / "train.csv", ctx.root / "synth" / f"{ctx.config.translator}.csv",
                      config.ratios, folder / "sets", mode=config.mix_mode, seed=config.seed, link=True)
    table = [{"ratio": ratio, **asdict(count)} for ratio, manifest in sweep.items()
             for count in summarise(manifest, ratio)]
    write_csv(folder / "counts.csv", table)
    return {"ratios": list(sweep)}


def _real_rows(csv_path: Path) -> list[Path]:
    """The image paths of a labelled CSV written by this run."""
    from eusaug.mix.labelled_sets import read_labelled_set

    return [p for paths in read_labelled_set(csv_path, check_images=False).values() for p in paths]


def _stage_fid(ctx: RunContext, folder: Path) -> dict[str, Any]:
    """FID/KID of each translator's sEUS against the training subjects' frames and the held-out ones'."""
    from eusaug.evaluate import FID_PRESETS, FIDOptions

    real_train, real_test = ctx.root / "real" / "train.csv", ctx.root / "real" / "test.csv"
    ctx.require_split().guard("fid (training-subject reference)", _real_rows(real_train))
    base = FID_PRESETS[resolve_fid_preset(ctx.config.fid_preset)]
    out: dict[str, Any] = {}
    for translator in (ctx.config.translator, ctx.config.baseline_translator):
        synthetic = ctx.root / "synth" / f"{translator}.csv"
        config = replace(base, weights=None if ctx.weights == "none" else ctx.weights, seed=ctx.config.seed,
                         precision=ctx.config.fid_precision, controls=translator == ctx.config.translator)
        out[translator] = run_evaluator(ctx.registry, "fid", folder / translator,
                                        FIDOptions(real=real_train, synthetic=synthetic, config=config))
        if real_test.is_file():
            out[f"{translator}-heldout"] = run_evaluator(
                ctx.registry, "fid", folder / f"{translator}-heldout",
                FIDOptions(real=real_test, synthetic=synthetic, config=replace(config, controls=False)))
    return out


def _classifier_config(ctx: RunContext) -> ClassifierConfig:
    """The classifier's settings for this run (the mix stage mixes with its ratios, mode and seed)."""
    from eusaug.evaluate import CLASSIFIER_PRESETS
    from eusaug.mix import check_ratios

    cfg = ctx.config
    # Checked once here: the mix stage writes and the classifier trains at these very Ratio objects.
    config = replace(CLASSIFIER_PRESETS[cfg.classifier_preset], weights=None if ctx.weights == "none" else ctx.weights,
                     ratios=check_ratios(cfg.ratios), seed=cfg.seed)
    if cfg.class_weights is not None:
        config = replace(config, class_weights=cfg.class_weights)
    if cfg.classifier_precision is not None:
        config = replace(config, precision=cfg.classifier_precision)
    return replace(config, devices=cfg.devices, **cfg.classifier_overrides)


def _stage_classifier(ctx: RunContext, folder: Path) -> dict[str, Any]:
    from eusaug.evaluate import ClassifierOptions, GradCamOptions, McNemarOptions

    cfg = ctx.config
    real, synthetic, test = (ctx.root / "real" / "train.csv", ctx.root / "synth" / f"{cfg.translator}.csv",
                             ctx.root / "real" / "test.csv")
    ctx.require_split().guard("classifier training set", _real_rows(real))
    # Trained on the mix stage's sets, not a second mix: what a user inspects is what was trained on.
    options = ClassifierOptions(real=real, synthetic=synthetic, test=test if test.is_file() else None,
                                config=_classifier_config(ctx), mixed=ctx.root / "mix" / "sets")
    summary = {"classifier": run_evaluator(ctx.registry, "classifier", folder / "sweep", options)}
    summary["mcnemar"] = run_evaluator(ctx.registry, "mcnemar", folder / "mcnemar",
                                       McNemarOptions(predictions=(folder / "sweep" / "predictions.csv",),
                                                      significance=cfg.mcnemar_significance))
    models = sorted((folder / "sweep" / "models").glob("*.keras"))
    if models:
        summary["gradcam"] = run_evaluator(ctx.registry, "gradcam", folder / "gradcam",
                                           GradCamOptions(model=models[len(models) // 2], real=real,
                                                          synthetic=synthetic))
    if not cfg.keep_checkpoints:
        summary["models"] = drop_saved_models(folder / "sweep" / "models")
    return summary


# ----------------------------------------------------------------------------- the run


def check_eus_dir(eus_dir: Path, landmarks: Sequence[str]) -> None:
    """Real frames must come in one sub-folder per landmark (the classifier needs labels)."""
    if not eus_dir.is_dir():
        raise EusaugError(f"EUS folder {eus_dir} does not exist or is not a folder: pass a folder of frames.")
    missing = [lm for lm in landmarks if not (eus_dir / lm).is_dir()]
    if missing:
        raise EusaugError(
            f"EUS folder {eus_dir} has no sub-folder for {', '.join(missing)}: put each landmark's real frames in "
            f"a sub-folder of that name ({', '.join(landmarks)}; optionally background/)."
        )
    for landmark in landmarks:
        list_images(eus_dir / landmark, recursive=True)  # a clear error for an empty class


def run_pipeline(
    root: str | Path,
    cases: Sequence[CaseInput],
    config: RunConfig,
    eus_dir: str | Path | None = None,
    title: str = "eusaug run",
    redo: bool = False,
    registry: Registry | None = None,
) -> Path:
    """Run every stage into ``root`` (reusing finished ones unless ``redo``); return ``report.html``."""
    from eusaug.pipeline.run_report import write_run_report

    root = Path(root)
    if not cases:
        raise EusaugError("No CT volumes to run on.")
    eus = Path(eus_dir) if eus_dir is not None else None
    if eus is not None:
        check_eus_dir(eus, config.landmarks)
    loaded = [(c, load_case(c.ct, c.labels, config.label_preset)) for c in cases]
    for _, case in loaded:
        for landmark in ("stomach", *config.landmarks):
            case.mask(landmark)  # fail now, not after an hour of training
    registry = registry or Registry()
    weights, weights_note = resolve_network_weights(config.weights, resolve_fid_preset(config.fid_preset))
    split = None
    if eus is not None:
        frames = {lm: list_images(eus / lm, recursive=True) for lm in config.landmarks}
        if (eus / "background").is_dir():
            frames["background"] = list_images(eus / "background", recursive=True)
        split = split_frames(frames, config.test_subjects, config.test_fraction, config.seed, config.subject_pattern)
    ctx = RunContext(config, root, loaded, eus, registry, weights, weights_note, time.perf_counter(), title, split)
    out = console()
    stages = [
        Stage("poses", lambda f: _stage_poses(ctx, f), description="sampling probe poses"),
        Stage("real", lambda f: _stage_real(ctx, f), description="preparing the real labelled set"),
        *[Stage(f"{config.translator}-{lm}", _stage_cyclegan(ctx, lm, i), atomic=False,
                description=f"training {config.translator} ({lm})")
          for i, lm in enumerate(config.landmarks)],
        Stage("synth", lambda f: _stage_synth(ctx, f),
              description=f"synthesising sEUS ({config.translator} and {config.baseline_translator})"),
        Stage("mix", lambda f: _stage_mix(ctx, f), description="mixing at the synthetic ratios"),
        Stage("fid", lambda f: _stage_fid(ctx, f), description="FID/KID with controls"),
        Stage("classifier", lambda f: _stage_classifier(ctx, f),
              description="classifier ratio sweep, McNemar, Grad-CAM"),
    ]
    names = [s.name for s in stages]

    def announce(stage: Stage) -> None:
        elapsed = time.perf_counter() - ctx.started
        out.print(f"[bold cyan][{names.index(stage.name) + 1}/{len(stages)}][/bold cyan] {stage.description}  "
                  f"[dim]({elapsed:.0f} s)[/dim]")

    root.mkdir(parents=True, exist_ok=True)
    results: list[StageResult] = run_stages(root, stages, redo=redo, on_start=announce)
    # Only once every stage has finished: until then the checkpoints are what a rerun resumes from.
    freed = None if config.keep_checkpoints else drop_resume_checkpoints(root)
    run_info = {
        "title": title,
        "config": asdict(config),
        "fid_preset": resolve_fid_preset(config.fid_preset),
        "cases": [{"name": c.name, "ct": str(c.ct), "labels": str(c.labels)} for c in cases],
        "eus_dir": str(eus) if eus else None,
        "weights": weights,
        "weights_note": weights_note,
        "split": ctx.require_split().to_dict(),
        "versions": environment_versions(),
        "timings_s": {r.name: round(r.seconds, 1) for r in results},
        "reused_stages": [r.name for r in results if r.skipped],
        "total_s": round(time.perf_counter() - ctx.started, 1),
        "dropped_resume_checkpoints": freed,
    }
    write_json(root / "run.json", run_info)
    report = write_run_report(ctx, run_info)
    out.print(f"[bold green]Done[/bold green] in {run_info['total_s']:.0f} s. Report: [bold]{report.resolve()}[/bold]")
    return report
