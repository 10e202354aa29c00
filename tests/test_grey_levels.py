"""Grey-level matching to real frames: the in-fan histogram moves, the order of grey levels and the outside do not."""

from __future__ import annotations

import json

import numpy as np
import pytest
from cli_helpers import assert_clean_error, invoke
from PIL import Image

from eusaug.errors import EusaugError
from eusaug.geometry import sector_mask
from eusaug.io import read_grey_uint8, uint8_to_unit
from eusaug.translate import GreyLevels

SHAPE = (240, 320)


def fan() -> np.ndarray:
    return sector_mask(*SHAPE, 160.0, -40.0, 56.0, 70.0, 260.0)


def write_frames(folder, count: int = 6, low: int = 60, high: int = 200) -> None:
    """Frames whose fan holds grey levels uniform in [low, high); black outside."""
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    for k in range(count):
        frame = rng.integers(low, high, SHAPE).astype(np.uint8) * fan()
        Image.fromarray(frame).save(folder / f"f{k}.png")


def test_matched_images_take_the_frames_grey_levels_and_keep_their_order(tmp_path) -> None:
    write_frames(tmp_path / "frames")
    levels = GreyLevels.of_frames(tmp_path / "frames")
    rng = np.random.default_rng(1)
    dark = uint8_to_unit(rng.integers(0, 40, (3, *SHAPE)).astype(np.uint8))  # a dim simulator's output
    inside = np.broadcast_to(fan(), dark.shape)
    out = levels.match(dark, inside)
    grey = ((out + 1) * 127.5).round()
    assert grey[inside].mean() == pytest.approx(129.5, abs=3)  # the frames' in-fan mean (uniform 60..199)
    assert grey[inside].min() >= 58 and grey[inside].max() <= 200
    np.testing.assert_array_equal(out[~inside], dark[~inside])  # outside the fan nothing moves
    before, after = dark[inside], out[inside]
    order = np.argsort(before, kind="stable")
    assert np.all(np.diff(after[order]) >= 0)  # a monotone table: brighter stays brighter


def test_no_frames_is_a_clear_error(tmp_path) -> None:
    (tmp_path / "empty").mkdir()
    with pytest.raises(EusaugError, match="holds no images|No frames"):
        GreyLevels.of_frames(tmp_path / "empty")


def test_synth_match_grey_levels_brightens_raysim_and_records_it(tmp_path) -> None:
    from eusaug import sample_ct_path, sample_labels_path

    write_frames(tmp_path / "frames", low=120, high=250)
    ct = ["--ct", sample_ct_path(), "--labels", sample_labels_path(), "--landmark", "liver", "--translator", "raysim",
          "-n", 2, "--fov-size", "64x64", "--depth-mm", 60]
    plain = invoke("--quiet", "synth", *ct, "-o", tmp_path / "plain")
    matched = invoke("--quiet", "synth", *ct, "--match-grey-levels", tmp_path / "frames", "-o", tmp_path / "matched")
    assert plain.exit_code == 0 and matched.exit_code == 0, plain.output + matched.output
    settings = json.loads((tmp_path / "matched" / "synth.json").read_text())
    assert settings["grey_levels_matched_to"] == str(tmp_path / "frames")
    for k in range(2):
        a = read_grey_uint8(tmp_path / "plain" / f"seus_{k:04d}.png").astype(float)
        b = read_grey_uint8(tmp_path / "matched" / f"seus_{k:04d}.png").astype(float)
        shown = a > 0
        assert b[shown].mean() > a[shown].mean() + 20
        assert (b[a == 0] == 0).mean() > 0.5  # the black outside the fan stays black
    bad = invoke("synth", "--ct-dir", tmp_path, "--landmark", "liver", "--match-grey-levels", tmp_path / "frames",
                 "-o", tmp_path / "x")
    assert_clean_error(bad, "--match-grey-levels", "--ct")
