"""The ``raysim`` translator on phantom planes with known answers, and on real anatomy."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from eusaug_plugins.raysim import (
    PRESETS,
    RAYLEIGH_MEAN,
    RaySim,
    RaySimParams,
    tissue_lookup,
)

from eusaug import (
    EusaugError,
    FieldOfView,
    Planes,
    Registry,
    load_case,
    pose_from_axes,
    reference_slice,
)

AORTA_ID = 52


def phantom(fov: FieldOfView, hu_of_depth, n: int = 1, labels: np.ndarray | None = None) -> Planes:
    """Planes whose HU is a function of depth along the beam (radial depth for a sector)."""
    u, v = fov.pixel_coordinates_mm()
    depth = np.hypot(u, v + fov.probe_radius_mm) - fov.probe_radius_mm if fov.kind == "sector" else v
    hu = np.broadcast_to(hu_of_depth(u, depth).astype(np.float32), (n, fov.height_px, fov.width_px)).copy()
    ids = np.zeros(hu.shape, np.int16) if labels is None else np.broadcast_to(labels, hu.shape).copy()
    mask = np.broadcast_to(fov.mask(), hu.shape).copy()
    return Planes(hu, ids, mask, np.repeat(np.eye(4)[None], n, axis=0), fov)


def image_depth_mm(fov: FieldOfView) -> np.ndarray:
    u, v = fov.pixel_coordinates_mm()
    return np.hypot(u, v + fov.probe_radius_mm) - fov.probe_radius_mm if fov.kind == "sector" else v


def slope_db_per_cm(depths_mm: np.ndarray, amplitude: np.ndarray) -> float:
    return float(np.polyfit(depths_mm / 10.0, 20 * np.log10(amplitude), 1)[0])


@pytest.mark.parametrize("kind", ["rectangle", "sector"])
def test_reflector_appears_at_its_depth(kind: str) -> None:
    fov = FieldOfView(kind=kind, height_px=128, width_px=128)
    step_mm = 23.0
    planes = phantom(fov, lambda u, d: np.where(d < step_mm, 40.0, -100.0), n=2)
    image = RaySim().translate(planes, np.random.default_rng(0))
    depth = image_depth_mm(fov)
    inside = fov.mask()
    # Mean brightness in 0.5 mm depth bins: the brightest bin is the interface.
    bins = np.arange(2.0, fov.depth_mm - 2.0, 0.5)
    profile = [image[:, inside & (depth >= b) & (depth < b + 0.5)].mean() for b in bins]
    found = bins[int(np.argmax(profile))] + 0.25
    assert abs(found - step_mm) <= 1.0
    # And it stands out: far brighter than the speckle above it.
    assert max(profile) > np.median(profile) + 0.3


def test_intensity_decays_with_depth_before_tgc_and_not_after() -> None:
    fov = FieldOfView(kind="rectangle", height_px=128, width_px=96)
    out = RaySim().simulate(phantom(fov, lambda u, d: np.full_like(d, 40.0), n=3), np.random.default_rng(1))
    depths = out.grid.depths_mm
    keep = (depths > 5) & (depths < 45)
    raw = out.envelope.mean(axis=(0, 1))[keep]
    compensated = (out.envelope * out.tgc_gain).mean(axis=(0, 1))[keep]
    # Soft tissue (40 HU): 0.5 dB/cm/MHz at 7.5 MHz, both ways -> -7.5 dB per cm of depth.
    assert slope_db_per_cm(depths[keep], raw) == pytest.approx(-7.5, abs=0.5)
    assert abs(slope_db_per_cm(depths[keep], compensated)) < 0.5
    # The envelope is calibrated: diffuse soft tissue near the probe has the Rayleigh mean.
    assert compensated[:20].mean() == pytest.approx(RAYLEIGH_MEAN, rel=0.1)


def test_speckle_is_rayleigh() -> None:
    fov = FieldOfView(kind="rectangle", height_px=128, width_px=128)
    out = RaySim().simulate(phantom(fov, lambda u, d: np.full_like(d, 40.0), n=4), np.random.default_rng(2))
    keep = (out.grid.depths_mm > 5) & (out.grid.depths_mm < 30)
    amplitude = (out.envelope * out.tgc_gain)[:, 8:-8, keep].ravel().astype(np.float64)
    # Rayleigh: mean / std = sqrt(pi / (4 - pi)) = 1.913, <A^2> / <A>^2 = 4 / pi.
    assert amplitude.mean() / amplitude.std() == pytest.approx(1.913, abs=0.08)
    assert (amplitude**2).mean() / amplitude.mean() ** 2 == pytest.approx(4 / np.pi, abs=0.03)
    # A uniform region is not Rayleigh-like when the speckle is switched off: the test can fail.
    no_speckle = np.full_like(amplitude, amplitude.mean())
    assert no_speckle.mean() / (no_speckle.std() + 1e-9) > 100


def test_bone_casts_a_shadow() -> None:
    fov = FieldOfView(kind="rectangle", height_px=128, width_px=128, width_mm=40.0)
    def bone(u, d):
        return np.where((np.abs(u) < 8) & (d > 15) & (d < 18), 1000.0, 40.0)

    image = RaySim().translate(phantom(fov, bone, n=2), np.random.default_rng(3))
    u, v = fov.pixel_coordinates_mm()
    deep = (v > 25) & (v < 45) & fov.mask()
    under = image[:, deep & (np.abs(u) < 6)].mean()
    beside = image[:, deep & (np.abs(u) > 11)].mean()
    assert under < -0.9 < beside  # the shadow is black; the tissue beside it is not
    central = image[:, :, np.abs(u[0]) < 6].mean(axis=(0, 2))
    brightest_mm = v[int(np.argmax(central)), 0]
    assert abs(brightest_mm - 15.0) < 1.5 and central.max() > beside + 0.5  # a bright bone surface


def test_fluid_labels_are_anechoic_only_with_a_label_preset() -> None:
    fov = FieldOfView(kind="rectangle", height_px=96, width_px=96)
    u, v = fov.pixel_coordinates_mm()
    vessel = np.hypot(u, v - 25) < 8
    planes = phantom(fov, lambda u, d: np.full_like(d, 40.0), n=2, labels=np.where(vessel, AORTA_ID, 0))
    lumen = np.hypot(u, v - 25) < 6
    ring = (np.hypot(u, v - 25) > 10) & (np.hypot(u, v - 25) < 16)
    with_labels = RaySim().translate(planes, np.random.default_rng(4))
    hu_only = RaySim(label_preset=None).translate(planes, np.random.default_rng(4))
    assert with_labels[:, lumen].mean() < with_labels[:, ring].mean() - 0.3
    assert abs(hu_only[:, lumen].mean() - hu_only[:, ring].mean()) < 0.05


def test_planes_preset_names_the_fluid_labels() -> None:
    """A BTCV label map (aorta = 8) is read with the planes' own preset, not TotalSegmentator's."""
    from dataclasses import replace

    from eusaug import get_preset

    fov = FieldOfView(kind="rectangle", height_px=96, width_px=96)
    u, v = fov.pixel_coordinates_mm()
    vessel = np.hypot(u, v - 25) < 8
    btcv_aorta = get_preset("btcv").id_of("aorta")
    planes = phantom(fov, lambda u, d: np.full_like(d, 40.0), n=2, labels=np.where(vessel, btcv_aorta, 0))
    lumen = np.hypot(u, v - 25) < 6
    ring = (np.hypot(u, v - 25) > 10) & (np.hypot(u, v - 25) < 16)
    as_btcv = RaySim().translate(replace(planes, label_preset=get_preset("btcv")), np.random.default_rng(4))
    as_totalseg = RaySim().translate(replace(planes, label_preset=get_preset("totalsegmentator")), np.random.default_rng(4))
    assert as_btcv[:, lumen].mean() < as_btcv[:, ring].mean() - 0.3  # 8 is the aorta in BTCV
    assert abs(as_totalseg[:, lumen].mean() - as_totalseg[:, ring].mean()) < 0.05  # 8 is an adrenal gland there


def test_output_range_mask_and_seeds() -> None:
    fov = FieldOfView(kind="sector", height_px=64, width_px=80)
    planes = phantom(fov, lambda u, d: np.where(d % 10 < 5, 40.0, -100.0), n=3)
    planes.mask[1, :, :40] = False  # a plane whose slicer masked more than the fov
    sim = RaySim()
    a = sim.translate(planes, np.random.default_rng(7))
    assert a.shape == (3, 64, 80) and a.dtype == np.float32
    assert a.min() >= -1.0 and a.max() <= 1.0
    assert np.all(a[:, ~fov.mask()] == -1.0)
    assert np.all(a[1, :, :40] == -1.0)
    assert a[:, fov.mask()].std() > 0.1  # not a blank image
    np.testing.assert_array_equal(a, sim.translate(planes, np.random.default_rng(7)))
    assert not np.array_equal(a, sim.translate(planes, np.random.default_rng(8)))
    # Batching does not change the physics: same planes, one batch at a time, same statistics.
    single = RaySim(batch_size=1).translate(planes, np.random.default_rng(7))
    assert abs(single[:, fov.mask()].mean() - a[:, fov.mask()].mean()) < 0.05


def test_registered_through_the_registry() -> None:
    registry = Registry()
    cls = registry.get("translator", "raysim")
    assert cls is RaySim and not cls.needs_model
    translator = cls.load(None, preset="abdominal", dynamic_range_db=70.0)
    assert translator.params == RaySimParams(**{**PRESETS["abdominal"].to_dict(), "dynamic_range_db": 70.0})
    assert translator.get_config()["frequency_mhz"] == 3.5
    fov = FieldOfView(height_px=32, width_px=32)
    image = translator.translate(phantom(fov, lambda u, d: np.full_like(d, 40.0)), np.random.default_rng(0))
    assert image.shape == (1, 32, 32)


def test_bad_options_and_planes_are_clear_errors() -> None:
    with pytest.raises(EusaugError, match="unknown preset"):
        RaySim(preset="cardiac")
    with pytest.raises(EusaugError, match="unknown option"):
        RaySim(frequency=5.0)
    with pytest.raises(EusaugError, match="frequency_mhz"):
        RaySim(frequency_mhz=0.0)
    with pytest.raises(EusaugError, match="is not a number"):
        RaySim(frequency_mhz="fast")
    typed = RaySim(frequency_mhz="5", batch_size="8", label_preset="none", fluid_labels="aorta, gallbladder")
    assert (typed.params.frequency_mhz, typed.params.batch_size, typed.params.label_preset) == (5.0, 8, None)
    assert typed.params.fluid_labels == ("aorta", "gallbladder")
    with pytest.raises(EusaugError, match="needs no trained model"):
        RaySim.load(Path("model.keras"))
    fov = FieldOfView(height_px=32, width_px=32)
    planes = phantom(fov, lambda u, d: np.full_like(d, 40.0))
    planes.hu = planes.hu[:, :30]
    with pytest.raises(EusaugError, match="field of view"):
        RaySim().translate(planes, np.random.default_rng(0))


def test_tissue_lookup_orders_impedances_physically() -> None:
    props = tissue_lookup(np.array([-1000.0, -100.0, 0.0, 40.0, 1000.0]))
    z = props["impedance_mrayl"]
    assert np.all(np.diff(z) > 0)
    assert z[3] == pytest.approx(1.65, abs=0.05)  # soft tissue ~1.6-1.7 MRayl
    assert props["attenuation_db_cm_mhz"][4] > 10 * props["attenuation_db_cm_mhz"][3]


def test_aorta_is_dark_on_a_real_plane(abdomen_ct: Path) -> None:
    case = load_case(abdomen_ct)
    aorta = case.ct.voxel_to_world(np.argwhere(case.mask("aorta")))
    stomach = case.ct.voxel_to_world(np.argwhere(case.mask("stomach")))
    centre = aorta.mean(axis=0)
    origin = stomach[np.argmin(np.linalg.norm(stomach - centre, axis=1))]
    pose = pose_from_axes(origin, centre - origin, np.cross(centre - origin, [0.0, 0.0, 1.0]))
    fov = FieldOfView(height_px=128, width_px=128, depth_mm=60.0)
    planes = reference_slice(case, pose[None], fov)
    image = RaySim().translate(planes, np.random.default_rng(0))[0]
    from scipy.ndimage import binary_erosion

    lumen = binary_erosion(planes.labels[0] == AORTA_ID, iterations=3) & planes.mask[0]
    tissue = (planes.labels[0] != AORTA_ID) & (planes.hu[0] > -50) & planes.mask[0]
    assert lumen.sum() > 50
    assert image[lumen].mean() < image[tissue].mean() - 0.2


def test_air_between_probe_and_skin_is_coupling_gel_but_gas_in_the_body_still_shadows() -> None:
    """A probe face 8 mm off the skin: with gel the tissue under the gap echoes; as air it is black."""
    fov = FieldOfView(kind="rectangle", height_px=96, width_px=96, width_mm=40.0)
    def gap_then_gas(u, d):
        tissue = np.where(d < 8.0, -1000.0, 40.0)  # air gap, then soft tissue
        return np.where((np.abs(u) < 6) & (d > 20) & (d < 23), -1000.0, tissue)  # bowel gas at 20 mm

    planes = phantom(fov, gap_then_gas, n=2)
    u, v = fov.pixel_coordinates_mm()
    tissue = fov.mask() & (v > 10) & (v < 18)
    under_gas = fov.mask() & (v > 28) & (v < 45) & (np.abs(u) < 4)
    beside_gas = fov.mask() & (v > 28) & (v < 45) & (np.abs(u) > 10)
    gel = RaySim().translate(planes, np.random.default_rng(0))
    air = RaySim(gel_coupling=False).translate(planes, np.random.default_rng(0))
    touching = RaySim().translate(phantom(fov, lambda u, d: np.full_like(d, 40.0), n=2), np.random.default_rng(0))
    assert air[:, tissue].mean() < -0.95  # the whole beam is lost at the air-skin interface
    # Through gel the tissue looks as it does under a probe touching the skin.
    assert abs(gel[:, tissue].mean() - touching[:, tissue].mean()) < 0.1
    assert touching[:, tissue].mean() > air[:, tissue].mean() + 0.1
    assert gel[:, fov.mask() & (v < 6)].mean() < -0.9  # the gel itself is anechoic
    assert gel[:, under_gas].mean() < -0.9 < gel[:, beside_gas].mean()  # gas deeper in still shadows
