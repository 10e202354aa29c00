"""``eusaug train``: train a translator on CT planes and real EUS frames, and register it.

The library side of the command: load the CT cases and their poses files, check they
belong together and to the landmark, hand them to the translator plugin's ``train``
(which owns the run folder and its resumption), then record the run in the model
store so ``eusaug synth --landmark X`` finds it.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from eusaug.ct.volume import CTCase, load_case
from eusaug.errors import EusaugError
from eusaug.geometry.field_of_view import FieldOfView
from eusaug.plugin.interfaces import TrainableTranslator
from eusaug.plugin.registry import DEFAULT_SLICER, DEFAULT_TRANSLATOR, Registry
from eusaug.poses.sampling import PoseSet, check_poses_landmark, load_poses

PathLike = str | os.PathLike[str]


def train_translator(
    run_dir: PathLike,
    ct: Sequence[PathLike],
    poses: Sequence[PathLike],
    eus_dir: PathLike,
    landmark: str,
    labels: Sequence[PathLike] | None = None,
    translator: str = DEFAULT_TRANSLATOR,
    label_preset: str = "auto",
    preset: str | None = None,
    overrides: dict[str, Any] | None = None,
    resume: bool = False,
    force: bool = False,
    slicer: str = DEFAULT_SLICER,
    stop_after: int | None = None,
    register: bool = True,
    registry: Registry | None = None,
    fov: FieldOfView | None = None,
    calibrate_from: PathLike | None = None,
) -> Path:
    """Train (or resume) ``translator`` for ``landmark`` into ``run_dir``; return the exported model.

    ``ct``, ``poses`` (and ``labels`` when given) are parallel lists, one entry per CT
    volume. ``preset`` and ``overrides`` configure the translator (e.g. CycleGAN's
    ``fast``/``paper`` and ``{"epochs": 5}``); a run folder that already holds a run is
    resumed. ``stop_after`` limits the epochs trained in this call. ``fov`` (e.g. fitted to
    the real frames) replaces the poses files' field of view for slicing. ``calibrate_from``:
    a folder of real frames to fit the translator's raysim stage to first (the hybrid's; see
    :func:`check_calibrate_from`).
    """

    ct, poses = list(ct), list(poses)
    labels = list(labels) if labels else [None] * len(ct)  # type: ignore[list-item]
    if not ct:
        raise EusaugError("No CT given: pass --ct CT (one or more times).")
    if len(poses) != len(ct):
        raise EusaugError(
            f"{len(ct)} CT volume(s) but {len(poses)} poses file(s): pass one --poses per --ct, in the same order "
            "(eusaug poses --ct CT --landmark ... -o poses.json makes one)."
        )
    if len(labels) != len(ct):
        raise EusaugError(
            f"{len(ct)} CT volume(s) but {len(labels)} label map(s): pass one --labels per --ct, in the same "
            "order, or none to find them beside the CTs."
        )
    eus_dir = Path(eus_dir)
    registry = registry or Registry()
    check_calibrate_from(_trainable(registry, translator), translator, calibrate_from)  # before the CTs load

    cases, pose_sets = [], []
    for ct_path, labels_path, poses_path in zip(ct, labels, poses):
        # The preset check ran (or was overridden with --force) when the poses file was made, and
        # load_poses below refuses a preset other than the poses file's: no second gate here.
        case = load_case(Path(ct_path), None if labels_path is None else Path(labels_path), label_preset,
                         organs=[landmark], force=True)
        cases.append(case)
        pose_sets.append(load_poses(poses_path, case=case))
    inputs = {
        "ct": [str(Path(p).resolve()) for p in ct],
        "labels": [str(Path(c.labels.path).resolve()) if c.labels.path else None for c in cases],
        "poses": [str(Path(p).resolve()) for p in poses],
        "eus_dir": str(eus_dir.resolve()),
        "label_preset": [c.label_preset.name for c in cases],
    }
    return train_translator_cases(
        run_dir, cases, pose_sets, eus_dir, landmark, translator=translator, preset=preset, overrides=overrides,
        resume=resume, force=force, slicer=slicer, stop_after=stop_after, register=register, registry=registry,
        fov=fov, inputs=inputs, calibrate_from=calibrate_from,
    )


def train_translator_cases(
    run_dir: PathLike,
    cases: Sequence[CTCase],
    pose_sets: Sequence[PoseSet],
    eus_dir: PathLike,
    landmark: str,
    translator: str = DEFAULT_TRANSLATOR,
    preset: str | None = None,
    overrides: dict[str, Any] | None = None,
    resume: bool = False,
    force: bool = False,
    slicer: str = DEFAULT_SLICER,
    stop_after: int | None = None,
    register: bool = True,
    registry: Registry | None = None,
    fov: FieldOfView | None = None,
    inputs: dict[str, Any] | None = None,
    calibrate_from: PathLike | None = None,
) -> Path:
    """Train (or resume) ``translator`` on loaded ``cases`` and their ``pose_sets``; return the exported model.

    The working side of :func:`train_translator`: the cases are loaded once by the caller
    (the CLI, or the pipeline that already holds them), each pose set belongs to its case
    and to ``landmark``, which is checked here once per case (:meth:`CTCase.landmark`).
    ``inputs`` records where they came from (derived from the cases when None).
    """
    if len(cases) != len(pose_sets) or not cases:
        raise EusaugError(f"{len(cases)} case(s) but {len(pose_sets)} pose set(s): pass one pose set per case.")
    eus_dir = Path(eus_dir)
    if not eus_dir.is_dir():
        raise EusaugError(f"EUS folder {eus_dir} does not exist or is not a folder: pass --eus FOLDER of frames.")
    registry = registry or Registry()
    cls = _trainable(registry, translator)
    check_calibrate_from(cls, translator, calibrate_from)
    checked = [case.landmark(landmark) for case in cases]  # the one landmark check per case
    for case, pose_set in zip(cases, pose_sets):
        check_poses_landmark(pose_set, landmark, f"for CT {case.ct.path or pose_set.ct_path}")
    pose_sets = [p if fov is None else dataclasses.replace(p, fov=fov) for p in pose_sets]
    if inputs is None:
        inputs = {
            "ct": [str(Path(c.ct.path).resolve()) if c.ct.path else None for c in cases],
            "labels": [str(Path(c.labels.path).resolve()) if c.labels.path else None for c in cases],
            "poses": [p.ct_path for p in pose_sets],
            "eus_dir": str(eus_dir.resolve()),
            "label_preset": [c.label_preset.name for c in cases],
        }
    model_path = cls.train(
        Path(run_dir),
        cases=cases,
        pose_sets=pose_sets,
        eus_dir=eus_dir,
        landmark=str(checked[0]),
        preset=preset,
        overrides=overrides or {},
        resume=resume,
        force=force,
        slicer=slicer,
        registry=registry,
        stop_after=stop_after,
        inputs=inputs,
        **({} if calibrate_from is None else {"calibrate_from": Path(calibrate_from)}),
    )
    if register:
        from eusaug.translate.model_store import register_model

        summary_of = getattr(cls, "summary", None)
        summary = summary_of(Path(run_dir)) if callable(summary_of) else ""
        register_model(landmark, run_dir, translator=translator, summary=summary)
    return Path(model_path)


#: The training option a translator with a raysim stage declares; ``calibrate_from`` fits it.
CALIBRATION_OPTION = "raysim_calibration"


def check_calibrate_from(cls: type, translator: str, calibrate_from: PathLike | None) -> None:
    """Refuse ``calibrate_from`` for a translator with no raysim stage (no ``raysim_calibration`` option)."""
    if calibrate_from is None:
        return
    config_class = getattr(cls, "training_config_class", None)
    fields = {f.name for f in dataclasses.fields(config_class)} if dataclasses.is_dataclass(config_class) else set()
    if CALIBRATION_OPTION not in fields:
        raise EusaugError(f"--calibrate-from {calibrate_from} calibrates a raysim stage, but translator {translator!r} "
                          "has none: use --translator hybrid, or leave --calibrate-from out.")


def _trainable(registry: Registry, translator: str) -> type[TrainableTranslator]:
    cls = registry.translator(translator)
    if not issubclass(cls, TrainableTranslator):
        raise EusaugError(f"Translator {translator!r} needs no training: use it directly with eusaug synth.")
    return cls
