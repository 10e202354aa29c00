"""Scan conversion between a field of view's pixel grid and its beam grid."""

from __future__ import annotations

import numpy as np
import pytest
from eusaug_plugins.raysim.scan_convert import BeamGrid

from eusaug.errors import EusaugError
from eusaug.geometry.field_of_view import FieldOfView


@pytest.mark.parametrize("kind", ["sector", "rectangle"])
def test_smooth_image_survives_round_trip(kind: str) -> None:
    fov = FieldOfView(kind=kind, height_px=96, width_px=80)
    grid = BeamGrid.for_fov(fov)
    u, v = fov.pixel_coordinates_mm()
    image = (np.sin(u / 6.0) + np.cos(v / 9.0)).astype(np.float32)
    back = grid.to_image(grid.to_beams(image), fill=-5.0)[0]
    inside = fov.mask()
    assert np.abs(back - image)[inside].max() < 0.05
    assert np.all(back[~inside] == -5.0)


def test_beam_samples_lie_where_the_geometry_says() -> None:
    fov = FieldOfView(kind="sector", height_px=128, width_px=128, probe_radius_mm=12.0, opening_deg=70.0)
    grid = BeamGrid.for_fov(fov)
    u, v = fov.pixel_coordinates_mm()
    beams = grid.to_beams(np.stack([u, v]).astype(np.float32))
    bu, bv = grid.points_mm()
    # Bilinear interpolation of a linear function is exact between pixel centres.
    p = fov.pixel_mm
    rows, cols = (bv - fov.top_mm) / p - 0.5, bu / p + fov.width_px / 2 - 0.5
    between = (rows >= 0) & (rows <= fov.height_px - 1) & (cols >= 0) & (cols <= fov.width_px - 1)
    assert between.mean() > 0.9
    np.testing.assert_allclose(beams[0][between], bu[between], atol=1e-3)
    np.testing.assert_allclose(beams[1][between], bv[between], atol=1e-3)
    # The first sample of the central beam sits on the array face, the last at full depth.
    centre = grid.n_beams // 2
    assert abs(grid.depths_mm[0]) < 1e-9 and abs(grid.depths_mm[-1] - fov.depth_mm) < 1e-9
    assert abs(bv[centre, -1] - fov.depth_mm) < 0.3


def test_sector_beams_are_radial_lines() -> None:
    fov = FieldOfView(kind="sector", height_px=64, width_px=64)
    grid = BeamGrid.for_fov(fov)
    beam_id = np.broadcast_to(np.arange(grid.n_beams, dtype=np.float32)[:, None], (grid.n_beams, grid.n_samples))
    image = grid.to_image(beam_id[None].copy(), fill=np.nan)[0]
    u, v = fov.pixel_coordinates_mm()
    angle = np.arctan2(u, v + fov.probe_radius_mm)
    expected = (angle - grid.beam_positions[0]) / (grid.beam_positions[1] - grid.beam_positions[0])
    inside = fov.mask()
    np.testing.assert_allclose(image[inside], expected[inside], atol=1e-3)


def test_nearest_keeps_label_ids_and_dtype() -> None:
    fov = FieldOfView(kind="rectangle", height_px=32, width_px=32)
    grid = BeamGrid.for_fov(fov)
    labels = np.zeros((2, 32, 32), np.int16)
    labels[:, 10:20, 5:25] = 52
    beams = grid.to_beams(labels, nearest=True)
    assert beams.dtype == np.int16 and set(np.unique(beams)) == {0, 52}
    back = grid.to_image(beams, fill=0, nearest=True)
    assert back.dtype == np.int16
    assert (back == labels).mean() > 0.97


def test_wrong_shape_is_a_clear_error() -> None:
    grid = BeamGrid.for_fov(FieldOfView(height_px=32, width_px=32))
    with pytest.raises(EusaugError, match="must be"):
        grid.to_beams(np.zeros((1, 31, 32), np.float32))
    with pytest.raises(EusaugError, match="too small"):
        BeamGrid(FieldOfView(), 1, 10)
