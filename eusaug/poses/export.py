"""Slices for people: one image PNG and one label PNG per kept pose, and a manifest.

Layout of the output folder (built under a temporary name, renamed when complete)::

    images/pose_00000.png    HU window scaled to 0..255, black outside the field of view
    labels/pose_00000.png    label ids (8- or 16-bit), 0 outside the field of view
    manifest.csv             every pose (eusaug.io.manifest's schema): image, landmark, CT, label
                             plane, then index, status (kept or why filtered), pixel counts
    slices.json              what produced the folder (poses file metadata, window, filter)
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

from eusaug.ct.volume import CTCase
from eusaug.geometry.planes import KEPT, HUWindow, SliceFilter
from eusaug.io.atomic import atomic_directory
from eusaug.io.images import write_label_png, write_png
from eusaug.io.manifest import MANIFEST_HEAD, manifest_text, synthetic_cell
from eusaug.io.progress import track
from eusaug.plugin.interfaces import Slicer
from eusaug.plugin.registry import DEFAULT_SLICER, Registry
from eusaug.poses.sampling import PoseSet
from eusaug.poses.slicing import slice_case

#: The columns of ``manifest.csv`` after :data:`eusaug.io.manifest.MANIFEST_HEAD`.
OWN_COLUMNS = ("pose_index", "status", "landmark_px", "bone_px")
MANIFEST_COLUMNS = (*MANIFEST_HEAD, *OWN_COLUMNS)

#: The default window (frozen, so sharing it is safe).
ABDOMINAL_WINDOW = HUWindow()

#: Poses sliced at once (bounds memory: 64 planes of 256x256 are about 30 MB).
BATCH = 64


def export_slices(
    case: CTCase,
    pose_set: PoseSet,
    output_dir: str | Path,
    force: bool = False,
    window: HUWindow = ABDOMINAL_WINDOW,
    slice_filter: SliceFilter | None = None,
    slicer: str | Slicer = DEFAULT_SLICER,
    registry: Registry | None = None,
) -> list[dict[str, Any]]:
    """Slice every pose of ``pose_set``, write PNGs for the kept ones and ``manifest.csv``.

    ``slice_filter`` defaults to the pose set's own (the paper's when it has none). An
    existing non-empty ``output_dir`` is replaced only with ``force``, and only once the
    new folder is complete. Returns the manifest rows.
    """
    active = slice_filter or pose_set.slice_filter or SliceFilter()
    landmark_id = case.label_preset.id_of(pose_set.landmark)
    if not isinstance(slicer, Slicer):
        slicer = (registry or Registry()).create_slicer(slicer)
    source = str(Path(case.ct.path).resolve()) if case.ct.path else ""
    rows: list[dict[str, Any]] = []
    with atomic_directory(output_dir, force=force) as tmp:
        (tmp / "images").mkdir()
        (tmp / "labels").mkdir()
        starts = range(0, len(pose_set), BATCH)
        for start in track(starts, f"slicing {len(pose_set)} {pose_set.landmark} poses"):
            poses = pose_set.poses[start : start + BATCH]
            planes = slice_case(case, poses, pose_set.fov, slicer=slicer)
            landmark_px, bone_px = active.counts(planes, landmark_id, case.label_preset)
            outside = planes.outside_fraction()
            verdicts = active.verdicts(landmark_px, bone_px, planes.fov, outside, active.gas_of(planes))
            images = planes.windowed(window)
            for k, verdict in enumerate(verdicts):
                index = start + k
                row: dict[str, Any] = {
                    "file_name": "",
                    "label": pose_set.landmark,
                    "synthetic": synthetic_cell(True),
                    "source": source,
                    "label_file": "",
                    "pose_index": index,
                    "status": verdict,
                    "landmark_px": int(landmark_px[k]),
                    "bone_px": int(bone_px[k]),
                }
                if verdict == KEPT:
                    name = f"pose_{index:05d}.png"
                    write_png(tmp / "images" / name, images[k])
                    write_label_png(tmp / "labels" / name, np.where(planes.mask[k], planes.labels[k], 0))
                    row["file_name"], row["label_file"] = f"images/{name}", f"labels/{name}"
                rows.append(row)
        (tmp / "manifest.csv").write_text(manifest_text(rows, OWN_COLUMNS))
        config = {
            "poses": {k: v for k, v in pose_set.to_dict().items() if k != "poses"},
            "window": {"level": window.level, "width": window.width},
            "slice_filter": active.to_dict(),
            "slicer": getattr(slicer, "name", str(slicer)),
            "kept": sum(r["status"] == KEPT for r in rows),
            "total": len(rows),
        }
        (tmp / "slices.json").write_text(json.dumps(config, indent=1) + "\n")
    return rows
