"""CT volumes and their label maps: loading, canonical (RAS+) orientation, world <-> voxel.

Everything downstream works in world millimetres (RAS+); voxel indices appear only
inside this module and the slicer, always together with the affine they belong to.
"""

from __future__ import annotations

import gzip
import warnings
import zlib
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import nibabel as nib
import numpy as np

from eusaug.ct.discover import NIFTI_SUFFIXES, SEGMENTATIONS_DIR, find_labels_beside, is_segmentations_dir, refuse_unreadable
from eusaug.ct.labels import LabelPreset, get_preset, normalise_name
from eusaug.ct.preset_check import AUTO, label_stats, resolve_preset
from eusaug.errors import EusaugError

#: HU above which a voxel counts as bone (the paper's "high Hounsfield Units, indicative of
#: bone"; the paper gives no number, so this value is eusaug's choice). Cortical bone is
#: above ~200-300 HU even at 3 mm partial volume, while soft tissue and non-contrast
#: vessels stay below 100 HU: 200 HU is the low end of that range, so thin cortex still
#: counts. On the shared abdomen CT it catches 44 % of labelled bone voxels (most of the
#: cortex; the marrow inside is 100-200 HU) and 0.02 % of organ voxels. Contrast-filled
#: vessels can exceed 200 HU: raise the threshold for contrast CT. Every default in
#: eusaug (slice filter, ``bone_mask``) uses this one constant.
DEFAULT_BONE_HU = 200.0

#: How bone is found: ``hu`` (the paper's rule: HU above a threshold), ``labels`` (the
#: preset's bone label ids; an explicit opt-in), ``either`` (the union of both).
BoneRule = Literal["hu", "labels", "either"]
BONE_RULES: tuple[str, ...] = ("hu", "labels", "either")

#: Air, used for everything outside the scanned volume.
AIR_HU = -1024.0

#: Tolerance (mm, and unitless for the rotation part) for "same affine".
AFFINE_ATOL = 1e-3


def voxel_to_world(affine: np.ndarray, ijk: np.ndarray) -> np.ndarray:
    """Voxel indices ``(..., 3)`` to world millimetres ``(..., 3)`` under ``affine``."""
    ijk = np.asarray(ijk, dtype=np.float64)
    return ijk @ affine[:3, :3].T + affine[:3, 3]


def world_to_voxel(affine: np.ndarray, xyz: np.ndarray) -> np.ndarray:
    """World millimetres ``(..., 3)`` to (fractional) voxel indices ``(..., 3)``."""
    inverse = np.linalg.inv(affine)
    xyz = np.asarray(xyz, dtype=np.float64)
    return xyz @ inverse[:3, :3].T + inverse[:3, 3]


def spacing_mm(affine: np.ndarray) -> np.ndarray:
    """Voxel size along each array axis, in millimetres."""
    return np.sqrt((affine[:3, :3] ** 2).sum(axis=0))


@dataclass(frozen=True)
class CTVolume:
    """A CT in RAS+ voxel order.

    ``hu`` is ``(I, J, K)`` float32 Hounsfield units; ``affine`` maps voxel indices to
    world RAS millimetres; ``orientation`` is the axis code of the file as stored
    (e.g. ``"LAS"``), kept for reporting.
    """

    hu: np.ndarray
    affine: np.ndarray
    path: Path | None = None
    orientation: str = "RAS"

    @property
    def shape(self) -> tuple[int, int, int]:
        return tuple(int(s) for s in self.hu.shape)  # type: ignore[return-value]

    @property
    def spacing_mm(self) -> np.ndarray:
        return spacing_mm(self.affine)

    def world_to_voxel(self, xyz: np.ndarray) -> np.ndarray:
        return world_to_voxel(self.affine, xyz)

    def voxel_to_world(self, ijk: np.ndarray) -> np.ndarray:
        return voxel_to_world(self.affine, ijk)


@dataclass(frozen=True)
class LabelMap:
    """An organ label map on the same grid as its CT: ``ids`` is ``(I, J, K)`` integers."""

    ids: np.ndarray
    affine: np.ndarray
    path: Path | None = None
    orientation: str = "RAS"


class Landmark(str):
    """A landmark name checked against one case: normalised, named by its label preset, present.

    Made only by :meth:`CTCase.landmark`, the one place a landmark is validated; the
    library's working functions (the samplers, synthesis, training) trust it and read
    :attr:`label_id` instead of checking the name again. It is a ``str``, so code that
    takes a plain name keeps working.
    """

    label_id: int

    def __new__(cls, name: str, label_id: int) -> Landmark:
        value = super().__new__(cls, name)
        value.label_id = int(label_id)
        return value

    def __reduce__(self) -> tuple[Any, ...]:  # pickles for worker processes (--ct-dir --workers)
        return (Landmark, (str(self), self.label_id))


@dataclass(frozen=True)
class CTCase:
    """A CT with its label map and the label preset that names the labels."""

    ct: CTVolume
    labels: LabelMap
    label_preset: LabelPreset

    @property
    def preset(self) -> LabelPreset:
        """Deprecated (one release): :attr:`label_preset` ("preset" now means named settings only)."""
        warnings.warn("CTCase.preset is deprecated: use CTCase.label_preset.", DeprecationWarning, stacklevel=2)
        return self.label_preset

    @property
    def affine(self) -> np.ndarray:
        return self.ct.affine

    def landmark(self, name: str) -> Landmark:
        """``name`` checked: known to the preset and present in the label map (else one clear error)."""
        if isinstance(name, Landmark):
            return name
        label_id = self.label_preset.id_of(name)
        if not np.any(self.labels.ids == label_id):
            raise EusaugError(
                f"Landmark {name!r} (label {label_id} in preset {self.label_preset.name!r}) is absent "
                f"from {self.labels.path or 'the label map'}: check --label-preset, or choose a landmark "
                "the label map contains (eusaug info lists them)."
            )
        return Landmark(normalise_name(name), label_id)

    def mask(self, landmark: str) -> np.ndarray:
        """Boolean ``(I, J, K)`` mask of ``landmark``; its absence is an error (checked once, see :meth:`landmark`)."""
        return self.labels.ids == self.landmark(landmark).label_id

    def bone_mask(self, hu_threshold: float = DEFAULT_BONE_HU, rule: BoneRule = "hu") -> np.ndarray:
        """Bone voxels by ``rule`` (see :func:`bone_mask`); the default is the paper's HU rule."""
        return bone_mask(self.ct.hu, self.labels.ids, self.label_preset, hu_threshold, rule)


def bone_mask(
    hu: np.ndarray,
    label_ids: np.ndarray | None,
    preset: LabelPreset | None,
    hu_threshold: float = DEFAULT_BONE_HU,
    rule: BoneRule = "hu",
) -> np.ndarray:
    """Bone as a boolean array of ``hu``'s shape (volumes and sliced planes alike).

    ``rule="hu"`` is the paper's ("pixels with high Hounsfield Units, indicative of
    bone"): ``hu > hu_threshold``. ``"labels"`` uses the preset's bone label ids instead
    (it finds marrow too, which HU misses), and ``"either"`` the union of both (HU alone
    when the preset has no bone labels). ``"labels"`` needs a preset with bone labels:
    without them it is an error, not a silent switch to HU.
    """
    if rule not in BONE_RULES:
        raise EusaugError(f"Bone rule {rule!r} is unknown: use one of {', '.join(BONE_RULES)}.")
    from_hu = np.asarray(hu) > hu_threshold
    has_labels = preset is not None and bool(preset.bone_ids) and label_ids is not None
    if rule == "hu" or (rule == "either" and not has_labels):  # the union with no bone labels is HU alone
        return from_hu
    if not has_labels:
        name = preset.name if preset is not None else "none"
        raise EusaugError(f"Bone rule {rule!r} needs bone labels, but label preset {name!r} has none: use "
                          "bone_rule='hu' (the paper's rule), or a preset with bone labels (totalsegmentator).")
    assert preset is not None and label_ids is not None
    from_labels = np.isin(label_ids, np.fromiter(preset.bone_ids, dtype=np.int64))
    return from_labels if rule == "labels" else from_labels | from_hu


def _is_nifti(path: Path) -> bool:
    return path.name.lower().endswith(NIFTI_SUFFIXES)


def _check_path(path: Path, what: str) -> None:
    if path.is_dir():
        has_dicom = any(
            p.suffix.lower() in {".dcm", ".ima", ""} and p.is_file() for p in list(path.iterdir())[:50]
        )
        hint = "It looks like a DICOM series. " if has_dicom else ""
        raise EusaugError(
            f"{what} {path} is a folder, not a NIfTI file. {hint}Convert DICOM to NIfTI first, "
            f"for example: dcm2niix -z y -o OUTDIR {path}"
        )
    if not path.exists():
        raise EusaugError(f"{what} {path} does not exist: check the path.")
    refuse_unreadable(path, what)
    if path.suffix.lower() in {".dcm", ".ima"}:
        raise EusaugError(
            f"{what} {path} is a DICOM file. Convert the series to NIfTI first, "
            f"for example: dcm2niix -z y -o OUTDIR {path.parent}"
        )
    if not _is_nifti(path):
        raise EusaugError(f"{what} {path} is not a NIfTI file (.nii or .nii.gz): convert it first.")


def _load_canonical(path: Path, what: str) -> tuple[nib.Nifti1Image, np.ndarray, str]:
    """Open ``path`` read-only, reorient to RAS+, return (image, raw array, original code)."""
    _check_path(path, what)
    try:
        image = nib.load(str(path))
    except Exception as exc:  # nibabel raises many types for a bad header
        raise EusaugError(f"{what} {path} is not a readable NIfTI file ({exc}): check or re-export it.") from None
    if not isinstance(image, nib.Nifti1Image | nib.Nifti2Image):
        raise EusaugError(f"{what} {path} is not a NIfTI image: convert it to .nii.gz.")
    original = "".join(nib.aff2axcodes(image.affine))
    canonical = nib.as_closest_canonical(image)
    try:
        data = np.asanyarray(canonical.dataobj)
    except (EOFError, zlib.error, gzip.BadGzipFile, OSError, ValueError) as exc:
        raise EusaugError(
            f"{what} {path} is truncated or corrupt ({exc}): copy or export the file again."
        ) from None
    if data.ndim == 4 and data.shape[3] == 1:
        data = data[..., 0]
    if data.ndim != 3:
        raise EusaugError(f"{what} {path} has shape {data.shape}; a 3-D volume is needed.")
    return canonical, data, original


def load_ct(path: str | Path) -> CTVolume:
    """Load a CT NIfTI (HU) in RAS+ orientation, keeping its world geometry."""
    path = Path(path)
    image, raw, original = _load_canonical(path, "CT")
    slope, inter = image.header.get_slope_inter()
    hu = raw.astype(np.float32, copy=False)
    if slope is not None and slope not in (0, 1):
        hu = hu * np.float32(slope)
    if inter:
        hu = hu + np.float32(inter)
    hu = np.ascontiguousarray(hu, dtype=np.float32)
    if not np.isfinite(hu).all():
        raise EusaugError(f"CT {path} contains NaN or infinite values: fix or re-export it.")
    return CTVolume(hu, image.affine.astype(np.float64), path, original)


def load_labels(path: str | Path) -> LabelMap:
    """Load an integer label map NIfTI, or a ``segmentations/`` folder of masks, in RAS+ orientation."""
    path = Path(path)
    if is_segmentations_dir(path):
        return load_segmentations_dir(path)
    image, raw, original = _load_canonical(path, "Label map")
    if not np.issubdtype(raw.dtype, np.integer):
        rounded = np.rint(raw)
        if not np.array_equal(rounded, raw):
            raise EusaugError(
                f"Label map {path} holds non-integer values (e.g. {raw[raw != rounded].flat[0]!r}): "
                "it looks like an image, not a segmentation. Pass the organ label map as --labels."
            )
        raw = rounded
    if raw.min() < 0 or raw.max() > np.iinfo(np.int32).max:
        raise EusaugError(f"Label map {path} holds ids outside 0..2^31: it is not an organ label map.")
    dtype = np.int16 if raw.max() <= np.iinfo(np.int16).max else np.int32
    return LabelMap(np.ascontiguousarray(raw, dtype=dtype), image.affine.astype(np.float64), path, original)


def load_segmentations_dir(folder: str | Path) -> LabelMap:
    """TotalSegmentator's default output, one binary mask per organ, as one label map.

    Masks are named as in TotalSegmentator's "total" task (``liver.nii.gz``, ...) and get
    its ids, so the map reads with the ``totalsegmentator`` preset. Files with other names
    are skipped with a warning; masks must share one grid.
    """
    folder = Path(folder)
    ids_by_name = get_preset("totalsegmentator").ids
    ids: np.ndarray | None = None
    affine: np.ndarray | None = None
    original = "RAS"
    skipped: list[str] = []
    for mask_path in sorted(p for p in folder.iterdir() if p.is_file() and p.name.lower().endswith(NIFTI_SUFFIXES)):
        name = mask_path.name[: -len(".nii.gz")] if mask_path.name.lower().endswith(".nii.gz") else mask_path.stem
        label_id = ids_by_name.get(name.lower())
        if label_id is None:
            skipped.append(mask_path.name)
            continue
        image, raw, code = _load_canonical(mask_path, "Organ mask")
        if ids is None or affine is None:
            ids, affine, original = np.zeros(raw.shape, np.int16), image.affine.astype(np.float64), code
        elif raw.shape != ids.shape or not np.allclose(image.affine, affine, atol=AFFINE_ATOL):
            raise EusaugError(
                f"Organ mask {mask_path} is not on the grid of the other masks in {folder}: "
                "pass masks from one TotalSegmentator run."
            )
        ids[np.asarray(raw) > 0.5] = label_id
    if ids is None or affine is None:
        raise EusaugError(
            f"{folder} holds no organ mask named as TotalSegmentator names them (liver.nii.gz, stomach.nii.gz, ...): "
            f"pass a label map NIfTI, or the {SEGMENTATIONS_DIR}/ folder of a TotalSegmentator run."
        )
    if skipped:
        warnings.warn(f"{folder}: skipped masks with names TotalSegmentator's total task does not use: "
                      f"{', '.join(skipped[:8])}{', ...' if len(skipped) > 8 else ''}", UserWarning, stacklevel=2)
    return LabelMap(ids, affine, folder, original)


def check_same_grid(ct: CTVolume, labels: LabelMap) -> None:
    """CT and label map must share shape and affine (within :data:`AFFINE_ATOL`)."""
    if ct.shape != labels.ids.shape:
        raise EusaugError(
            f"Label map {labels.path} has shape {labels.ids.shape} but CT {ct.path} has {ct.shape}: "
            "pass the label map that belongs to this CT (or resample it onto the CT grid)."
        )
    if not np.allclose(ct.affine, labels.affine, atol=AFFINE_ATOL):
        offset = float(np.abs(ct.affine - labels.affine).max())
        raise EusaugError(
            f"Label map {labels.path} and CT {ct.path} have different affines (max difference "
            f"{offset:.4g}): they are not on the same grid. Pass the matching label map or resample it."
        )


def load_case(
    ct_path: str | Path,
    labels_path: str | Path | None = None,
    label_preset: str | Path | LabelPreset = AUTO,
    organs: Sequence[str] = (),
    force: bool = False,
    *,
    preset: str | Path | LabelPreset | None = None,
) -> CTCase:
    """Load a CT and its label map (found beside the CT when not given) on one RAS+ grid.

    ``label_preset`` ``auto`` picks the built-in preset that reads the map plausibly. The
    anchor organs (liver, stomach) and ``organs`` (what the caller will image) must have
    plausible volumes and densities under the preset, else one line names the preset that
    fits (:mod:`eusaug.ct.preset_check`); ``force`` skips that check. ``preset`` is the old
    name of ``label_preset`` (deprecated).
    """
    if preset is not None:
        warnings.warn("load_case(preset=...) is deprecated: use label_preset=...", DeprecationWarning, stacklevel=2)
        label_preset = preset
    ct = load_ct(ct_path)
    labels = load_labels(labels_path if labels_path is not None else find_labels_beside(ct_path))
    check_same_grid(ct, labels)
    stats = label_stats(labels.ids, ct.hu, ct.affine)
    chosen = resolve_preset(stats, label_preset, organs, labels.path, force)
    return CTCase(ct, labels, chosen)
