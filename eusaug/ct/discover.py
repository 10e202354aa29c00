"""Finding CT cases and their label maps in the layouts researchers have.

Known layouts (any of them under one ``--ct-dir``):

- flat: ``NAME_ct.nii.gz`` (or ``NAME.nii.gz``) beside ``NAME_labels`` / ``NAME_label`` / ``NAME_seg``;
- TotalSegmentator's output: ``ct.nii.gz`` beside a ``segmentations/`` folder of one binary
  mask per organ (``liver.nii.gz``, ...), also one such case per sub-folder (``s0001/ct.nii.gz``);
- BTCV as distributed: ``img/img0001.nii.gz`` with ``label/label0001.nii.gz``;
- nnU-Net: ``imagesTr/case_0000.nii.gz`` with ``labelsTr/case.nii.gz`` (also ``imagesTs``/``labelsTs``).

This module only looks at names; :mod:`eusaug.ct.volume` reads the files.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from eusaug.errors import EusaugError

NIFTI_SUFFIXES = (".nii", ".nii.gz")

#: Formats nibabel cannot read; they are refused with the command that converts them.
UNREADABLE_SUFFIXES = (".nrrd", ".nhdr", ".mha", ".mhd")

#: TotalSegmentator's folder of one binary mask per organ.
SEGMENTATIONS_DIR = "segmentations"

#: nnU-Net's channel suffix of a single-channel (CT) image.
_NNUNET_CHANNEL = "_0000"


@dataclass(frozen=True)
class CaseFiles:
    """One CT of a folder: a short name (used in output file names) and its files.

    ``labels`` is a label map NIfTI or a TotalSegmentator ``segmentations/`` folder.
    """

    name: str
    ct: Path
    labels: Path | None


def nifti_stem(path: Path) -> str:
    """``case_ct.nii.gz`` -> ``case_ct``."""
    name = path.name
    for suffix in NIFTI_SUFFIXES:
        if name.lower().endswith(suffix):
            return name[: -len(suffix)]
    return path.stem


def is_nifti(path: Path) -> bool:
    return path.name.lower().endswith(NIFTI_SUFFIXES)


def conversion_hint(path: Path) -> str:
    """One sentence saying how to turn ``path`` (NRRD/MetaImage) into NIfTI."""
    out = nifti_stem(Path(path.name.rsplit(".", 1)[0] + ".nii.gz"))
    return (
        f"convert it to NIfTI first, e.g. python -c \"import SimpleITK as s; s.WriteImage(s.ReadImage('{path}'), "
        f"'{out}.nii.gz')\" (pip install SimpleITK), or c3d {path} -o {out}.nii.gz"
    )


def refuse_unreadable(path: Path, what: str) -> None:
    """NRRD and MetaImage files are refused with the command that converts them."""
    if path.name.lower().endswith(UNREADABLE_SUFFIXES):
        raise EusaugError(f"{what} {path} is {path.suffix.lstrip('.').upper()}, which eusaug does not read: "
                          f"{conversion_hint(path)}.")


def is_segmentations_dir(path: Path) -> bool:
    """A folder of per-organ mask NIfTIs (TotalSegmentator's default output)."""
    return path.is_dir() and any(p.is_file() and is_nifti(p) for p in path.iterdir())


def _label_candidates(ct_path: Path) -> list[Path]:
    """Every path the label map of ``ct_path`` may have, most specific first."""
    stem = nifti_stem(ct_path)
    bases = [stem[: -len("_ct")]] if stem.lower().endswith("_ct") else []
    bases.append(stem)
    names = [f"{b}{tag}" for b in bases for tag in ("_labels", "_label", "_seg")]
    folder = ct_path.parent
    paths = [folder / (n + s) for n in names for s in NIFTI_SUFFIXES]
    if stem.startswith("img"):  # BTCV: img0001 -> label0001, beside it or in ../label/
        for where in (folder, folder.parent / "label"):
            paths += [where / ("label" + stem[3:] + s) for s in NIFTI_SUFFIXES]
    if folder.name.startswith("images"):  # nnU-Net: imagesTr/case_0000 -> labelsTr/case
        case = stem[: -len(_NNUNET_CHANNEL)] if stem.endswith(_NNUNET_CHANNEL) else stem
        labels_dir = folder.parent / ("labels" + folder.name[len("images"):])
        paths += [labels_dir / (case + s) for s in NIFTI_SUFFIXES]
    return paths


def find_labels_beside(ct_path: str | Path) -> Path:
    """Find a CT's label map by the naming conventions of the layouts above.

    Returns a NIfTI path, or a ``segmentations/`` folder when the CT's folder has one
    (named label map files win, since several CTs may share a folder).
    """
    ct_path = Path(ct_path)
    candidates = _label_candidates(ct_path)
    for path in candidates:
        if path.is_file():
            return path
    segmentations = ct_path.parent / SEGMENTATIONS_DIR
    if is_segmentations_dir(segmentations):
        return segmentations
    shown = ", ".join(dict.fromkeys(os.path.relpath(p, ct_path.parent) for p in candidates
                                    if p.name.endswith(".nii.gz")))
    raise EusaugError(
        f"No label map found beside {ct_path} (looked for {shown} and {SEGMENTATIONS_DIR}/): "
        "pass --labels LABELS.nii.gz (or a TotalSegmentator segmentations/ folder)."
    )


def _cases_in(folder: Path) -> tuple[list[CaseFiles], list[Path]]:
    """Cases among the NIfTI files directly in ``folder``, and the CTs without labels."""
    niftis = sorted(p for p in folder.iterdir() if p.is_file() and is_nifti(p))
    pairs: dict[Path, Path] = {}
    for path in niftis:
        try:
            pairs[path] = find_labels_beside(path)
        except EusaugError:
            continue
    label_maps = set(pairs.values())
    cases = []
    for ct, labels in pairs.items():
        if ct in label_maps:
            continue
        stem = nifti_stem(ct)
        if stem.lower().endswith("_ct"):
            stem = stem[: -len("_ct")]
        if folder.name.startswith("images") and stem.endswith(_NNUNET_CHANNEL):
            stem = stem[: -len(_NNUNET_CHANNEL)]
        if stem.lower() == "ct":  # TotalSegmentator's s0001/ct.nii.gz: the folder names the case
            stem = folder.name
        cases.append(CaseFiles(stem, ct, labels))
    orphans = [p for p in niftis if p not in pairs and p not in label_maps]
    if folder.name.startswith("images"):  # nnU-Net: other channels and unlabelled test images are not CTs here
        orphans = []
    return cases, orphans


def find_cases(ct_dir: str | Path) -> list[CaseFiles]:
    """Every CT under ``ct_dir`` with its label map, in any of the layouts of this module.

    Looks in ``ct_dir`` itself, in BTCV's ``img/`` and nnU-Net's ``imagesTr``/``imagesTs``,
    and in sub-folders holding one TotalSegmentator case each. A CT without a label map,
    an NRRD/MetaImage file, or two cases with the same name stop with one line.
    """
    ct_dir = Path(ct_dir)
    if not ct_dir.is_dir():
        raise EusaugError(f"CT folder {ct_dir} does not exist or is not a folder: pass --ct-dir FOLDER.")
    folders = [ct_dir]
    for sub in sorted(p for p in ct_dir.iterdir() if p.is_dir()):
        if sub.name == "img" or sub.name.startswith("images"):
            folders.append(sub)
        elif (sub / SEGMENTATIONS_DIR).is_dir():
            folders.append(sub)
    cases: list[CaseFiles] = []
    orphans: list[Path] = []
    for folder in folders:
        found, lonely = _cases_in(folder)
        cases += found
        orphans += lonely
        for path in sorted(folder.iterdir()):
            if path.is_file():
                refuse_unreadable(path, "CT folder file")
    if orphans:
        raise EusaugError(
            f"No label map found beside {', '.join(str(p.relative_to(ct_dir)) for p in orphans)} in {ct_dir}: "
            "name them NAME_labels.nii.gz (or labelXXXX for imgXXXX, labelsTr/case for imagesTr/case_0000, "
            "segmentations/ beside ct.nii.gz), or move them out of the folder."
        )
    if not cases:
        raise EusaugError(
            f"CT folder {ct_dir} holds no CT with a label map (.nii, .nii.gz; flat, img/ + label/, "
            "imagesTr/ + labelsTr/, or ct.nii.gz + segmentations/): convert DICOM with dcm2niix first."
        )
    seen: dict[str, Path] = {}
    for case in cases:
        if case.name in seen:
            raise EusaugError(f"Two CTs in {ct_dir} are both named {case.name!r} ({seen[case.name]} and {case.ct}): "
                              "rename one, since output files are named after the case.")
        seen[case.name] = case.ct
    return cases
