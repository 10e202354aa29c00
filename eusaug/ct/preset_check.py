"""Does a label map fit its label preset? Organ volumes and mean HU against adult anatomy.

Label ids are bare integers: a BTCV map read with TotalSegmentator's ids calls the
oesophagus (BTCV 5) "liver" and the liver (BTCV 6) "stomach", and every later stage
would quietly image the wrong organ. Real organs have volumes and densities that no
mislabelled one matches, so a map is checked against generous adult ranges before use,
and ``auto`` picks the known preset whose reading is plausible.

Only organs a command needs and the anchor organs (liver, stomach) are checked, so an
unusual organ elsewhere in the map never stops a run.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from eusaug.ct.labels import PRESET_NAMES, LabelPreset, get_preset, normalise_name
from eusaug.errors import EusaugError

AUTO = "auto"

#: The CLI flag that skips the plausibility check (``force`` of :func:`resolve_preset`).
ACCEPT_LABELS_FLAG = "--accept-implausible-labels"

#: Organs every check looks at: present in any abdominal CT the paper's method can use.
ANCHOR_ORGANS = ("liver", "stomach")


@dataclass(frozen=True)
class OrganRange:
    """Plausible adult volume (ml) and mean density (HU) of one organ's segmentation.

    ``min_cut_ml`` replaces ``min_ml`` when the organ touches the edge of the volume:
    the scan then holds only part of it (CTs are often cropped to the upper abdomen,
    e.g. the shared 30-slice case cuts the liver), so only a looser lower bound holds.
    It stays above the volume of the organs a wrong preset would name instead (the
    oesophagus read as liver is 20-60 ml).
    """

    min_ml: float
    max_ml: float
    min_cut_ml: float
    hu: tuple[float, float]


#: Generous ranges: typical adult volumes (liver 1.2-1.8 l, spleen 0.15-0.25 l, kidney
#: 0.12-0.17 l each, pancreas 0.05-0.1 l) widened for disease (hepatomegaly to 4 l,
#: splenomegaly), atrophy, children's small organs and segmentations of parts of an organ.
#: Densities: unenhanced soft tissue is 20-70 HU, fatty liver drops to about -40 HU,
#: contrast lifts parenchyma to ~200 HU and vessels and the renal pelvis further; the
#: stomach holds gas or oral contrast, so only its extremes are refused. Lung (~-750 HU)
#: and bone (> 300 HU on average) fall outside every soft-tissue range.
PLAUSIBLE: dict[str, OrganRange] = {
    "liver": OrganRange(min_ml=500.0, max_ml=4000.0, min_cut_ml=150.0, hu=(-60.0, 250.0)),
    "stomach": OrganRange(min_ml=20.0, max_ml=3000.0, min_cut_ml=10.0, hu=(-900.0, 400.0)),
    "spleen": OrganRange(min_ml=30.0, max_ml=2500.0, min_cut_ml=5.0, hu=(-60.0, 250.0)),
    "kidney_left": OrganRange(min_ml=40.0, max_ml=500.0, min_cut_ml=5.0, hu=(-60.0, 600.0)),
    "kidney_right": OrganRange(min_ml=40.0, max_ml=500.0, min_cut_ml=5.0, hu=(-60.0, 600.0)),
    # An atrophic pancreas, or a small model's partial one, is 10-20 ml (the shared CT's is 17 ml).
    "pancreas": OrganRange(min_ml=8.0, max_ml=300.0, min_cut_ml=3.0, hu=(-100.0, 250.0)),
    # Abdominal CTs hold a segment of the aorta; an aneurysm makes it large.
    "aorta": OrganRange(min_ml=3.0, max_ml=900.0, min_cut_ml=1.0, hu=(-60.0, 700.0)),
    "inferior_vena_cava": OrganRange(min_ml=2.0, max_ml=500.0, min_cut_ml=1.0, hu=(-60.0, 700.0)),
    "gallbladder": OrganRange(min_ml=1.0, max_ml=400.0, min_cut_ml=1.0, hu=(-60.0, 200.0)),
}


@dataclass(frozen=True)
class LabelStats:
    """Per-id voxel counts and mean HU of a label map, and the ids touching its edge.

    Ids are the label values; ``mean_hu`` may lack ids too small for its subsample.
    """

    counts: dict[int, int]
    mean_hu: dict[int, float]
    edge_ids: frozenset[int]
    voxel_ml: float

    def volume_ml(self, label_id: int) -> float:
        return self.counts.get(label_id, 0) * self.voxel_ml


#: Mean HU is taken on a regular subsample of about this many voxels: a plausibility range
#: of hundreds of HU needs no more, and a weighted count over a 512x512x300 CT takes seconds.
HU_SAMPLE_VOXELS = 4_000_000


def label_stats(ids: np.ndarray, hu: np.ndarray, affine: np.ndarray) -> LabelStats:
    """Exact voxel counts and edge contact of every id; mean HU on a regular subsample.

    An id too small to be hit by the subsample has no mean HU (its volume alone decides).
    """
    ids = np.asarray(ids)
    hu = np.asarray(hu)
    huge = bool(ids.size) and int(ids.max()) > 1_000_000  # sparse huge ids: avoid a giant bincount
    if huge:
        keys, inverse = np.unique(ids.ravel(), return_inverse=True)
        counts = np.bincount(inverse)
    else:
        counts = np.bincount(ids.ravel())
        keys = np.arange(counts.size)
    step = max(1, int(np.ceil((ids.size / HU_SAMPLE_VOXELS) ** (1.0 / 3.0))))
    sub_ids = ids[::step, ::step, ::step].ravel()
    sub_hu = hu[::step, ::step, ::step].ravel().astype(np.float64)
    if not huge:
        sub_keys, sub_inverse = keys, sub_ids
    else:
        sub_keys, sub_inverse = np.unique(sub_ids, return_inverse=True)
    sub_counts = np.bincount(sub_inverse, minlength=sub_keys.size)
    sub_sums = np.bincount(sub_inverse, weights=sub_hu, minlength=sub_keys.size)
    sampled = np.nonzero(sub_counts)[0]
    faces = [ids[0], ids[-1], ids[:, 0], ids[:, -1], ids[:, :, 0], ids[:, :, -1]]
    edge = frozenset(int(v) for face in faces for v in np.unique(face))
    present = np.nonzero(counts)[0]
    return LabelStats(
        counts={int(keys[i]): int(counts[i]) for i in present},
        mean_hu={int(sub_keys[i]): float(sub_sums[i] / sub_counts[i]) for i in sampled},
        edge_ids=edge,
        voxel_ml=float(abs(np.linalg.det(affine[:3, :3]))) / 1000.0,
    )


@dataclass(frozen=True)
class OrganReading:
    """What one preset says an organ is in this map, and why that is implausible (``problem``)."""

    name: str
    label_id: int
    volume_ml: float
    mean_hu: float
    cut: bool
    problem: str | None
    volume_ok: bool = True

    def short(self) -> str:
        return f"{self.name} {self.volume_ml:.0f} ml"


@dataclass(frozen=True)
class PresetFit:
    """How well one preset reads a label map: plausible organs, implausible ones, what is missing."""

    label_preset: str
    readings: tuple[OrganReading, ...]
    absent: tuple[str, ...]
    unnamed_ids: tuple[int, ...]

    @property
    def preset(self) -> str:
        """Deprecated (one release): :attr:`label_preset`."""
        warnings.warn("PresetFit.preset is deprecated: use PresetFit.label_preset.", DeprecationWarning, stacklevel=2)
        return self.label_preset

    @property
    def problems(self) -> list[str]:
        out = [r.problem for r in self.readings if r.problem]
        out += [f"{name} absent" for name in self.absent]
        if self.unnamed_ids:
            shown = ", ".join(map(str, self.unnamed_ids[:6])) + (", ..." if len(self.unnamed_ids) > 6 else "")
            out.append(f"{len(self.unnamed_ids)} label id(s) it does not name ({shown})")
        return out

    @property
    def score(self) -> int:
        """Number of reasons against this preset; 0 is a plausible reading."""
        return sum(1 for r in self.readings if r.problem) + len(self.absent) + (1 if self.unnamed_ids else 0)

    @property
    def fits(self) -> bool:
        return self.score == 0

    def summary(self) -> str:
        """``liver 1126 ml, stomach 131 ml`` (the organs checked)."""
        return ", ".join(r.short() for r in self.readings) or "no checked organ present"


def _checked(organs: Iterable[str]) -> list[str]:
    names = list(dict.fromkeys([*ANCHOR_ORGANS, *(normalise_name(o) for o in organs)]))
    return [n for n in names if n in PLAUSIBLE]


def assess_preset(stats: LabelStats, preset: LabelPreset, organs: Iterable[str] = ()) -> PresetFit:
    """Read the map with ``preset``: volume and mean HU of the anchor organs and ``organs``."""
    readings, absent = [], []
    for name in _checked(organs):
        if name not in preset.ids:
            continue
        label_id = int(preset.ids[name])
        if stats.counts.get(label_id, 0) == 0:
            if name in ANCHOR_ORGANS:
                absent.append(name)
            continue
        bounds = PLAUSIBLE[name]
        volume, cut = stats.volume_ml(label_id), label_id in stats.edge_ids
        hu = stats.mean_hu.get(label_id, float("nan"))
        low = bounds.min_cut_ml if cut else bounds.min_ml
        problem = None
        volume_ok = low <= volume <= bounds.max_ml
        if not volume_ok:
            problem = (f"{name} (label {label_id}) is {volume:.0f} ml, plausible {low:.0f}-{bounds.max_ml:.0f} ml"
                       + (" for an organ cut by the scan's edge" if cut else ""))
        elif np.isfinite(hu) and not bounds.hu[0] <= hu <= bounds.hu[1]:
            problem = (f"{name} (label {label_id}) has mean {hu:.0f} HU, plausible "
                       f"{bounds.hu[0]:.0f}..{bounds.hu[1]:.0f} HU")
        readings.append(OrganReading(name, label_id, volume, hu, cut, problem, volume_ok))
    named = set(int(v) for v in preset.ids.values())
    unnamed = tuple(sorted(i for i in stats.counts if i != 0 and i not in named))
    return PresetFit(preset.name, tuple(readings), tuple(absent), unnamed)


def known_fits(stats: LabelStats, organs: Iterable[str] = ()) -> list[PresetFit]:
    """:func:`assess_preset` for every built-in preset, best first (ties keep :data:`PRESET_NAMES` order)."""
    organs = list(organs)
    fits = [assess_preset(stats, get_preset(name), organs) for name in PRESET_NAMES]
    return sorted(fits, key=lambda f: f.score)


def _where(path: Path | str | None) -> str:
    return f"label map {path}" if path is not None else "the label map"


def choose_preset(stats: LabelStats, organs: Iterable[str] = (), path: Path | str | None = None,
                  force: bool = False) -> LabelPreset:
    """The built-in preset that reads the map plausibly (``--label-preset auto``).

    Two equally good readings are refused (the map does not tell them apart) unless
    ``force``, which takes the first of :data:`PRESET_NAMES`; a best reading that still
    has problems is returned, and :func:`check_preset` then explains them.
    """
    fits = known_fits(stats, organs)
    best = fits[0]
    if len(fits) > 1 and fits[1].score == best.score and not force:
        readings = "; ".join(f"{f.label_preset}: {f.summary()}" + (f" ({'; '.join(f.problems)})" if f.problems else "")
                             for f in fits)
        raise EusaugError(
            f"Cannot tell which label preset {_where(path)} uses ({readings}): pass --label-preset "
            f"{' or '.join(PRESET_NAMES)} (or a JSON file), or {ACCEPT_LABELS_FLAG} to take {PRESET_NAMES[0]}."
        )
    return get_preset(best.label_preset)


def check_preset(stats: LabelStats, preset: LabelPreset, organs: Iterable[str] = (),
                 path: Path | str | None = None) -> PresetFit:
    """Stop with one line when ``preset`` reads the map implausibly, naming the preset that fits.

    Missing organs are left to the stage that needs them (its error names the landmark).
    """
    organs = list(organs)
    fit = assess_preset(stats, preset, organs)
    implausible = [r.problem for r in fit.readings if r.problem]
    if not implausible:
        return fit
    better = [f for f in known_fits(stats, organs) if f.label_preset != preset.name and f.fits]
    why = "; ".join(implausible)
    if better:
        alternative = better[0]
        raise EusaugError(
            f"{_where(path).capitalize()} looks like {alternative.label_preset} ids, not {preset.name} ({why}; "
            f"as {alternative.label_preset}: {alternative.summary()}): pass --label-preset "
            f"{alternative.label_preset} (or auto), or {ACCEPT_LABELS_FLAG} (formerly --force) if the anatomy "
            "really is unusual."
        )
    raise EusaugError(
        f"{_where(path).capitalize()} does not fit label preset {preset.name} ({why}) nor any other known "
        "preset: pass --label-preset FILE.json naming your ids, or "
        f"{ACCEPT_LABELS_FLAG} (formerly --force) if the anatomy really is unusual."
    )


def resolve_preset(
    stats: LabelStats,
    label_preset: str | Path | LabelPreset,
    organs: Sequence[str] = (),
    path: Path | str | None = None,
    force: bool = False,
) -> LabelPreset:
    """``auto`` picks a built-in preset; then (unless ``force``) the reading must be plausible.

    A JSON preset is the user's statement about their ids: it is checked, never replaced.
    """
    if isinstance(label_preset, str) and normalise_name(label_preset) == AUTO:
        preset = choose_preset(stats, organs, path, force)
    else:
        preset = get_preset(label_preset)
    if not force:
        check_preset(stats, preset, organs, path)
    return preset
