"""Reading labelled image sets: class folders, CSV lists, and the errors users meet."""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from eusaug.errors import EusaugError
from eusaug.mix.labelled_sets import (
    LabelledSetWarning,
    as_labelled_set,
    check_class_name,
    image_sizes,
    read_labelled_set,
)


def write_png(path: Path, value: int = 128, size: tuple[int, int] = (8, 6)) -> Path:
    """A tiny greyscale PNG of ``size`` = (width, height)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(np.full(size[::-1], value, dtype=np.uint8)).save(path)
    return path


def make_set(root: Path, counts: dict[str, int], size: tuple[int, int] = (8, 6)) -> Path:
    for name, n in counts.items():
        for i in range(n):
            write_png(root / name / f"img{i:02d}.png", value=i, size=size)
    return root


def test_folder_layout_gives_sorted_classes_and_files(tmp_path):
    root = make_set(tmp_path / "set", {"pancreas": 3, "aorta": 2})
    write_png(root / "aorta" / "nested" / "deep.png")
    write_png(root / "aorta" / ".hidden" / "skip.png")
    write_png(root / "aorta" / ".skip.png")
    (root / "aorta" / "notes.txt").write_text("not an image")
    (root / ".cache").mkdir()
    classes = read_labelled_set(root)
    assert list(classes) == ["aorta", "pancreas"]
    assert [p.relative_to(root / "aorta").as_posix() for p in classes["aorta"]] == [
        "img00.png", "img01.png", "nested/deep.png"]
    assert len(classes["pancreas"]) == 3


def test_headerless_csv_with_relative_paths(tmp_path):
    make_set(tmp_path / "imgs", {"a": 2, "b": 1})
    listing = tmp_path / "list.csv"
    listing.write_text("imgs/a/img00.png,a\nimgs/b/img00.png,b\n\nimgs/a/img01.png,a\n")
    classes = read_labelled_set(listing)
    assert {k: [p.name for p in v] for k, v in classes.items()} == {"a": ["img00.png", "img01.png"],
                                                                     "b": ["img00.png"]}
    assert all(p.is_absolute() or p.exists() for v in classes.values() for p in v)


def test_csv_header_columns_and_source_filter(tmp_path):
    make_set(tmp_path, {"x": 2})
    manifest = tmp_path / "manifest.csv"
    manifest.write_text("output_path,class,source,original_path\n"
                        "x/img00.png,x,real,/elsewhere/r.png\n"
                        "x/img01.png,x,synthetic,/elsewhere/s.png\n")
    assert [p.name for p in read_labelled_set(manifest)["x"]] == ["img00.png", "img01.png"]
    assert [p.name for p in read_labelled_set(manifest, source="synthetic")["x"]] == ["img01.png"]
    synth = tmp_path / "synth.csv"
    synth.write_text("landmark,path,seed\naorta,x/img00.png,3\n")
    assert list(read_labelled_set(synth)) == ["aorta"]
    with pytest.raises(EusaugError, match="no 'source' column"):
        read_labelled_set(synth, source="synthetic")


@pytest.mark.parametrize("name", ["aorta", "left kidney", "class_1-b", "Pancreas.head"])
def test_valid_class_names(name):
    assert check_class_name(name) == name


@pytest.mark.parametrize("name", ["", ".", "..", ".hidden", "a/b", "a\\b", "x:y", " pad", "pad ", "dot.",
                                  "tab\tname", "manifest.csv", "star*"])
def test_invalid_class_names(name):
    with pytest.raises(EusaugError, match="not a valid folder name|Empty class name"):
        check_class_name(name, "list.csv, line 3")


def test_invalid_class_name_in_csv_names_line(tmp_path):
    write_png(tmp_path / "a.png")
    listing = tmp_path / "list.csv"
    listing.write_text("path,class\na.png,ok\na.png,bad/name\n")
    with pytest.raises(EusaugError, match=r"'bad/name'.*line 3"):
        read_labelled_set(listing)


def test_missing_path(tmp_path):
    with pytest.raises(EusaugError, match="does not exist"):
        read_labelled_set(tmp_path / "nope")


def test_folder_without_class_folders(tmp_path):
    write_png(tmp_path / "loose.png")
    with pytest.raises(EusaugError, match=r"no class sub-folders \(1 images lie directly in it\)"):
        read_labelled_set(tmp_path)


def test_empty_class_folder(tmp_path):
    make_set(tmp_path, {"a": 1})
    (tmp_path / "b").mkdir()
    (tmp_path / "b" / "readme.txt").write_text("x")
    with pytest.raises(EusaugError, match=r"Class folder .*b holds no images"):
        read_labelled_set(tmp_path)


def test_unreadable_image_is_named(tmp_path):
    make_set(tmp_path, {"a": 1})
    bad = tmp_path / "a" / "broken.png"
    bad.write_bytes(b"not a png at all")
    with pytest.raises(EusaugError, match=r"broken\.png cannot be read"):
        read_labelled_set(tmp_path)
    # without checks the listing itself still works
    assert len(read_labelled_set(tmp_path, check_images=False)["a"]) == 2


def test_csv_errors(tmp_path):
    empty = tmp_path / "empty.csv"
    empty.write_text("\n")
    with pytest.raises(EusaugError, match="is empty"):
        read_labelled_set(empty)
    missing = tmp_path / "missing.csv"
    missing.write_text("path,class\nghost.png,a\n")
    with pytest.raises(EusaugError, match=r"line 2: image .*ghost\.png does not exist"):
        read_labelled_set(missing)
    no_class = tmp_path / "noclass.csv"
    no_class.write_text("path,subject\nx.png,c\n")
    with pytest.raises(EusaugError, match="needs a path column .* and a class column"):
        read_labelled_set(no_class)
    short = tmp_path / "short.csv"
    short.write_text("only-one-cell\n")
    with pytest.raises(EusaugError, match="line 1: expected path,class"):
        read_labelled_set(short)
    other = tmp_path / "set.txt"
    other.write_text("x")
    with pytest.raises(EusaugError, match="neither a folder nor a .csv"):
        read_labelled_set(other)


def test_mixed_sizes_are_allowed_but_reported(tmp_path):
    make_set(tmp_path, {"a": 2}, size=(8, 6))
    write_png(tmp_path / "b" / "big.png", size=(16, 12))
    with pytest.warns(LabelledSetWarning, match=r"2 sizes: 8x6 \(2\), 16x12 \(1\)"):
        classes = read_labelled_set(tmp_path)
    assert image_sizes(classes) == {(8, 6): 2, (16, 12): 1}


def test_one_size_is_not_reported(tmp_path):
    make_set(tmp_path, {"a": 2, "b": 2})
    with warnings.catch_warnings():
        warnings.simplefilter("error", LabelledSetWarning)
        read_labelled_set(tmp_path)


def test_in_memory_mapping_is_checked(tmp_path):
    root = make_set(tmp_path, {"a": 2})
    classes = as_labelled_set({"a": [root / "a" / "img01.png", str(root / "a" / "img00.png")]})
    assert classes["a"] == [root / "a" / "img01.png", root / "a" / "img00.png"]
    with pytest.raises(EusaugError, match="has no images"):
        as_labelled_set({"a": []})
    with pytest.raises(EusaugError, match="does not exist"):
        as_labelled_set({"a": [tmp_path / "ghost.png"]})
    with pytest.raises(EusaugError, match="not a valid folder name"):
        as_labelled_set({"../up": [root / "a" / "img00.png"]})
    with pytest.raises(EusaugError, match="no classes"):
        as_labelled_set({})
