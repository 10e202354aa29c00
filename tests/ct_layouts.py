"""The bundled sample case re-written in the layouts researchers have (no /work/shared needed).

``btcv_ids`` relabels the sample's TotalSegmentator ids to BTCV's. The sample has no
oesophagus, so its duodenum (30 ml, cut by the scan's edge like an oesophagus) stands in
for BTCV's oesophagus (id 5): that is the label the ``totalsegmentator`` preset would
misread as "liver".
"""

from __future__ import annotations

from pathlib import Path

import nibabel as nib
import numpy as np

from eusaug.ct import BTCV_LABELS, get_preset, sample_ct_path, sample_labels_path

TS_IDS = get_preset("totalsegmentator").ids


def sample_images() -> tuple[nib.Nifti1Image, nib.Nifti1Image]:
    return nib.load(str(sample_ct_path())), nib.load(str(sample_labels_path()))


def btcv_ids(ts_labels: np.ndarray) -> np.ndarray:
    """TotalSegmentator ids -> BTCV ids; organs BTCV does not label become background."""
    out = np.zeros_like(ts_labels)
    for name, btcv_id in BTCV_LABELS.items():
        if name in TS_IDS:
            out[ts_labels == TS_IDS[name]] = btcv_id
    out[ts_labels == TS_IDS["duodenum"]] = BTCV_LABELS["esophagus"]
    return out


def _save(data: np.ndarray, affine: np.ndarray, path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    nib.save(nib.Nifti1Image(data, affine), str(path))
    return path


def write_flat(folder: Path, btcv: bool = False, name: str = "case") -> tuple[Path, Path]:
    """``NAME_ct.nii.gz`` + ``NAME_labels.nii.gz``, TotalSegmentator or BTCV ids."""
    ct, labels = sample_images()
    ids = np.asarray(labels.dataobj)
    ids = btcv_ids(ids) if btcv else ids
    return (_save(np.asarray(ct.dataobj), ct.affine, folder / f"{name}_ct.nii.gz"),
            _save(ids, labels.affine, folder / f"{name}_labels.nii.gz"))


def write_btcv(root: Path, number: str = "0001") -> tuple[Path, Path]:
    """BTCV as distributed: ``img/imgXXXX.nii.gz`` + ``label/labelXXXX.nii.gz`` (BTCV ids)."""
    ct, labels = sample_images()
    return (_save(np.asarray(ct.dataobj), ct.affine, root / "img" / f"img{number}.nii.gz"),
            _save(btcv_ids(np.asarray(labels.dataobj)), labels.affine, root / "label" / f"label{number}.nii.gz"))


def write_nnunet(root: Path, case: str = "abdomen_001") -> tuple[Path, Path]:
    """nnU-Net: ``imagesTr/CASE_0000.nii.gz`` + ``labelsTr/CASE.nii.gz`` (TotalSegmentator ids)."""
    ct, labels = sample_images()
    return (_save(np.asarray(ct.dataobj), ct.affine, root / "imagesTr" / f"{case}_0000.nii.gz"),
            _save(np.asarray(labels.dataobj), labels.affine, root / "labelsTr" / f"{case}.nii.gz"))


def write_segmentations(folder: Path) -> tuple[Path, Path]:
    """TotalSegmentator's output: ``ct.nii.gz`` + ``segmentations/ORGAN.nii.gz`` (one binary mask each).

    Only organs present in the sample get a file (TotalSegmentator writes empty ones too;
    one empty mask is added to show they are harmless).
    """
    ct, labels = sample_images()
    ids = np.asarray(labels.dataobj)
    by_id = {v: k for k, v in TS_IDS.items()}
    for label_id in np.unique(ids):
        if label_id:
            _save((ids == label_id).astype(np.uint8), labels.affine, folder / "segmentations" / f"{by_id[int(label_id)]}.nii.gz")
    _save(np.zeros(ids.shape, np.uint8), labels.affine, folder / "segmentations" / "heart.nii.gz")
    return _save(np.asarray(ct.dataobj), ct.affine, folder / "ct.nii.gz"), folder / "segmentations"
