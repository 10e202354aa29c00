"""Probe poses and the file that keeps them: sample them from a CT, save, load and check.

A poses file is JSON: the ``(N, 4, 4)`` matrices (world mm, RAS+; convention in
:mod:`eusaug.geometry.field_of_view`) plus everything that produced them: the CT and label map (names
and SHA-256 of their content), label preset, landmark, sampler, cone angle, roll range,
field of view, slice filter, seed and eusaug version. Loading checks the structure,
and, given the case it is meant for, that it was made from that very CT.
"""

from __future__ import annotations

import hashlib
import inspect
import json
import os
import warnings
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from eusaug.ct.labels import normalise_name
from eusaug.ct.volume import CTCase, Landmark
from eusaug.errors import EusaugError
from eusaug.geometry.field_of_view import FieldOfView, validate_poses
from eusaug.geometry.planes import SliceFilter
from eusaug.io.atomic import write_text
from eusaug.io.hashing import file_sha256
from eusaug.io.progress import make_progress
from eusaug.plugin.registry import DEFAULT_SAMPLER, Registry

FORMAT = "eusaug-poses"
FORMAT_VERSION = 1

#: Defaults of :func:`sample_poses` (frozen, so sharing them is safe).
DEFAULT_FOV = FieldOfView()
PAPER_FILTER = SliceFilter()


@dataclass(frozen=True, eq=False)  # holds arrays: compare fields explicitly
class PoseSet:
    """Poses for one landmark of one CT, and how they were made.

    ``poses``: ``(N, 4, 4)`` float64 world mm. ``ct_sha256`` / ``labels_sha256``: SHA-256
    of the files' bytes (``"array:..."`` of the voxel data for in-memory volumes).
    ``slice_filter`` is None when poses only had to show the landmark. ``raysim_calibration``:
    a raysim calibration made with the poses (``poses --calibrate-from``), relative to the
    poses file's folder; ``synth --poses`` uses it for raysim (:mod:`eusaug.poses.calibration`).
    """

    poses: np.ndarray
    landmark: str
    ct_path: str | None
    labels_path: str | None
    ct_sha256: str
    labels_sha256: str
    label_preset: str
    fov: FieldOfView
    slice_filter: SliceFilter | None
    cone_deg: float
    roll_range_deg: tuple[float, float]
    seed: int | None
    eusaug_version: str
    sampler: str
    max_draws: int | None = None
    raysim_calibration: str | None = None

    @property
    def preset(self) -> str:
        """Deprecated (one release): :attr:`label_preset`."""
        warnings.warn("PoseSet.preset is deprecated: use PoseSet.label_preset.", DeprecationWarning, stacklevel=2)
        return self.label_preset

    def __len__(self) -> int:
        return int(self.poses.shape[0])

    @property
    def positions_mm(self) -> np.ndarray:
        """``(N, 3)`` transducer positions."""
        return self.poses[:, :3, 3]

    @property
    def beams(self) -> np.ndarray:
        """``(N, 3)`` unit beam directions."""
        return self.poses[:, :3, 1]

    def to_dict(self) -> dict[str, Any]:
        # Written only when set: files without a calibration stay as before.
        calibration = {} if self.raysim_calibration is None else {"raysim_calibration": self.raysim_calibration}
        return {
            "format": FORMAT,
            "format_version": FORMAT_VERSION,
            "eusaug_version": self.eusaug_version,
            "sampler": self.sampler,
            "landmark": self.landmark,
            "label_preset": self.label_preset,
            "ct": {"path": self.ct_path, "sha256": self.ct_sha256},
            "labels": {"path": self.labels_path, "sha256": self.labels_sha256},
            "cone_deg": self.cone_deg,
            "roll_range_deg": list(self.roll_range_deg),
            "seed": self.seed,
            "max_draws": self.max_draws,
            "field_of_view": self.fov.to_dict(),
            "slice_filter": None if self.slice_filter is None else self.slice_filter.to_dict(),
            **calibration,
            "poses": self.poses.tolist(),
        }


# -- content hashes -----------------------------------------------------------------------
def _volume_sha256(path: Path | None, data: np.ndarray, affine: np.ndarray) -> str:
    if path is not None and Path(path).is_file():
        return file_sha256(path)
    digest = hashlib.sha256(np.ascontiguousarray(data).tobytes())
    digest.update(np.asarray(affine, dtype=np.float64).tobytes())
    return "array:" + digest.hexdigest()


def case_sha256(case: CTCase) -> tuple[str, str]:
    """``(ct, labels)`` content hashes of a case, as written into poses files."""
    return (
        _volume_sha256(case.ct.path, case.ct.hu, case.ct.affine),
        _volume_sha256(case.labels.path, case.labels.ids, case.labels.affine),
    )


# -- sampling -------------------------------------------------------------------------------
def sample_poses(
    case: CTCase,
    landmark: str,
    n: int,
    seed: int = 0,
    fov: FieldOfView = DEFAULT_FOV,
    cone_deg: float = 30.0,
    slice_filter: SliceFilter | None = PAPER_FILTER,
    sampler: str = DEFAULT_SAMPLER,
    registry: Registry | None = None,
    max_draws: int | None = None,
    roll_range_deg: tuple[float, float] = (-180.0, 180.0),
    sampler_options: Mapping[str, Any] | None = None,
) -> PoseSet:
    """Find ``n`` probe poses that view ``landmark`` (and pass ``slice_filter``), seeded.

    The sampler plugin is found through ``registry`` (a new :class:`Registry` when
    None). It gets ``cone_deg``, ``roll_range_deg`` and ``max_draws`` (None: its own
    budget) as options, and any ``sampler_options`` of its own (e.g. skin-surface's
    ``threshold_hu``). Raises :class:`EusaugError` with per-reason rejection counts
    when ``n`` poses are not found.
    """
    from eusaug.version import __version__

    if not isinstance(landmark, Landmark):  # the one check; a Landmark from the edge is trusted
        landmark = case.landmark(landmark)
    registry = registry or Registry()
    cls = registry.sampler(sampler)
    options: dict[str, Any] = {"cone_deg": cone_deg, "roll_range_deg": tuple(roll_range_deg), "max_draws": max_draws,
                               **(sampler_options or {})}
    accepted = inspect.signature(cls).parameters
    takes_any = any(p.kind is inspect.Parameter.VAR_KEYWORD for p in accepted.values())
    missing = [k for k in options if k not in accepted and not takes_any]
    if missing:
        raise EusaugError(
            f"Sampler {sampler!r} does not take the option(s) {', '.join(missing)}: "
            "leave them at their defaults or pick another sampler."
        )
    with make_progress() as progress:
        task = progress.add_task(f"{landmark} poses", total=n)
        if "on_progress" in accepted or takes_any:

            def report(kept: int, draws: int) -> None:
                progress.update(task, completed=kept, description=f"{landmark} poses ({draws} draws)")

            options["on_progress"] = report
        instance = cls(**options)
        poses = instance.sample(case, landmark, n, fov, np.random.default_rng(seed), slice_filter)
        progress.update(task, completed=n)
    poses = validate_poses(poses, f"sampler {sampler!r}")
    if len(poses) != n:
        raise EusaugError(f"Sampler {sampler!r} returned {len(poses)} poses instead of {n}: it is faulty.")
    ct_sha, labels_sha = case_sha256(case)
    return PoseSet(
        poses=poses,
        landmark=str(landmark),
        ct_path=None if case.ct.path is None else str(case.ct.path),
        labels_path=None if case.labels.path is None else str(case.labels.path),
        ct_sha256=ct_sha,
        labels_sha256=labels_sha,
        label_preset=case.label_preset.name,
        fov=fov,
        slice_filter=instance.applied_filter(slice_filter),
        cone_deg=float(cone_deg),
        roll_range_deg=(float(roll_range_deg[0]), float(roll_range_deg[1])),
        seed=seed,
        eusaug_version=__version__,
        sampler=sampler,
        max_draws=max_draws,
    )


# -- the file ---------------------------------------------------------------------------------
def save_poses(path: str | os.PathLike[str], pose_set: PoseSet) -> Path:
    """Write ``pose_set`` as JSON, atomically (whole or not at all); return the path."""
    text = json.dumps(pose_set.to_dict(), indent=1)
    return write_text(path, text + "\n")


_REQUIRED = ("landmark", "ct", "labels", "field_of_view", "poses", "sampler")


def load_poses(path: str | os.PathLike[str], case: CTCase | None = None, force: bool = False) -> PoseSet:
    """Read and validate a poses file.

    With ``case``, the file must have been made from that CT and label map (same content
    hashes); otherwise it is an :class:`EusaugError`, or a warning with ``force``.
    """
    path = Path(path)
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise EusaugError(f"Poses file {path} does not exist: make one with `eusaug poses`.") from None
    except IsADirectoryError:
        raise EusaugError(f"Poses file {path} is a folder: pass the poses JSON file.") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise EusaugError(f"Poses file {path} is not readable JSON ({exc}): make it again with `eusaug poses`.") from None
    if not isinstance(raw, dict) or raw.get("format") != FORMAT:
        raise EusaugError(f"{path} is not an eusaug poses file (no \"format\": \"{FORMAT}\"): pass one made by `eusaug poses`.")
    version = raw.get("format_version")
    if not isinstance(version, int) or version > FORMAT_VERSION:
        raise EusaugError(
            f"Poses file {path} has format_version {version!r}; this eusaug reads up to {FORMAT_VERSION}: "
            "upgrade eusaug or make the file again."
        )
    # Files before the rename call the label preset "preset": read either key.
    missing = [key for key in _REQUIRED if key not in raw] + (
        [] if "label_preset" in raw or "preset" in raw else ["label_preset"])
    if missing:
        raise EusaugError(f"Poses file {path} lacks {', '.join(missing)}: it is damaged; make it again.")
    try:
        poses = validate_poses(np.asarray(raw["poses"], dtype=np.float64), f"Poses file {path}")
        fov = FieldOfView.from_dict(raw["field_of_view"])
        slice_filter = None if raw.get("slice_filter") is None else SliceFilter.from_dict(raw["slice_filter"])
        roll = raw.get("roll_range_deg", [-180.0, 180.0])
        cone = raw.get("cone_deg")
        pose_set = PoseSet(
            poses=poses,
            landmark=str(raw["landmark"]),
            ct_path=raw["ct"].get("path"),
            labels_path=raw["labels"].get("path"),
            ct_sha256=str(raw["ct"]["sha256"]),
            labels_sha256=str(raw["labels"]["sha256"]),
            label_preset=str(raw.get("label_preset", raw.get("preset"))),
            fov=fov,
            slice_filter=slice_filter,
            cone_deg=float("nan") if cone is None else float(cone),
            roll_range_deg=(float(roll[0]), float(roll[1])),
            seed=None if raw.get("seed") is None else int(raw["seed"]),
            eusaug_version=str(raw.get("eusaug_version", "?")),
            sampler=str(raw["sampler"]),
            max_draws=None if raw.get("max_draws") is None else int(raw["max_draws"]),
            raysim_calibration=None if raw.get("raysim_calibration") is None else str(raw["raysim_calibration"]),
        )
    except EusaugError as exc:
        message = str(exc) if str(path) in str(exc) else f"Poses file {path}: {exc}"
        raise EusaugError(message) from None
    except (TypeError, ValueError, KeyError, AttributeError, IndexError) as exc:
        raise EusaugError(f"Poses file {path} has a malformed entry ({type(exc).__name__}: {exc}): make it again.") from None
    if len(pose_set) == 0:
        raise EusaugError(f"Poses file {path} holds no poses: make it again with `eusaug poses`.")
    if case is not None:
        check_poses_match(pose_set, case, path, force)
    return pose_set


def check_poses_landmark(pose_set: PoseSet, landmark: str, source: str | os.PathLike[str] = "poses") -> None:
    """Error when ``pose_set`` was sampled for another landmark than ``landmark`` (the one place this is checked)."""
    if normalise_name(pose_set.landmark) != normalise_name(landmark):
        raise EusaugError(
            f"Poses file {source} was sampled for landmark {pose_set.landmark!r}, not {landmark!r}: pass a poses "
            f"file for {landmark}, or sample one (eusaug poses --landmark {landmark} -o poses.json)."
        )


def check_poses_match(
    pose_set: PoseSet, case: CTCase, source: str | os.PathLike[str] = "poses", force: bool = False
) -> None:
    """Error (or warn, with ``force``) when ``pose_set`` was made from another CT, label map or preset."""
    ct_sha, labels_sha = case_sha256(case)
    problems = []
    if ct_sha != pose_set.ct_sha256:
        problems.append(f"CT {case.ct.path} (sha256 {ct_sha[:12]}) is not {pose_set.ct_path} (sha256 {pose_set.ct_sha256[:12]})")
    if labels_sha != pose_set.labels_sha256:
        problems.append(
            f"label map {case.labels.path} (sha256 {labels_sha[:12]}) is not {pose_set.labels_path} "
            f"(sha256 {pose_set.labels_sha256[:12]})"
        )
    if case.label_preset.name != pose_set.label_preset:
        problems.append(f"label preset {case.label_preset.name!r} is not {pose_set.label_preset!r}")
    if not problems:
        return
    message = f"Poses file {source} was made from another volume: {'; '.join(problems)}."
    if not force:
        raise EusaugError(message + " Pass the CT it was made from (or leave --ct out: the poses file's CT is "
                          "used), or --accept-other-ct (formerly --force) to use the poses anyway.")
    warnings.warn(message + " Using the poses anyway (--accept-other-ct).", UserWarning, stacklevel=2)


__all__ = [
    "FORMAT",
    "FORMAT_VERSION",
    "PoseSet",
    "case_sha256",
    "check_poses_landmark",
    "check_poses_match",
    "file_sha256",
    "load_poses",
    "sample_poses",
    "save_poses",
]
