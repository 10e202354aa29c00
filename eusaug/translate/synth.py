"""``eusaug synth``: synthetic EUS images from a CT, with their label planes and a manifest.

Poses are sampled (or read from a poses file), the CT is sliced at the translator's image
size, the planes are translated in batches by any registered translator, and the output
folder is written atomically: ``seus_NNNN.png`` (8-bit, the sEUS), ``label_NNNN.png``
(label ids of the same plane), ``manifest.csv`` (one row per image, in :mod:`eusaug.io.manifest`'s
schema) and ``synth.json``
(what made them). The same seed writes the same files.
"""

from __future__ import annotations

import dataclasses
import json
import os
import warnings
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from eusaug.ct.volume import CTCase, load_case
from eusaug.errors import EusaugError
from eusaug.geometry.field_of_view import FieldOfView
from eusaug.io.atomic import atomic_directory
from eusaug.io.images import encode_png, write_label_png
from eusaug.io.manifest import MANIFEST_HEAD, manifest_text, read_manifest, synthetic_cell
from eusaug.io.progress import track
from eusaug.plugin.interfaces import Slicer, Translator
from eusaug.plugin.registry import DEFAULT_SLICER, DEFAULT_TRANSLATOR, Registry
from eusaug.poses.sampling import PoseSet
from eusaug.poses.slicing import slice_case
from eusaug.translate.grey_levels import GreyLevels
from eusaug.version import __version__

MANIFEST = "manifest.csv"
SETTINGS = "synth.json"
#: The columns of ``manifest.csv`` after :data:`eusaug.io.manifest.MANIFEST_HEAD` (``source`` is the CT).
OWN_FIELDS = ("source_labels", "pose_index", "pose", "model", "translator", "seed")
MANIFEST_FIELDS = (*MANIFEST_HEAD, *OWN_FIELDS)


def format_pose(pose: np.ndarray) -> str:
    """A 4x4 pose as 16 row-major numbers separated by spaces (world mm)."""
    return " ".join(f"{v:.9g}" for v in np.asarray(pose, np.float64).ravel())


def parse_pose(text: str) -> np.ndarray:
    """Inverse of :func:`format_pose`."""
    return np.array([float(v) for v in text.split()], np.float64).reshape(4, 4)


def resolve_model(
    translator: str,
    landmark: str,
    model: str | os.PathLike[str] | None = None,
    registry: Registry | None = None,
) -> Path | None:
    """The model ``translator`` will load: ``model``, else (for one that needs a model) the
    newest registered for ``landmark`` (see :mod:`eusaug.translate.model_store`); None for
    translators without one, which refuse a ``model``."""
    cls = (registry or Registry()).translator(translator)
    if getattr(cls, "needs_model", False):
        if model is None:
            from eusaug.translate.model_store import find_model

            return Path(find_model(landmark, translator))
        return Path(model)
    if model is not None:
        raise EusaugError(f"Translator {translator!r} needs no model: drop --model {model}.")
    return None


def load_translator(
    translator: str,
    landmark: str,
    model: str | os.PathLike[str] | None = None,
    registry: Registry | None = None,
    options: Mapping[str, Any] | None = None,
) -> tuple[Translator, Path | None]:
    """The ready translator and the model it loaded (see :func:`resolve_model`).

    ``options`` go to its ``load`` (typed values; :func:`eusaug.plugin.plugin_options`
    reads them from strings).
    """
    registry = registry or Registry()
    model_path = resolve_model(translator, landmark, model, registry)
    return registry.translator(translator).load(model_path, **dict(options or {})), model_path


def translator_fov(translator: Translator, requested: FieldOfView | None) -> tuple[FieldOfView, str | None]:
    """The field of view to cut planes with for ``translator``, and the decision taken, if any.

    ``requested`` (the user's, or a poses file's) keeps its geometry; the translator's own
    trained field of view stands in when None. A translator with a fixed grid
    (``image_size_px``) sees only planes on that grid, so a request on another grid is put
    on it, and the returned note says so (``synth.json`` records it): never silently.
    """
    size = getattr(translator, "image_size_px", None)
    trained = getattr(translator, "field_of_view", None)
    chosen = requested or (trained if isinstance(trained, FieldOfView) else FieldOfView())
    if size is None or (chosen.height_px, chosen.width_px) == (size, size):
        return chosen, None
    note = (f"grid {chosen.height_px}x{chosen.width_px} px resampled to the translator's {size}x{size} px "
            "(same extent in mm)")
    return chosen.with_grid(size, size), note


def synthesize_case(
    case: CTCase,
    poses: PoseSet,
    translator: Translator,
    fov: FieldOfView,
    rng: np.random.Generator,
    output_dir: str | os.PathLike[str],
    *,
    seed: int,
    model: Path | None = None,
    poses_source: str = "sampled",
    batch_size: int = 8,
    force: bool = False,
    slicer: Slicer | None = None,
    levels: GreyLevels | None = None,
    fov_note: str | None = None,
    calibration_from_poses: str | None = None,
) -> list[dict[str, Any]]:
    """Translate the planes of every pose of ``poses`` into ``output_dir``; return the manifest rows.

    The working function: every argument is already checked (the loaded ``case``, the poses
    for its landmark, the ready ``translator``, the final ``fov``), so nothing is loaded or
    validated again here. ``seed`` and ``model`` are only recorded. ``fov`` must be on the
    translator's grid (see :func:`translator_fov`). ``levels``: grey levels each batch is
    mapped onto. ``fov_note``: a field-of-view decision to record in ``synth.json``, as
    ``calibration_from_poses`` (the poses file's raysim calibration, when the translator took it).
    """
    size = getattr(translator, "image_size_px", None)
    if size is not None and (fov.height_px, fov.width_px) != (size, size):
        raise EusaugError(f"Field of view grid {fov.height_px}x{fov.width_px} px is not translator "
                          f"{translator.name!r}'s {size}x{size} px: put it on that grid (translator_fov).")
    if batch_size < 1:
        raise EusaugError(f"--batch-size {batch_size}: must be at least 1.")
    output_dir = Path(output_dir)
    if output_dir.is_dir() and any(output_dir.iterdir()) and not force:
        raise EusaugError(f"{output_dir} already exists and is not empty: pass --force to replace it, "
                          "or choose another output folder.")
    name = translator.name
    pose_array = np.asarray(poses.poses)
    n = len(pose_array)
    slicer = slicer or Registry().create_slicer(DEFAULT_SLICER)
    ct_path, labels_path = case.ct.path, case.labels.path
    rows: list[dict[str, Any]] = []
    with atomic_directory(output_dir, force=force) as tmp:
        for start in track(range(0, n, batch_size), "synthesising", total=-(-n // batch_size)):
            planes = slice_case(case, pose_array[start : start + batch_size], fov, slicer=slicer)
            images = np.asarray(translator.translate(planes, rng), np.float32)
            if images.shape != planes.hu.shape:
                raise EusaugError(f"Translator {name!r} returned shape {images.shape} for planes "
                                  f"{planes.hu.shape}: it is broken.")
            if levels is not None:
                images = levels.match(images, planes.visible)
            for k in range(len(planes)):
                index = start + k
                image_name, label_name = f"seus_{index:04d}.png", f"label_{index:04d}.png"
                (tmp / image_name).write_bytes(encode_png(images[k]))
                write_label_png(tmp / label_name, planes.labels[k])
                rows.append({
                    "file_name": image_name,
                    "label": poses.landmark,
                    "synthetic": synthetic_cell(True),
                    "source": str(Path(ct_path).resolve()) if ct_path else "",
                    "label_file": label_name,
                    "source_labels": str(Path(labels_path).resolve()) if labels_path else "",
                    "pose_index": index,
                    "pose": format_pose(pose_array[index]),
                    "model": str(model.resolve()) if model else "",
                    "translator": name,
                    "seed": seed,
                })
        (tmp / MANIFEST).write_text(manifest_text(rows, OWN_FIELDS))
        config = translator.get_config() if hasattr(translator, "get_config") else {"translator": name}
        settings = {
            "eusaug_version": __version__,
            "landmark": poses.landmark,
            "n": n,
            "seed": seed,
            "poses": poses_source,
            "label_preset": case.label_preset.name,
            "field_of_view": fov.to_dict(),
            "field_of_view_note": fov_note,
            "translator": config,
            "grey_levels_matched_to": None if levels is None else levels.source,
        }
        if calibration_from_poses is not None:
            settings["calibration_from_poses"] = calibration_from_poses
        (tmp / SETTINGS).write_text(json.dumps(settings, indent=2, default=str))
    return rows


def synthesize(
    ct: str | os.PathLike[str] | CTCase,
    landmark: str,
    n: int,
    output_dir: str | os.PathLike[str],
    labels: str | os.PathLike[str] | None = None,
    model: str | os.PathLike[str] | None = None,
    poses: str | os.PathLike[str] | None = None,
    translator: str | Translator = DEFAULT_TRANSLATOR,
    label_preset: str = "auto",
    seed: int = 0,
    batch_size: int = 8,
    force: bool = False,
    registry: Registry | None = None,
    slicer: str = DEFAULT_SLICER,
    translator_options: Mapping[str, Any] | None = None,
    fov: FieldOfView | None = None,
    *,
    preset: str | None = None,
    match_grey_levels: str | os.PathLike[str] | None = None,
    accept_implausible_labels: bool | None = None,
) -> list[dict[str, Any]]:
    """Write ``n`` sEUS images of ``landmark`` from ``ct`` into ``output_dir``; return the manifest rows.

    The I/O edge of :func:`synthesize_case`: it checks the arguments, loads the CT once,
    checks the landmark once, reads or samples the poses and readies the translator.
    Planes are cut on the translator's grid (``image_size_px``) and, for sampled poses,
    with the field of view it was trained on (``field_of_view``) when it has them.
    ``fov`` (e.g. fitted to real frames) replaces the poses' or the trained field of view;
    it is put on the translator's grid, and ``synth.json`` records that (:func:`translator_fov`).

    ``ct``: a CT file, or a case already loaded (the pipeline's; then ``labels`` must be None).
    ``labels``: the CT's label map (found beside the CT when None). ``model``: the
    translator's model (a run folder for ``cyclegan``; the model store's newest for the
    landmark when None). ``poses``: a poses file to use (its first ``n`` poses) instead of
    sampling with ``seed``. ``label_preset``: see :func:`eusaug.ct.load_case` (``preset`` is
    its deprecated old name). ``force`` replaces a non-empty ``output_dir``.
    ``accept_implausible_labels`` accepts a label map whose organs look implausible for
    the preset (None: as ``force``, its old double meaning). ``translator_options``: keyword options of the
    translator's ``load`` (e.g. raysim's ``frequency_mhz``). ``match_grey_levels``: a folder
    of real frames whose in-fan grey levels each batch is mapped onto
    (:class:`eusaug.translate.grey_levels.GreyLevels`).
    """
    from eusaug.poses.sampling import check_poses_landmark, load_poses, sample_poses

    if preset is not None:
        warnings.warn("synthesize(preset=...) is deprecated: use label_preset=...", DeprecationWarning, stacklevel=2)
        label_preset = preset

    if n < 1:
        raise EusaugError(f"-n {n}: ask for at least one image.")
    levels = None if match_grey_levels is None else GreyLevels.of_frames(match_grey_levels)
    output_dir = Path(output_dir)  # the batch size and output folder are checked once, by synthesize_case
    registry = registry or Registry()
    from_poses = None if isinstance(translator, Translator) else poses_calibration(translator, poses, translator_options,
                                                                                 registry)
    if from_poses is not None:
        translator_options = {**(translator_options or {}), "calibration": str(from_poses)}
    if isinstance(translator, Translator):
        # A ready instance (e.g. one model reused for several CTs): ``model`` only labels the rows.
        instance, model_path = translator, (Path(model) if model is not None else None)
    else:
        instance, model_path = load_translator(translator, landmark, model, registry, translator_options)
    if isinstance(ct, CTCase):
        if labels is not None:
            raise EusaugError(f"labels={labels} is for a CT file: a loaded case carries its label map already.")
        case = ct
    else:
        case = load_case(Path(ct), None if labels is None else Path(labels), label_preset, organs=[landmark],
                         force=force if accept_implausible_labels is None else accept_implausible_labels)
    checked = case.landmark(landmark)

    if poses is not None:
        pose_set = load_poses(poses, case=case)
        check_poses_landmark(pose_set, checked, poses)
        if len(pose_set.poses) < n:
            raise EusaugError(
                f"Poses file {poses} holds {len(pose_set.poses)} poses, fewer than -n {n}: ask for fewer "
                "images, or sample more poses (eusaug poses -n ...)."
            )
        final_fov, note = translator_fov(instance, fov or pose_set.fov)
        pose_set = dataclasses.replace(pose_set, poses=np.asarray(pose_set.poses[:n]), landmark=str(checked))
    else:
        final_fov, note = translator_fov(instance, fov)
        pose_set = sample_poses(case, checked, n, seed=seed, fov=final_fov, registry=registry)
    return synthesize_case(
        case, pose_set, instance, final_fov, np.random.default_rng(seed), output_dir,
        seed=seed, model=model_path, poses_source=str(poses) if poses is not None else "sampled",
        batch_size=batch_size, force=force, slicer=registry.create_slicer(slicer), levels=levels, fov_note=note,
        calibration_from_poses=None if from_poses is None else str(from_poses),
    )


def poses_calibration(translator: str, poses: str | os.PathLike[str] | None, options: Mapping[str, Any] | None,
                      registry: Registry | None = None) -> Path | None:
    """The raysim calibration a poses file records, when ``translator`` takes one (a ``calibration``
    option) and ``options`` do not set it; None otherwise (:func:`eusaug.poses.recorded_calibration`)."""
    from eusaug.poses.calibration import recorded_calibration

    if poses is None or "calibration" in (options or {}):  # named, even as none: the user's choice
        return None
    options_class = getattr((registry or Registry()).translator(translator), "options_class", None)
    if not dataclasses.is_dataclass(options_class) or "calibration" not in {
            f.name for f in dataclasses.fields(options_class)}:
        return None
    return recorded_calibration(poses)


def read_synth_manifest(output_dir: str | os.PathLike[str]) -> list[dict[str, str]]:
    """The rows of a synth folder's ``manifest.csv`` (:func:`eusaug.io.manifest.read_manifest`'s names)."""
    path = Path(output_dir) / MANIFEST
    if not path.is_file():
        raise EusaugError(f"{output_dir} has no {MANIFEST}: it was not written by eusaug synth.")
    return read_manifest(path)
