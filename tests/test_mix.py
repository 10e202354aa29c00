"""Mixing synthetic images into a labelled set: exact counts, seeds, atomic output, streaming."""

from __future__ import annotations

import hashlib
import itertools
import json
import os
import shutil
import warnings
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from eusaug.errors import EusaugError
from eusaug.mix.labelled_sets import LabelledSetWarning
from eusaug.mix.mixing import (
    MANIFEST_COLUMNS,
    PAPER_RATIOS,
    mix_folders,
    mix_sweep,
    plan_mix,
    ratio_folder_name,
    read_mix_manifest,
    stream_mixed,
    summarise,
    synthetic_counts,
)

# (class size, ratio) -> (real kept, synthetic): round half up, as documented in eusaug.mix.mixing.
REPLACE = {
    (20, 0.0): (20, 0), (20, 0.25): (15, 5), (20, 0.5): (10, 10), (20, 0.75): (5, 15),
    (21, 0.0): (21, 0), (21, 0.25): (16, 5), (21, 0.5): (10, 11), (21, 0.75): (5, 16),
    (7, 0.0): (7, 0), (7, 0.25): (5, 2), (7, 0.5): (3, 4), (7, 0.75): (2, 5),
}
ADD = {
    (20, 0.0): (20, 0), (20, 0.25): (20, 7), (20, 0.5): (20, 20), (20, 0.75): (20, 60),
    (21, 0.0): (21, 0), (21, 0.25): (21, 7), (21, 0.5): (21, 21), (21, 0.75): (21, 63),
    (7, 0.0): (7, 0), (7, 0.25): (7, 2), (7, 0.5): (7, 7), (7, 0.75): (7, 21),
}
SIZES = {"a": 20, "b": 21, "c": 7}


def fake_set(prefix: str, sizes: dict[str, int]) -> dict[str, list[Path]]:
    """Paths that need not exist: plan_mix is pure."""
    return {name: [Path(f"/{prefix}/{name}/{i:03d}.png") for i in range(n)] for name, n in sizes.items()}


REAL = fake_set("real", SIZES)
SYN = fake_set("syn", {name: 70 for name in SIZES})


@pytest.mark.parametrize("mode, table", [("replace", REPLACE), ("add", ADD)])
def test_synthetic_counts_known_answers(mode, table):
    for (n, ratio), expected in table.items():
        assert synthetic_counts(n, ratio, mode) == expected, (n, ratio, mode)


@pytest.mark.parametrize("mode, table", [("replace", REPLACE), ("add", ADD)])
@pytest.mark.parametrize("ratio", PAPER_RATIOS)
def test_plan_has_exact_per_class_counts(mode, table, ratio):
    plan = plan_mix(REAL, SYN, ratio, mode, seed=0)
    for name, n in SIZES.items():
        selection = plan.classes[name]
        assert (len(selection.real), len(selection.synthetic)) == table[(n, ratio)]
        assert set(selection.real) <= set(REAL[name]) and len(set(selection.real)) == len(selection.real)
        assert set(selection.synthetic) <= set(SYN[name])
        assert len(set(selection.synthetic)) == len(selection.synthetic)
    assert len(plan) == sum(sum(table[(n, ratio)]) for n in SIZES.values())
    assert plan.notes == ()


def test_same_seed_same_selection_other_seed_different():
    first = plan_mix(REAL, SYN, 0.5, seed=3)
    again = plan_mix(REAL, SYN, 0.5, seed=3)
    other = plan_mix(REAL, SYN, 0.5, seed=4)
    assert first.classes == again.classes
    for name in SIZES:
        assert first.classes[name].real != other.classes[name].real
        assert first.classes[name].synthetic != other.classes[name].synthetic


def test_selection_is_nested_across_ratios():
    plans = [plan_mix(REAL, SYN, r, seed=1) for r in PAPER_RATIOS]
    for low, high in itertools.pairwise(plans):
        for name in SIZES:
            assert set(low.classes[name].synthetic) <= set(high.classes[name].synthetic)
            assert set(high.classes[name].real) <= set(low.classes[name].real)


def test_a_class_draw_does_not_depend_on_other_classes():
    alone = plan_mix({"b": REAL["b"]}, {"b": SYN["b"]}, 0.5, seed=9)
    together = plan_mix(REAL, SYN, 0.5, seed=9)
    assert alone.classes["b"] == together.classes["b"]


@pytest.mark.parametrize("ratio", [-0.1, 1.0, 1.5, float("nan"), "half"])
def test_ratio_outside_unit_interval(ratio):
    with pytest.raises(EusaugError, match="ratio"):
        plan_mix(REAL, SYN, ratio)


def test_unknown_mode():
    with pytest.raises(EusaugError, match="'mixin'"):
        plan_mix(REAL, SYN, 0.5, mode="mixin")  # type: ignore[arg-type]


def test_too_few_synthetic_gives_numbers():
    few = fake_set("syn", {"a": 10, "b": 30, "c": 3})
    with pytest.raises(EusaugError, match=r"'a' needs 15 but has 10; 'c' needs 5 but has 3"):
        plan_mix(REAL, few, 0.75)


def test_real_only_class_is_kept_real_with_a_note():
    syn = {k: v for k, v in SYN.items() if k != "c"}
    syn["extra"] = [Path("/syn/extra/0.png")]
    plan = plan_mix(REAL, syn, 0.5)
    assert (len(plan.classes["c"].real), len(plan.classes["c"].synthetic)) == (7, 0)
    assert "extra" not in plan.classes
    assert any("'c' has no synthetic images" in note for note in plan.notes)
    assert any("left out: extra" in note for note in plan.notes)
    with pytest.raises(EusaugError, match=r"real only: c; synthetic only: extra"):
        plan_mix(REAL, syn, 0.5, missing_class="error")
    assert plan_mix(REAL, syn, 0.0).classes["c"].real == tuple(REAL["c"])



def test_class_names_match_ignoring_case_and_the_same_files_are_drawn():
    shouting = {name.upper(): paths for name, paths in SYN.items()}
    assert plan_mix(REAL, shouting, 0.5, seed=4) == plan_mix(REAL, SYN, 0.5, seed=4)


def test_no_real_class_with_synthetic_images_is_an_error_naming_both_lists():
    other = {f"x{name}": paths for name, paths in SYN.items()}
    with pytest.raises(EusaugError, match=r"real: a, b, c; synthetic: xa, xb, xc"):
        plan_mix(REAL, other, 0.25)
    assert plan_mix(REAL, other, 0.0).classes["a"].real == tuple(REAL["a"])  # ratio 0 asks for no synthetic image

# ---------------------------------------------------------------------------------------
# Writing to disk


def write_png(path: Path, value: int, size: tuple[int, int] = (8, 6)) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(np.full(size[::-1], value, dtype=np.uint8)).save(path)


def make_set(root: Path, sizes: dict[str, int], base: int = 0) -> Path:
    for name, n in sizes.items():
        for i in range(n):
            write_png(root / name / f"{name}{i:02d}.png", (base + i) % 256)
    return root


def tree_hashes(*roots: Path) -> dict[str, str]:
    return {str(p): hashlib.sha256(p.read_bytes()).hexdigest()
            for root in roots for p in sorted(root.rglob("*")) if p.is_file()}


@pytest.fixture()
def sets(tmp_path):
    real = make_set(tmp_path / "REAL", {"a": 4, "b": 5})
    syn = make_set(tmp_path / "SYN", {"a": 6, "b": 6}, base=100)
    return real, syn


def test_mix_folders_writes_links_manifest_and_config(tmp_path, sets):
    real, syn = sets
    before = tree_hashes(real, syn)
    out = tmp_path / "OUT"
    rows = mix_folders(real, syn, 0.5, out, seed=2)
    assert tree_hashes(real, syn) == before
    assert sorted(p.name for p in out.iterdir()) == ["a", "b", "manifest.csv", "metadata.csv", "mix.json"]
    assert len(list((out / "a").iterdir())) == 4 and len(list((out / "b").iterdir())) == 5
    counts = {(c.class_name, c.real, c.synthetic) for c in summarise(rows, 0.5)}
    assert counts == {("a", 2, 2), ("b", 2, 3)}
    for row in rows:
        assert row.output_path.parent.parent == out
        assert row.output_path.is_symlink()
        assert row.output_path.resolve() == row.original_path.resolve()
        assert (row.source == "synthetic") == (syn in row.original_path.parents)
    assert read_mix_manifest(out / "manifest.csv") == rows
    header = (out / "manifest.csv").read_text().splitlines()[0]
    assert tuple(header.split(",")) == MANIFEST_COLUMNS
    config = json.loads((out / "mix.json").read_text())
    assert config["ratio"] == 0.5 and config["seed"] == 2 and config["mode"] == "replace"
    assert config["counts"]["b"] == {"real": 2, "synthetic": 3, "real_available": 5, "synthetic_available": 6}


def test_copy_mode_copies_bytes(tmp_path, sets):
    real, syn = sets
    rows = mix_folders(real, syn, 0.25, tmp_path / "OUT", link=False)
    for row in rows:
        assert not row.output_path.is_symlink()
        assert row.output_path.read_bytes() == row.original_path.read_bytes()


def test_same_seed_same_files(tmp_path, sets):
    real, syn = sets
    first = mix_folders(real, syn, 0.5, tmp_path / "one", seed=5)
    second = mix_folders(real, syn, 0.5, tmp_path / "two", seed=5)
    assert [(r.class_name, r.original_path) for r in first] == [(r.class_name, r.original_path) for r in second]


def test_existing_output_refused_without_force(tmp_path, sets):
    real, syn = sets
    out = tmp_path / "OUT"
    out.mkdir()
    (out / "keep.txt").write_text("precious")
    with pytest.raises(EusaugError, match="not empty: pass --force"):
        mix_folders(real, syn, 0.5, out)
    assert (out / "keep.txt").read_text() == "precious"
    mix_folders(real, syn, 0.5, out, force=True)
    assert not (out / "keep.txt").exists() and (out / "manifest.csv").exists()


def test_failed_run_leaves_no_partial_output(tmp_path, sets, monkeypatch):
    real, syn = sets
    before = tree_hashes(real, syn)
    calls = {"n": 0}

    def failing_copy(src, dst, *args, **kwargs):
        calls["n"] += 1
        if calls["n"] > 3:
            raise OSError(28, "No space left on device")
        return shutil.copyfile(src, dst)

    monkeypatch.setattr(shutil, "copy2", failing_copy)
    with pytest.raises(OSError, match="No space left"):
        mix_folders(real, syn, 0.5, tmp_path / "OUT", link=False)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["REAL", "SYN"]
    assert tree_hashes(real, syn) == before


def test_plan_error_writes_nothing(tmp_path, sets):
    real, syn = sets
    with pytest.raises(EusaugError, match="Too few synthetic"):
        mix_folders(real, syn, 0.75, tmp_path / "OUT", mode="add")
    assert not (tmp_path / "OUT").exists()


def test_output_inside_an_input_is_refused(tmp_path, sets):
    real, syn = sets
    before = tree_hashes(real, syn)
    with pytest.raises(EusaugError, match="inside the input folder"):
        mix_folders(real, syn, 0.5, real / "mixed")
    with pytest.raises(EusaugError, match="holds input image"):
        mix_folders(real, syn, 0.5, tmp_path, force=True)
    assert tree_hashes(real, syn) == before and not (real / "mixed").exists()


def test_real_only_class_warns(tmp_path, sets):
    real, syn = sets
    make_set(real, {"background": 3})
    with pytest.warns(LabelledSetWarning, match="'background' has no synthetic images"):
        rows = mix_folders(real, syn, 0.5, tmp_path / "OUT")
    assert {(c.class_name, c.real, c.synthetic) for c in summarise(rows, 0.5)} >= {("background", 3, 0)}


def test_sweep_writes_one_folder_per_ratio(tmp_path, sets):
    real, syn = sets
    out = tmp_path / "SWEEP"
    results = mix_sweep(real, syn, PAPER_RATIOS, out, seed=1)
    assert sorted(p.name for p in out.iterdir()) == ["ratio_0", "ratio_0.25", "ratio_0.5", "ratio_0.75"]
    for ratio, rows in results.items():
        folder = out / ratio_folder_name(ratio)
        assert read_mix_manifest(folder / "manifest.csv") == rows
        for name, n in (("a", 4), ("b", 5)):
            assert sum(r.class_name == name for r in rows) == n
            expected = synthetic_counts(n, ratio)[1]
            assert sum(r.class_name == name and r.source == "synthetic" for r in rows) == expected
            assert len(list((folder / name).iterdir())) == n


def test_sweep_fails_whole_when_one_ratio_cannot_be_served(tmp_path, sets):
    real, syn = sets
    with pytest.raises(EusaugError, match="ratio 0.75 \\(add\\)"):
        mix_sweep(real, syn, [0.25, 0.75], tmp_path / "SWEEP", mode="add")
    assert not (tmp_path / "SWEEP").exists()
    with pytest.raises(EusaugError, match="repeat"):
        mix_sweep(real, syn, [0.25, 0.25], tmp_path / "SWEEP")


def test_csv_sources_and_name_clashes(tmp_path):
    write_png(tmp_path / "x" / "frame.png", 1)
    write_png(tmp_path / "y" / "frame.png", 2)
    write_png(tmp_path / "s" / "frame.png", 3)
    real_csv = tmp_path / "real.csv"
    real_csv.write_text("x/frame.png,k\ny/frame.png,k\n")
    syn_csv = tmp_path / "syn.csv"
    syn_csv.write_text("s/frame.png,k\n")
    rows = mix_folders(real_csv, syn_csv, 0.5, tmp_path / "OUT")
    assert sorted(r.output_path.name for r in rows) == ["real_frame.png", "synthetic_frame.png"]
    rows = mix_folders(real_csv, syn_csv, 0.0, tmp_path / "OUT2")
    assert sorted(r.output_path.name for r in rows) == ["real_frame.png", "real_frame_1.png"]


# ---------------------------------------------------------------------------------------
# Streaming


def test_stream_mixed_yields_the_plan(tmp_path, sets):
    real, syn = sets
    items = list(stream_mixed(real, syn, 0.5, seed=4, image_size=(12, 10)))
    plan = plan_mix({"a": sorted((real / "a").iterdir()), "b": sorted((real / "b").iterdir())},
                    {"a": sorted((syn / "a").iterdir()), "b": sorted((syn / "b").iterdir())}, 0.5, seed=4)
    assert len(items) == len(plan) == 9
    assert sum(is_syn for _, _, is_syn in items) == 5
    assert sorted(label for _, label, _ in items) == [0] * 4 + [1] * 5
    for image, _, is_syn in items:
        assert image.shape == (12, 10) and image.dtype == np.float32
        assert -1.0 <= image.min() <= image.max() <= 1.0
        # synthetic frames were written with values >= 100, real ones < 100
        assert (image[0, 0] >= 100 / 127.5 - 1 - 1e-6) == is_syn
    again = list(stream_mixed(real, syn, 0.5, seed=4, image_size=(12, 10)))
    assert [(label, s) for _, label, s in items] == [(label, s) for _, label, s in again]
    assert all(np.array_equal(x[0], y[0]) for x, y in zip(items, again))


def test_stream_rejects_bad_image_size(sets):
    real, syn = sets
    with pytest.raises(EusaugError, match="image_size"):
        next(stream_mixed(real, syn, 0.5, image_size=(0, 4)))


def test_mixed_dataset_for_keras(sets):
    pytest.importorskip("tensorflow")
    from eusaug.mix.mixing import mixed_dataset

    real, syn = sets
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ds = mixed_dataset(real, syn, 0.5, seed=0, image_size=(16, 16), batch_size=4, with_source=True,
                           label_mode="categorical")
    assert ds.class_names == ["a", "b"]
    images, labels, sources = [], [], []
    for x, y, s in ds:
        images.append(x.numpy())
        labels.append(y.numpy())
        sources.append(s.numpy())
    images_arr = np.concatenate(images)
    labels_arr = np.concatenate(labels)
    assert images_arr.shape == (9, 16, 16, 1) and images_arr.dtype == np.float32
    assert labels_arr.shape == (9, 2) and labels_arr.sum(axis=0).tolist() == [4.0, 5.0]
    assert int(np.concatenate(sources).sum()) == 5
    fit_ds = mixed_dataset(real, syn, 0.5, image_size=(16, 16), batch_size=None)
    x, y = next(iter(fit_ds))
    assert x.shape == (16, 16, 1) and y.dtype.name == "int32"
    assert os.environ.get("TF_CPP_MIN_LOG_LEVEL") == "2"


def test_plan_reads_folders_like_mappings(sets):
    real, syn = sets
    as_dicts = plan_mix({n: sorted((real / n).iterdir()) for n in "ab"},
                        {n: sorted((syn / n).iterdir()) for n in "ab"}, 0.5, seed=7)
    assert plan_mix(real, syn, 0.5, seed=7) == as_dicts
