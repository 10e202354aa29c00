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

from eusaug.ct.labels import normalise_name
from eusaug.ct.volume import load_case
from eusaug.errors import EusaugError
from eusaug.geometry.field_of_view import FieldOfView
from eusaug.plugin.interfaces import TrainableTranslator
from eusaug.plugin.registry import DEFAULT_SLICER, DEFAULT_TRANSLATOR, Registry

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
) -> Path:
    """Train (or resume) ``translator`` for ``landmark`` into ``run_dir``; return the exported model.

    ``ct``, ``poses`` (and ``labels`` when given) are parallel lists, one entry per CT
    volume. ``preset`` and ``overrides`` configure the translator (e.g. CycleGAN's
    ``fast``/``paper`` and ``{"epochs": 5}``); a run folder that already holds a run is
    resumed. ``stop_after`` limits the epochs trained in this call. ``fov`` (e.g. fitted to
    the real frames) replaces the poses files' field of view for slicing.
    """
    from eusaug.poses.sampling import load_poses

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
    if not eus_dir.is_dir():
        raise EusaugError(f"EUS folder {eus_dir} does not exist or is not a folder: pass --eus FOLDER of frames.")
    registry = registry or Registry()
    cls = registry.translator(translator)
    if not issubclass(cls, TrainableTranslator):
        raise EusaugError(f"Translator {translator!r} needs no training: use it directly with eusaug synth.")

    cases, pose_sets = [], []
    for ct_path, labels_path, poses_path in zip(ct, labels, poses):
        # The preset check ran (or was overridden with --force) when the poses file was made, and
        # load_poses below refuses a preset other than the poses file's: no second gate here.
        case = load_case(Path(ct_path), None if labels_path is None else Path(labels_path), label_preset,
                         organs=[landmark], force=True)
        case.mask(landmark)
        pose_set = load_poses(poses_path, case=case)
        if normalise_name(str(pose_set.landmark)) != normalise_name(landmark):
            raise EusaugError(
                f"Poses file {poses_path} was sampled for landmark {pose_set.landmark!r}, not {landmark!r}: "
                f"sample poses for {landmark} (eusaug poses --ct {ct_path} --landmark {landmark} -o poses.json)."
            )
        if len(pose_set.poses) == 0:
            raise EusaugError(f"Poses file {poses_path} holds no poses: sample some with eusaug poses -n N.")
        cases.append(case)
        pose_sets.append(pose_set if fov is None else dataclasses.replace(pose_set, fov=fov))

    inputs = {
        "ct": [str(Path(p).resolve()) for p in ct],
        "labels": [str(Path(c.labels.path).resolve()) if c.labels.path else None for c in cases],
        "poses": [str(Path(p).resolve()) for p in poses],
        "eus_dir": str(eus_dir.resolve()),
        "label_preset": [c.preset.name for c in cases],
    }
    model_path = cls.train(
        Path(run_dir),
        cases=cases,
        pose_sets=pose_sets,
        eus_dir=eus_dir,
        landmark=normalise_name(landmark),
        preset=preset,
        overrides=overrides or {},
        resume=resume,
        force=force,
        slicer=slicer,
        registry=registry,
        stop_after=stop_after,
        inputs=inputs,
    )
    if register:
        from eusaug.translate.model_store import register_model

        summary_of = getattr(cls, "summary", None)
        summary = summary_of(Path(run_dir)) if callable(summary_of) else ""
        register_model(landmark, run_dir, translator=translator, summary=summary)
    return Path(model_path)
