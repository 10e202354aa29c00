"""Grad-CAM on a small CNN trained here to find a bright square: the map must peak on it."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from eusaug.errors import EusaugError
from eusaug.evaluate.gradcam import (
    GridCell,
    find_last_conv_layer,
    grad_cam,
    gradcam_report,
    inside_share,
    overlay,
    save_grid,
    sector_mask,
)

SIZE, SQUARE = 32, 6


def _squares(n: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    images = rng.normal(-0.6, 0.15, (n, SIZE, SIZE)).astype(np.float32)
    labels = rng.integers(0, 2, n)
    corners = rng.integers(2, SIZE - SQUARE - 2, (n, 2))
    for i in np.nonzero(labels)[0]:
        r, c = corners[i]
        images[i, r:r + SQUARE, c:c + SQUARE] = 0.9
    return np.clip(images, -1, 1), labels, corners


@pytest.fixture(scope="module")
def square_finder():
    import keras

    rng = np.random.default_rng(0)
    images, labels, _ = _squares(400, rng)
    init = [keras.initializers.GlorotUniform(seed=s) for s in range(3)]
    inputs = keras.Input((SIZE, SIZE, 1))
    x = keras.layers.Conv2D(8, 3, padding="same", activation="relu", kernel_initializer=init[0], name="c1")(inputs)
    x = keras.layers.Conv2D(16, 3, padding="same", activation="relu", kernel_initializer=init[1], name="c2")(x)
    x = keras.layers.GlobalAveragePooling2D()(x)
    x = keras.layers.Dense(2, kernel_initializer=init[2])(x)
    model = keras.Model(inputs, keras.layers.Activation("softmax")(x))
    model.compile(keras.optimizers.Adam(1e-2), "sparse_categorical_crossentropy", metrics=["accuracy"])
    history = model.fit(images[..., None], labels, epochs=6, batch_size=32, verbose=0, shuffle=False)
    assert history.history["accuracy"][-1] > 0.95, history.history
    return model


def test_last_conv_layer_is_found(square_finder):
    assert find_last_conv_layer(square_finder) == "c2"


def test_map_peaks_on_the_square(square_finder):
    images, labels, corners = _squares(60, np.random.default_rng(1))
    with_square = np.nonzero(labels)[0]
    result = grad_cam(square_finder, images[with_square], class_index=1)
    assert result.maps.shape == (len(with_square), SIZE, SIZE)
    assert result.maps.min() >= 0.0 and result.maps.max() == pytest.approx(1.0)
    hits = 0
    for cam, (r, c) in zip(result.maps, corners[with_square]):
        peak_r, peak_c = np.unravel_index(cam.argmax(), cam.shape)
        hits += (r - 1 <= peak_r <= r + SQUARE) and (c - 1 <= peak_c <= c + SQUARE)
        # The square holds most of the map's mass, not just its peak.
        assert cam[r:r + SQUARE, c:c + SQUARE].mean() > 2 * cam.mean()
    assert hits == len(with_square)


def test_predicted_class_is_the_default_and_unknown_layer_is_an_error(square_finder):
    images, labels, _ = _squares(20, np.random.default_rng(2))
    result = grad_cam(square_finder, images)
    assert (result.class_indices == result.probabilities.argmax(axis=1)).all()
    assert (result.class_indices == labels).mean() > 0.9
    with pytest.raises(EusaugError, match="no layer 'nope'.*c1, c2"):
        grad_cam(square_finder, images, layer="nope")


def test_overlay_and_grid_png(square_finder, tmp_path):
    images, _, _ = _squares(4, np.random.default_rng(3))
    result = grad_cam(square_finder, images)
    blended = overlay(images[0], result.maps[0])
    assert blended.shape == (SIZE, SIZE, 3) and blended.dtype == np.uint8
    cells = [GridCell(images[i], result.maps[i], f"p={i}") for i in range(2)]
    path = save_grid([("square", cells), ("plain", [cells[0], None])], ["real", "synthetic"], tmp_path / "g.png")
    with Image.open(path) as png:
        assert png.size[0] > png.size[1] > 100


def _fan(rng: np.random.Generator, half_angle_deg: float = 20.0) -> tuple[np.ndarray, np.ndarray]:
    """A sector of speckle (apex above the top edge) on black, and its true mask."""
    rows, cols = np.mgrid[0:SIZE, 0:SIZE]
    angle = np.degrees(np.arctan2(cols - SIZE / 2, rows + 8))
    fan = (np.abs(angle) < half_angle_deg) & (np.hypot(cols - SIZE / 2, rows + 8) < SIZE + 6)
    image = np.where(fan, np.clip(rng.normal(-0.6, 0.15, (SIZE, SIZE)), -0.95, 1), -1.0).astype(np.float32)
    return image, fan


def test_sector_mask_is_the_fan_with_its_dark_inside_and_without_stray_specks():
    image, fan = _fan(np.random.default_rng(4))
    image[18:24, 13:19] = -1.0  # an anechoic lumen inside the sector
    image[1, 1] = 0.5  # a speck of text in the black corner
    mask = sector_mask(image)
    assert mask[18:24, 13:19].all() and not mask[1, 1]
    assert (mask & fan).sum() == fan.sum()  # the whole fan ...
    assert (mask & ~fan).sum() <= 0.1 * fan.sum()  # ... and little else (the hull's pixel rim)
    assert sector_mask(np.zeros((8, 8), np.float32)).all()  # no black surround: all sector


def test_inside_share_is_the_mass_on_the_mask():
    mask = np.zeros((4, 4), bool)
    mask[:2] = True
    cam = np.zeros((4, 4), np.float32)
    cam[0, 0], cam[3, 3] = 1.0, 3.0
    assert inside_share(cam, mask) == pytest.approx(0.25)
    assert np.isnan(inside_share(np.zeros((4, 4)), mask))
    with pytest.raises(EusaugError, match="differ in shape"):
        inside_share(cam, mask[:2])


def test_maps_outside_the_sector_are_flagged(square_finder, tmp_path):
    from eusaug.evaluate.classifier import save_classifier
    from eusaug.io.images import write_png
    from eusaug.io.tables import read_csv_rows

    rng = np.random.default_rng(5)
    sets = {"real": (1, 1), "synthetic": (14, 13)}  # the square's corner: in the black corner, or in the fan
    for what, (r, c) in sets.items():
        for k in range(4):
            plain, _ = _fan(rng)
            write_png(tmp_path / what / "plain" / f"p{k}.png", plain)
            square, fan = _fan(rng)
            square[r:r + SQUARE, c:c + SQUARE] = 0.9
            assert fan[r:r + SQUARE, c:c + SQUARE].any() == (what == "synthetic")
            write_png(tmp_path / what / "square" / f"s{k}.png", square)
    model_path = save_classifier(square_finder, tmp_path / "m.keras", {"classes": ["plain", "square"]})
    report = gradcam_report(model_path, tmp_path / "real", tmp_path / "out", tmp_path / "synthetic")
    rows = {(r["set"], r["class"]): r for r in read_csv_rows(tmp_path / "out" / "gradcam.csv")}
    assert float(rows["real", "square"]["outside_sector_share"]) > 0.5
    assert rows["real", "square"]["mostly_outside_sector"] == "1"
    assert float(rows["synthetic", "square"]["outside_sector_share"]) < 0.5
    assert rows["synthetic", "square"]["mostly_outside_sector"] == "0"
    assert any("outside the imaging sector" in note for note in report.notes)
