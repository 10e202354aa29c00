"""``eusaug synth``: synthetic EUS images from a CT, with their label planes and a manifest.

Poses are sampled (or read from a poses file), the CT is sliced at the translator's image
size, the planes are translated in batches by any registered translator, and the output
folder is written atomically: ``seus_NNNN.png`` (8-bit, the sEUS), ``label_NNNN.png``
(label ids of the same plane), ``manifest.csv`` (one row per image) and ``synth.json``
(what made them). The same seed writes the same files.
"""

from __future__ import annotations

import csv
import io
import json
import os
import warnings
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from eusaug.ct.labels import normalise_name
from eusaug.ct.volume import load_case
from eusaug.errors import EusaugError
from eusaug.geometry.field_of_view import FieldOfView
from eusaug.io.atomic import atomic_directory
from eusaug.io.images import encode_png, write_label_png
from eusaug.io.progress import track
from eusaug.plugin.interfaces import Translator
from eusaug.plugin.registry import DEFAULT_SLICER, DEFAULT_TRANSLATOR, Registry
from eusaug.poses.slicing import slice_case
from eusaug.translate.grey_levels import GreyLevels
from eusaug.version import __version__

MANIFEST = "manifest.csv"
SETTINGS = "synth.json"
MANIFEST_FIELDS = (
    "file", "label_file", "source_ct", "source_labels", "pose_index", "pose",
    "landmark", "model", "translator", "seed",
)


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


def synthesize(
    ct: str | os.PathLike[str],
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

    Planes are cut on the translator's grid (``image_size_px``) and, for sampled poses,
    with the field of view it was trained on (``field_of_view``) when it has them.
    ``fov`` (e.g. fitted to real frames) replaces the poses' or the trained field of view;
    it is still resampled to the translator's grid.

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
    from eusaug.poses.sampling import load_poses, sample_poses

    if preset is not None:
        warnings.warn("synthesize(preset=...) is deprecated: use label_preset=...", DeprecationWarning, stacklevel=2)
        label_preset = preset

    if n < 1:
        raise EusaugError(f"-n {n}: ask for at least one image.")
    levels = None if match_grey_levels is None else GreyLevels.of_frames(match_grey_levels)
    if batch_size < 1:
        raise EusaugError(f"--batch-size {batch_size}: must be at least 1.")
    output_dir = Path(output_dir)
    if output_dir.is_dir() and any(output_dir.iterdir()) and not force:
        raise EusaugError(f"{output_dir} already exists and is not empty: pass --force to replace it, "
                          "or choose another output folder.")
    registry = registry or Registry()
    if isinstance(translator, Translator):
        # A ready instance (e.g. one model reused for several CTs): ``model`` only labels the rows.
        instance, model_path = translator, (Path(model) if model is not None else None)
        translator = instance.name
    else:
        instance, model_path = load_translator(translator, landmark, model, registry, translator_options)
    case = load_case(Path(ct), None if labels is None else Path(labels), label_preset, organs=[landmark],
                     force=force if accept_implausible_labels is None else accept_implausible_labels)
    case.mask(landmark)
    size = getattr(instance, "image_size_px", None)
    trained_fov = getattr(instance, "field_of_view", None)

    if poses is not None:
        pose_set = load_poses(poses, case=case)
        if normalise_name(str(pose_set.landmark)) != normalise_name(landmark):
            raise EusaugError(
                f"Poses file {poses} was sampled for landmark {pose_set.landmark!r}, not {landmark!r}: "
                f"pass a poses file for {landmark} or leave --poses out to sample new poses."
            )
        if len(pose_set.poses) < n:
            raise EusaugError(
                f"Poses file {poses} holds {len(pose_set.poses)} poses, fewer than -n {n}: ask for fewer "
                "images, or sample more poses (eusaug poses -n ...)."
            )
        chosen = fov or pose_set.fov
        fov = chosen if size is None else chosen.with_grid(size, size)
        pose_array = np.asarray(pose_set.poses[:n])
    else:
        chosen = fov or (trained_fov if isinstance(trained_fov, FieldOfView) else FieldOfView())
        fov = chosen if size is None else chosen.with_grid(size, size)
        pose_set = sample_poses(case, landmark, n, seed=seed, fov=fov, registry=registry)
        pose_array = np.asarray(pose_set.poses)

    rng = np.random.default_rng(seed)
    slicer_instance = registry.create_slicer(slicer)
    labels_path = case.labels.path
    rows: list[dict[str, Any]] = []
    with atomic_directory(output_dir, force=force) as tmp:
        for start in track(range(0, n, batch_size), "synthesising", total=-(-n // batch_size)):
            planes = slice_case(case, pose_array[start : start + batch_size], fov, slicer=slicer_instance)
            images = np.asarray(instance.translate(planes, rng), np.float32)
            if images.shape != planes.hu.shape:
                raise EusaugError(f"Translator {translator!r} returned shape {images.shape} for planes "
                                  f"{planes.hu.shape}: it is broken.")
            if levels is not None:
                images = levels.match(images, planes.visible)
            for k in range(len(planes)):
                index = start + k
                image_name, label_name = f"seus_{index:04d}.png", f"label_{index:04d}.png"
                (tmp / image_name).write_bytes(encode_png(images[k]))
                write_label_png(tmp / label_name, planes.labels[k])
                rows.append({
                    "file": image_name,
                    "label_file": label_name,
                    "source_ct": str(Path(ct).resolve()),
                    "source_labels": str(Path(labels_path).resolve()) if labels_path else "",
                    "pose_index": index,
                    "pose": format_pose(pose_array[index]),
                    "landmark": landmark,
                    "model": str(model_path.resolve()) if model_path else "",
                    "translator": translator,
                    "seed": seed,
                })
        buffer = io.StringIO()
        writer = csv.DictWriter(buffer, fieldnames=list(MANIFEST_FIELDS), lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)
        (tmp / MANIFEST).write_text(buffer.getvalue())
        config = instance.get_config() if hasattr(instance, "get_config") else {"translator": translator}
        settings = {
            "eusaug_version": __version__,
            "landmark": landmark,
            "n": n,
            "seed": seed,
            "poses": str(poses) if poses is not None else "sampled",
            "label_preset": case.preset.name,
            "field_of_view": fov.to_dict(),
            "translator": config,
            "grey_levels_matched_to": None if levels is None else levels.source,
        }
        (tmp / SETTINGS).write_text(json.dumps(settings, indent=2, default=str))
    return rows


def read_synth_manifest(output_dir: str | os.PathLike[str]) -> list[dict[str, str]]:
    """The rows of a synth folder's ``manifest.csv``."""
    path = Path(output_dir) / MANIFEST
    if not path.is_file():
        raise EusaugError(f"{output_dir} has no {MANIFEST}: it was not written by eusaug synth.")
    with open(path, newline="") as handle:
        return list(csv.DictReader(handle))
