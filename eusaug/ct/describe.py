"""What is in a CT case: the numbers ``eusaug info`` prints."""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np

from eusaug.ct.preset_check import PresetFit, assess_preset, known_fits, label_stats
from eusaug.ct.volume import CTCase


@dataclass(frozen=True)
class OrganSummary:
    name: str
    label_id: int
    voxels: int
    volume_ml: float


@dataclass(frozen=True)
class CaseSummary:
    ct_path: str
    labels_path: str
    shape: tuple[int, int, int]
    spacing_mm: tuple[float, float, float]
    orientation: str
    hu_min: float
    hu_max: float
    label_preset: str
    organs: list[OrganSummary]
    unnamed_label_ids: list[int]
    preset_fit: PresetFit | None = None
    other_fits: tuple[PresetFit, ...] = ()

    @property
    def preset(self) -> str:
        """Deprecated (one release): :attr:`label_preset`."""
        warnings.warn("CaseSummary.preset is deprecated: use CaseSummary.label_preset.", DeprecationWarning, stacklevel=2)
        return self.label_preset

    def preset_lines(self, auto: bool = False) -> list[str]:
        """Which preset fits the map, in words: the line ``eusaug info`` prints, then any warning.

        e.g. ``totalsegmentator (fits: liver 1126 ml, stomach 131 ml); btcv would read liver as 131 ml``;
        ``auto`` marks a preset that was chosen rather than given.
        """
        name = f"{self.label_preset} (auto)" if auto else self.label_preset
        if self.preset_fit is None:
            return [name]
        own = self.preset_fit
        head = f"{name}, fits: {own.summary()}" if own.fits else f"{name}, does not fit: {'; '.join(own.problems)}"
        others = [_other_reading(f, own.fits) for f in self.other_fits]
        lines = ["; ".join([head, *others])]
        if not own.fits:
            better = [f for f in self.other_fits if f.fits]
            if better:
                name = better[0].label_preset
                lines.append(f"this map looks like {name} ids: pass --label-preset {name} (or auto)")
            else:
                lines.append("no known preset fits this map: pass --label-preset FILE.json naming its ids")
        return lines


def summarise_case(case: CTCase) -> CaseSummary:
    """Shape, spacing, orientation, HU range, the volume of every preset organ present, and
    how well the case's preset and the other built-in ones read the map."""
    voxel_ml = float(abs(np.linalg.det(case.affine[:3, :3]))) / 1000.0
    stats = label_stats(case.labels.ids, case.ct.hu, case.affine)
    counts = np.bincount(case.labels.ids.ravel().astype(np.int64))
    organs, unnamed = [], []
    for label_id in np.nonzero(counts)[0]:
        if label_id == 0:
            continue
        name = case.label_preset.name_of(int(label_id))
        if name is None:
            unnamed.append(int(label_id))
            continue
        n = int(counts[label_id])
        organs.append(OrganSummary(name, int(label_id), n, n * voxel_ml))
    return CaseSummary(
        ct_path=str(case.ct.path),
        labels_path=str(case.labels.path),
        shape=case.ct.shape,
        spacing_mm=tuple(float(s) for s in case.ct.spacing_mm),  # type: ignore[arg-type]
        orientation=case.ct.orientation,
        hu_min=float(case.ct.hu.min()),
        hu_max=float(case.ct.hu.max()),
        label_preset=case.label_preset.name,
        organs=organs,
        unnamed_label_ids=unnamed,
        preset_fit=assess_preset(stats, case.label_preset),
        other_fits=tuple(f for f in known_fits(stats) if f.label_preset != case.label_preset.name),
    )


def _other_reading(fit: PresetFit, own_fits: bool) -> str:
    """``btcv would read liver as 131 ml`` for a preset that does not fit, else that it fits."""
    if fit.fits:
        return f"{fit.label_preset} would fit too ({fit.summary()})" if own_fits else f"{fit.label_preset} fits: {fit.summary()}"
    wrong = [r for r in fit.readings if r.problem]
    if wrong:
        first = wrong[0]
        reading = f"{first.name} as {first.volume_ml:.0f} ml" if not first.volume_ok else f"{first.name} at {first.mean_hu:.0f} HU"
        return f"{fit.label_preset} would read {reading}"
    return f"{fit.label_preset} would not fit ({'; '.join(fit.problems)})"
