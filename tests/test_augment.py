"""The albumentations transforms: shapes, dtypes, seeding, serialisation and known answers."""

from __future__ import annotations

import json
import math
import pickle
import textwrap
from pathlib import Path

import albumentations as A
import numpy as np
import pytest
from PIL import Image

from eusaug.errors import EusaugError
from eusaug.geometry.field_of_view import FieldOfView
from eusaug.mix.augment import DepthGain, SectorMask, SpeckleNoise, SyntheticSwap, TranslateCT
from eusaug.plugin.interfaces import Translator
from eusaug.plugin.registry import Registry

BANK_VALUES = {"aorta": (200, 210, 220), "liver": (40, 50)}


@pytest.fixture(scope="module")
def bank(tmp_path_factory) -> Path:
    """Class folders whose images are constant: the value tells which file was drawn."""
    root = tmp_path_factory.mktemp("bank")
    for name, values in BANK_VALUES.items():
        (root / name).mkdir()
        for value in values:
            Image.fromarray(np.full((30, 40), value, dtype=np.uint8)).save(root / name / f"{value}.png")
    return root


class WindowTranslator(Translator):
    """Windowed HU plus a little seeded noise; labels > 0 become white."""

    name = "window-test"
    description = "test translator"

    def __init__(self, noise: float = 0.01) -> None:
        self.noise = noise

    def translate(self, planes, rng):
        out = planes.windowed() + rng.normal(0.0, self.noise, planes.hu.shape).astype(np.float32)
        return np.where(planes.labels > 0, 1.0, np.clip(out, -1, 1)).astype(np.float32)


class NeedsModel(Translator):
    name = "needs-model-test"
    needs_model = True

    def translate(self, planes, rng):
        return planes.windowed()


@pytest.fixture(scope="module")
def registry() -> Registry:
    reg = Registry()
    reg.add("translator", WindowTranslator)
    reg.add("translator", NeedsModel)
    return reg


def image_of(kind: str, rng: np.random.Generator) -> np.ndarray:
    shape = {"grey": (48, 64), "grey1": (48, 64, 1), "rgb": (48, 64, 3)}[kind.split("-")[0]]
    data = rng.random(shape)
    if kind.endswith("uint8"):
        return (data * 255).astype(np.uint8)
    return data.astype(np.float32)


def transforms(bank: Path, registry: Registry) -> dict[str, A.BasicTransform]:
    return {
        "swap": SyntheticSwap(bank, p=0.5),
        "swap-crop": SyntheticSwap(bank, fit="crop", p=0.5),
        "translate": TranslateCT("window-test", registry=registry, translator_options={"noise": 0.05}),
        "sector": SectorMask(FieldOfView(opening_deg=70.0), fill=0.0),
        "speckle": SpeckleNoise((0.3, 0.8), grain_px=2.0, p=1.0),
        "gain": DepthGain((-9.0, 9.0), knots=3, p=1.0),
        "gain-fov": DepthGain((-9.0, 9.0), knots=3, fov=FieldOfView(), p=1.0),
    }


NAMES = ["swap", "swap-crop", "translate", "sector", "speckle", "gain", "gain-fov"]
KINDS = ["grey-uint8", "grey1-uint8", "rgb-uint8", "grey-float32", "grey1-float32", "rgb-float32"]


def call(pipeline: A.Compose, image: np.ndarray) -> dict:
    return pipeline(image=image, label="aorta", is_synthetic=False)


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("name", NAMES)
def test_shape_and_dtype_preserved_in_compose(name, kind, bank, registry):
    image = image_of(kind, np.random.default_rng(0))
    pipeline = A.Compose([transforms(bank, registry)[name]], seed=11)
    for _ in range(3):
        out = call(pipeline, image)["image"]
        assert out.shape == image.shape and out.dtype == image.dtype
        if out.dtype == np.float32:
            assert 0.0 <= out.min() and out.max() <= 1.0


@pytest.mark.parametrize("name", NAMES)
def test_seeded_compose_is_reproducible(name, bank, registry):
    image = image_of("grey-uint8", np.random.default_rng(1))

    def run(seed):
        pipeline = A.Compose([transforms(bank, registry)[name], A.HorizontalFlip(p=0.5)], seed=seed)
        return [call(pipeline, image)["image"] for _ in range(6)]

    first, again, other = run(5), run(5), run(6)
    assert all(np.array_equal(a, b) for a, b in zip(first, again))
    if name != "sector":  # the sector mask draws nothing; the flip alone may coincide
        assert not all(np.array_equal(a, b) for a, b in zip(first, other))


@pytest.mark.parametrize("name", NAMES)
def test_to_dict_from_dict_round_trip(name, bank, registry, monkeypatch, tmp_path):
    if name == "translate":
        install_entry_point_translator(monkeypatch, tmp_path)
        transform = TranslateCT("entry-point-test", translator_options={"noise": 0.05})
    else:
        transform = transforms(bank, registry)[name]
    pipeline = A.Compose([transform], seed=3)
    data = json.loads(json.dumps(A.to_dict(pipeline)))
    rebuilt = A.from_dict(data)
    assert type(rebuilt.transforms[0]) is type(transform)
    assert json.loads(json.dumps(A.to_dict(rebuilt))) == data
    rebuilt.set_random_seed(3)
    image = image_of("grey-uint8", np.random.default_rng(2))
    for _ in range(3):
        assert np.array_equal(call(pipeline, image)["image"], call(rebuilt, image)["image"])


def install_entry_point_translator(monkeypatch: pytest.MonkeyPatch, root: Path) -> None:
    """A translator plugin installed the way third-party ones are: a dist with an entry point."""
    (root / "eusaug_entry_point_test.py").write_text(textwrap.dedent("""
        import numpy as np
        from eusaug import Translator, hookimpl

        class EntryPointTranslator(Translator):
            name = "entry-point-test"
            description = "windowed plus noise"

            def __init__(self, noise=0.0):
                self.noise = noise

            def translate(self, planes, rng):
                noise = rng.normal(0.0, self.noise, planes.hu.shape).astype(np.float32)
                return np.clip(planes.windowed() + noise, -1, 1)

        @hookimpl
        def eusaug_translators():
            return [EntryPointTranslator]
    """))
    dist = root / "eusaug_entry_point_test-0.1.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: eusaug-entry-point-test\nVersion: 0.1\n")
    (dist / "entry_points.txt").write_text("[eusaug]\nentry-point-test = eusaug_entry_point_test\n")
    monkeypatch.syspath_prepend(str(root))


# ---------------------------------------------------------------------------------------
# SyntheticSwap


def test_swap_at_half_swaps_about_half_of_1000_draws(bank):
    pipeline = A.Compose([SyntheticSwap(bank, p=0.5)], seed=0)
    image = np.full((30, 40), 7, dtype=np.uint8)
    swapped = 0
    drawn = set()
    for _ in range(1000):
        out = pipeline(image=image, label="aorta", is_synthetic=False)
        value = int(out["image"][0, 0])
        assert out["is_synthetic"] == (value != 7)
        if out["is_synthetic"]:
            swapped += 1
            drawn.add(value)
            assert np.all(out["image"] == value)
    # Binomial(1000, 0.5): sd 15.8, so +-60 is nearly 4 sd
    assert 440 <= swapped <= 560
    assert drawn == set(BANK_VALUES["aorta"])


def test_swap_keeps_class_resizes_and_reports_path(bank):
    swap = SyntheticSwap(bank, p=1.0)
    pipeline = A.Compose([swap], seed=1)
    out = pipeline(image=np.zeros((15, 20, 3), dtype=np.float32), label=1)  # 1 -> "liver"
    assert out["image"].shape == (15, 20, 3)
    assert round(float(out["image"][0, 0, 0]) * 255) in BANK_VALUES["liver"]
    assert Path(swap.get_applied_params()["synthetic_path"]).parent.name == "liver"


def test_swap_label_errors_and_missing_class(bank):
    pipeline = A.Compose([SyntheticSwap(bank, p=1.0)])
    with pytest.raises(EusaugError, match="no class 'spleen'.*missing_class='keep'"):
        pipeline(image=np.zeros((8, 8), np.uint8), label="spleen")
    with pytest.raises(EusaugError, match="label 5 is outside 0..1"):
        pipeline(image=np.zeros((8, 8), np.uint8), label=5)
    keep = A.Compose([SyntheticSwap(bank, class_names=["background", "aorta"], missing_class="keep", p=1.0)])
    out = keep(image=np.full((8, 8), 3, np.uint8), label=0, is_synthetic=False)
    assert np.all(out["image"] == 3) and out["is_synthetic"] is False
    out = keep(image=np.full((8, 8), 3, np.uint8), label=1, is_synthetic=False)
    assert out["is_synthetic"] is True and int(out["image"][4, 4]) in BANK_VALUES["aorta"]  # centre: letterboxed


def test_swap_bank_from_mix_manifest_uses_synthetic_rows(tmp_path, bank):
    from eusaug.mix.mixing import mix_folders

    real = tmp_path / "real"
    for name in BANK_VALUES:
        (real / name).mkdir(parents=True)
        Image.fromarray(np.full((30, 40), 1, dtype=np.uint8)).save(real / name / "r.png")
        Image.fromarray(np.full((30, 40), 2, dtype=np.uint8)).save(real / name / "s.png")
    mix_folders(real, bank, 0.5, tmp_path / "mixed")
    swap = SyntheticSwap(tmp_path / "mixed" / "manifest.csv", p=1.0)
    assert all(p.name.startswith("synthetic_") for paths in swap._images.values() for p in paths)


@pytest.fixture(scope="module")
def square_bank(tmp_path_factory) -> Path:
    """One 64 x 64 sEUS-like image per class: a dark top band (16 rows of 50) over 200."""
    root = tmp_path_factory.mktemp("square_bank")
    for name in ("aorta", "liver"):
        (root / name).mkdir()
        square = np.full((64, 64), 200, dtype=np.uint8)
        square[:16] = 50
        Image.fromarray(square).save(root / name / "square.png")
    return root


def lit_box(image: np.ndarray) -> tuple[int, int, int, int]:
    """(top, bottom, left, right) bounds, exclusive at the end, of the non-black pixels."""
    rows = np.flatnonzero(image.reshape(image.shape[0], image.shape[1], -1).max(axis=2).max(axis=1) > 0)
    cols = np.flatnonzero(image.reshape(image.shape[0], image.shape[1], -1).max(axis=2).max(axis=0) > 0)
    return int(rows[0]), int(rows[-1]) + 1, int(cols[0]), int(cols[-1]) + 1


@pytest.mark.parametrize("kind", ["uint8", "float32-rgb"])
def test_swap_letterboxes_a_square_into_a_480x640_frame(square_bank, kind):
    frame = np.full((480, 640), 90, dtype=np.uint8) if kind == "uint8" else np.full((480, 640, 3), 0.3, np.float32)
    out = A.Compose([SyntheticSwap(square_bank, p=1.0)], seed=0)(image=frame, label="aorta")["image"]
    assert out.shape == frame.shape and out.dtype == frame.dtype
    top, bottom, left, right = lit_box(out)
    height, width = bottom - top, right - left
    assert (top, bottom) == (0, 480)
    assert abs(width - height) <= 1  # the square stays square ...
    assert abs(left - (640 - right)) <= 1  # ... and centred, black bars either side
    assert not out[:, : left].any() and not out[:, right:].any()
    # The dark band is a quarter of the square's height, as in the file: not stretched either way.
    grey = out if kind == "uint8" else np.rint(out[..., 0] * 255).astype(np.uint8)
    band_rows = int(np.sum(grey[:, 320] < 125))
    assert abs(band_rows - 480 / 4) <= 2


def test_swap_crop_fills_the_frame_and_stretch_distorts(square_bank):
    frame = np.zeros((480, 640), dtype=np.uint8)
    cropped = A.Compose([SyntheticSwap(square_bank, fit="crop", p=1.0)], seed=0)(image=frame, label=0)["image"]
    assert lit_box(cropped) == (0, 480, 0, 640)
    # Scaled by 640 / 64 = 10 to cover the width, 640 rows cropped to the middle 480: the
    # 160-row dark band loses its top 80 rows.
    assert abs(int(np.sum(cropped[:, 320] < 125)) - 80) <= 2
    stretched = A.Compose([SyntheticSwap(square_bank, fit="stretch", p=1.0)], seed=0)(image=frame, label=0)["image"]
    assert lit_box(stretched) == (0, 480, 0, 640)
    assert abs(int(np.sum(stretched[:, 320] < 125)) - 120) <= 2


def test_swap_batch_is_swapped_image_by_image_like_single_calls(bank):
    labels = ["aorta", "liver"] * 25
    batch = np.stack([np.full((30, 40), 100 + i, dtype=np.uint8) for i in range(50)])  # no bank value
    out = A.Compose([SyntheticSwap(bank, p=0.5)], seed=4)(images=batch, label=labels, is_synthetic=[False] * 50)
    assert isinstance(out["images"], np.ndarray) and out["images"].shape == batch.shape
    single = A.Compose([SyntheticSwap(bank, p=0.5)], seed=4)
    for i, (image, label) in enumerate(zip(out["images"], labels)):
        alone = single(image=batch[i], label=label, is_synthetic=False)
        assert np.array_equal(image, alone["image"]) and out["is_synthetic"][i] == alone["is_synthetic"]
        value = int(image[0, 0])
        assert out["is_synthetic"][i] == (value != 100 + i)
        assert value == 100 + i or value in BANK_VALUES[label]  # swapped within its own class
    assert 10 <= sum(out["is_synthetic"]) <= 40  # Binomial(50, 0.5), +-4.2 sd
    assert len({bool(f) for f in out["is_synthetic"]}) == 2  # each image drew on its own


def test_swap_batch_list_single_label_and_errors(bank):
    pipeline = A.Compose([SyntheticSwap(bank, p=1.0)], seed=0)
    out = pipeline(images=[np.zeros((15, 20), np.uint8)] * 2, label="liver")  # one label for all
    assert len(out["images"]) == 2 and all(int(image[7, 10]) in BANK_VALUES["liver"] for image in out["images"])
    # Outside Compose a list may mix sizes and kinds; it comes back a list.
    out = SyntheticSwap(bank, p=1.0)(images=[np.zeros((15, 20), np.uint8), np.zeros((9, 12, 3), np.float32)],
                                     label=[0, 1])
    assert isinstance(out["images"], list) and out["images"][1].shape == (9, 12, 3)
    assert round(float(out["images"][1][4, 6, 0]) * 255) in BANK_VALUES["liver"]
    with pytest.raises(EusaugError, match="2 values of label for 3 images"):
        pipeline(images=np.zeros((3, 8, 8), np.uint8), label=["aorta", "liver"])
    with pytest.raises(EusaugError, match="needs label="):
        pipeline(images=np.zeros((3, 8, 8), np.uint8))


# ---------------------------------------------------------------------------------------
# TranslateCT


def test_translate_known_answer_and_labels(registry):
    hu = np.linspace(-160.0, 240.0, 32 * 40, dtype=np.float32).reshape(32, 40)
    fov = FieldOfView(kind="rectangle", width_mm=40.0)
    transform = TranslateCT("window-test", registry=registry, translator_options={"noise": 0.0}, fov=fov)
    pipeline = A.Compose([transform], seed=0)
    out = pipeline(image=hu)["image"]
    expected = (np.clip((hu + 160.0) / 400.0 * 2.0 - 1.0, -1, 1) + 1.0) / 2.0
    inside = FieldOfView.from_dict({**fov.to_dict(), "height_px": 32, "width_px": 40}).mask()
    np.testing.assert_allclose(out[inside], expected[inside], atol=1e-5)
    labels = np.zeros((32, 40), dtype=np.uint8)
    labels[10:20, 10:20] = 52
    result = pipeline(image=hu, mask=labels)
    assert np.all(result["image"][10:20, 10:20] == 1.0)
    assert result["mask"] is labels or np.array_equal(result["mask"], labels)
    display = (np.clip((hu + 160.0) / 400.0, 0, 1) * 255).round().astype(np.uint8)
    out8 = pipeline(image=display)["image"]
    assert out8.dtype == np.uint8
    assert np.abs(out8[inside].astype(int) - np.round(expected[inside] * 255)).max() <= 2


def test_translate_picklable_and_reloads(registry):
    transform = TranslateCT("window-test", registry=registry)
    transform.loaded_translator()
    clone = pickle.loads(pickle.dumps(transform))
    assert clone._loaded is None and isinstance(clone.loaded_translator(), WindowTranslator)


def test_translate_errors(registry, tmp_path):
    with pytest.raises(EusaugError, match="No translator plugin named 'nope'.*window-test"):
        TranslateCT("nope", registry=registry)
    with pytest.raises(EusaugError, match="needs a trained model"):
        TranslateCT("needs-model-test", registry=registry)
    with pytest.raises(EusaugError, match="does not exist"):
        TranslateCT("needs-model-test", model_path=tmp_path / "missing", registry=registry)
    with pytest.raises(EusaugError, match="hu_window width"):
        TranslateCT("window-test", hu_window=(40, 0), registry=registry)
    assert TranslateCT("needs-model-test", model_path=tmp_path, registry=registry).model_path == str(tmp_path)


# ---------------------------------------------------------------------------------------
# Ultrasound transforms: known answers


def test_sector_mask_blanks_outside_the_fov():
    fov = FieldOfView(opening_deg=80.0, depth_mm=40.0)
    image = np.full((60, 90, 3), 200, dtype=np.uint8)
    mask = np.full((60, 90), 7, dtype=np.uint8)
    out = A.Compose([SectorMask(fov, fill=10, fill_mask=0)])(image=image, mask=mask)
    inside = FieldOfView.from_dict({**fov.to_dict(), "height_px": 60, "width_px": 90}).mask()
    assert 0.2 < inside.mean() < 0.9
    assert np.all(out["image"][inside] == 200) and np.all(out["image"][~inside] == 10)
    assert np.all(out["mask"][inside] == 7) and np.all(out["mask"][~inside] == 0)


def test_speckle_statistics_match_rayleigh():
    image = np.full((256, 256), 0.1, dtype=np.float32)
    transform = SpeckleNoise(strength_range=(1.0, 1.0), p=1.0)
    out = A.Compose([transform], seed=2)(image=image)["image"] / 0.1
    assert abs(out.mean() - 1.0) < 0.01
    assert abs(out.std() - math.sqrt(4 / math.pi - 1)) < 0.01  # Rayleigh std / mean = 0.5227
    half = A.Compose([SpeckleNoise(strength_range=(0.5, 0.5), p=1.0)], seed=2)(image=image)["image"] / 0.1
    assert abs(half.std() - 0.5 * math.sqrt(4 / math.pi - 1)) < 0.01
    coarse = A.Compose([SpeckleNoise((1.0, 1.0), grain_px=4.0, p=1.0)], seed=2)(image=image)["image"]
    # neighbours are correlated when the grain is coarser than a pixel
    assert np.corrcoef(coarse[:, :-1].ravel(), coarse[:, 1:].ravel())[0, 1] > 0.5
    assert abs(np.corrcoef(out[:, :-1].ravel(), out[:, 1:].ravel())[0, 1]) < 0.05


def test_depth_gain_follows_its_knots():
    image = np.full((40, 30), 0.25, dtype=np.float32)
    flat = A.Compose([DepthGain((6.0, 6.0), knots=2, p=1.0)])(image=image)["image"]
    np.testing.assert_allclose(flat, 0.25 * 10 ** (6 / 20), rtol=1e-5)
    transform = DepthGain((-12.0, 12.0), knots=3, p=1.0)
    out = A.Compose([transform], seed=4)(image=image)["image"]
    gains_db = transform.get_applied_params()["gains_db"]
    rows = (np.arange(40) + 0.5) / 40
    expected = 0.25 * 10 ** (np.interp(rows, [0.0, 0.5, 1.0], gains_db) / 20)
    np.testing.assert_allclose(out[:, 0], np.clip(expected, 0, 1), rtol=1e-5)
    assert np.all(out == out[:, :1])  # constant across each row


def test_depth_gain_with_fov_follows_radial_depth():
    fov = FieldOfView(opening_deg=90.0, probe_radius_mm=10.0, depth_mm=50.0)
    transform = DepthGain((-12.0, 12.0), knots=4, fov=fov, p=1.0)
    params = transform.get_params_dependent_on_data({"shape": (64, 64)}, {})
    grid = FieldOfView.from_dict({**fov.to_dict(), "height_px": 64, "width_px": 64})
    u, v = grid.pixel_coordinates_mm()
    radial = np.clip((np.hypot(u, v + 10.0) - 10.0) / 50.0, 0, 1)
    np.testing.assert_allclose(transform.relative_depth(64, 64), radial, atol=1e-6)
    expected = 10 ** (np.interp(radial, np.linspace(0, 1, 4), params["gains_db"]) / 20)
    np.testing.assert_allclose(params["gain"], expected, rtol=1e-5)
    # a sector's gain follows arcs: the same depth at the centre line and off to the side
    row_off = np.argmin(np.abs(radial[:, 10] - radial[20, 32]))
    assert abs(radial[row_off, 10] - radial[20, 32]) < 0.02 and row_off < 20


@pytest.mark.parametrize(
    "build, needle",
    [
        (lambda: SpeckleNoise(strength_range=(0.6, 0.2)), "strength_range"),
        (lambda: SpeckleNoise(strength_range=(0.2, 1.5)), "strength_range"),
        (lambda: SpeckleNoise(grain_px=0), "grain_px=0"),
        (lambda: SpeckleNoise(p=1.5), "p=1.5"),
        (lambda: DepthGain(knots=0), "knots=0"),
        (lambda: DepthGain(gain_db_range=(-50, 0)), "gain_db_range"),
        (lambda: DepthGain(gain_db_range="loud"), "gain_db_range"),
        (lambda: SectorMask(fov={"opening_deg": 200}), "opening_deg=200"),
        (lambda: SectorMask(fov={"aperture": 2}), "aperture"),
        (lambda: SectorMask(fill="black"), "fill='black'"),
        (lambda: SyntheticSwap("/no/such/bank"), "/no/such/bank"),
        (lambda: SyntheticSwap("/no/such/bank", missing_class="skip"), "missing_class='skip'"),
        (lambda: SyntheticSwap("/no/such/bank", fit="squash"), "fit='squash'"),
    ],
)
def test_bad_arguments_raise_in_init(build, needle):
    with pytest.raises(EusaugError) as info:
        build()
    assert needle in str(info.value)


def test_wrong_image_type_is_a_clear_error():
    with pytest.raises(EusaugError, match="uint8 or float32"):
        A.Compose([SpeckleNoise(p=1.0)])(image=np.zeros((8, 8), dtype=np.int32))
