"""The VGG-16 ratio sweep end to end on a tiny phantom set, and its parts by hand."""

from __future__ import annotations

import csv
import json
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from eusaug.errors import EusaugError
from eusaug.evaluate.classifier import (
    CLASSIFIER_PRESETS,
    PAPER_CLASS_WEIGHTS,
    ClassifierConfig,
    build_classifier,
    classification_metrics,
    derived_class_weights,
    load_classifier,
    parse_class_weights,
    ratio_sweep,
    resolve_class_weights,
    split_by_subject,
    subject_of,
)
from eusaug.evaluate.weights import resolve_weights
from eusaug.io.images import write_png

CENTRES = {"aorta": (12, 12), "liver": (12, 36), "pancreas": (36, 24), "background": None}


def _phantom(class_name: str, rng: np.random.Generator, size: int = 48) -> np.ndarray:
    image = rng.normal(-0.5, 0.2, (size, size))
    centre = CENTRES[class_name]
    if centre is not None:
        yy, xx = np.mgrid[:size, :size]
        image[(yy - centre[0]) ** 2 + (xx - centre[1]) ** 2 < 49] = 0.8
    return np.clip(image, -1, 1).astype(np.float32)


@pytest.fixture(scope="module")
def labelled_sets(tmp_path_factory) -> tuple[Path, Path]:
    """Real: 4 subjects (a-d, first letter of the file name) x 3 images per class; synthetic: 10 per class."""
    root = tmp_path_factory.mktemp("sets")
    rng = np.random.default_rng(0)
    for class_name in CENTRES:
        for subject in "abcd":
            for k in range(3):
                write_png(root / "real" / class_name / f"{subject}{k}.png", _phantom(class_name, rng))
        if class_name != "background":
            for k in range(10):
                write_png(root / "synthetic" / class_name / f"s{k}.png", _phantom(class_name, rng))
    return root / "real", root / "synthetic"


def _csv(path: Path) -> list[dict[str, str]]:
    with open(path, newline="") as handle:
        return list(csv.DictReader(handle))


def test_tiny_sweep_writes_table2_predictions_and_models(labelled_sets, tmp_path):
    real, synthetic = labelled_sets
    # Fast sizes, the paper's class weights: the sweep must train with the stated values.
    config = replace(CLASSIFIER_PRESETS["fast"], input_size_px=32, epochs=2, batch_size=8, test_subjects=("d",),
                     class_weights=CLASSIFIER_PRESETS["paper"].class_weights)
    result = ratio_sweep(real, synthetic, tmp_path, config)

    table = _csv(tmp_path / "table2.csv")
    assert [float(r["ratio"]) for r in table] == [0.0, 0.25, 0.5, 0.75]
    assert list(table[0]) == ["ratio", "precision", "recall", "f1_aorta", "f1_liver", "f1_pancreas", "accuracy",
                              "n_train", "n_synthetic", "n_test"]
    synthetic_counts = [int(r["n_synthetic"]) for r in table]
    assert synthetic_counts[0] == 0 and synthetic_counts == sorted(synthetic_counts) and synthetic_counts[-1] > 0
    assert {int(r["n_train"]) for r in table} == {36}  # 'replace' keeps class sizes: 3 subjects x 3 x 4 classes

    predictions = _csv(tmp_path / "predictions.csv")
    assert len(predictions) == 4 * 9  # 4 models x (subject d: 3 images x 3 classes; no background)
    assert {p["subject"] for p in predictions} == {"d"} and {p["true"] for p in predictions} == {"aorta", "liver",
                                                                                                 "pancreas"}
    for row in table:
        mine = [p for p in predictions if float(p["ratio"]) == float(row["ratio"])]
        assert float(row["accuracy"]) == pytest.approx(np.mean([int(p["correct"]) for p in mine]))
        probabilities = [float(mine[0][f"p_{c}"]) for c in ("aorta", "background", "liver", "pancreas")]
        assert sum(probabilities) == pytest.approx(1.0, abs=1e-4)

    split = _csv(tmp_path / "split.csv")
    assert {s["subject"] for s in split if s["set"] == "train"} == {"a", "b", "c"}
    assert not any(s["class"] == "background" for s in split if s["set"] == "test")
    history = _csv(tmp_path / "history.csv")
    assert len(history) == 4 * 2 and all(np.isfinite(float(h["loss"])) for h in history)

    model, metadata = load_classifier(tmp_path / "models" / "ratio_0.5.keras")
    assert metadata["classes"] == ["aorta", "background", "liver", "pancreas"]
    assert metadata["class_weights"] == {"aorta": 4.23, "background": 4.40, "liver": 4.48, "pancreas": 2.78}
    assert model.outputs[0].shape[-1] == 4 and model.inputs[0].shape[1:] == (32, 32, 1)
    resolved = json.loads((tmp_path / "classifier.json").read_text())
    assert resolved["test_subjects"] == ["d"] and resolved["weights_resolved"].startswith("random")
    assert resolved["class_weights"] == dict(PAPER_CLASS_WEIGHTS)
    assert any("RANDOM" in n for n in result.notes)
    with pytest.raises(EusaugError, match="already exist"):
        ratio_sweep(real, synthetic, tmp_path, config)


def test_metrics_by_hand():
    true = ["aorta", "aorta", "liver", "liver", "pancreas", "pancreas"]
    pred = ["aorta", "liver", "liver", "background", "pancreas", "aorta"]
    m = classification_metrics(true, pred, ["aorta", "liver", "pancreas"])
    # aorta: P 1/2 R 1/2; liver: P 1/2 R 1/2; pancreas: P 1 R 1/2 (background counts as a miss)
    assert m["precision"] == pytest.approx((0.5 + 0.5 + 1.0) / 3)
    assert m["recall"] == pytest.approx(0.5)
    assert m["f1_aorta"] == pytest.approx(0.5) and m["f1_pancreas"] == pytest.approx(2 / 3)
    assert m["accuracy"] == pytest.approx(3 / 6)


def test_class_weights_derived_and_parsed():
    weights = derived_class_weights({"aorta": 10, "background": 30, "liver": 20})
    assert weights == pytest.approx({"aorta": 2.0, "background": 2 / 3, "liver": 1.0})
    assert parse_class_weights("aorta=4.23, liver=4.48") == {"aorta": 4.23, "liver": 4.48}
    with pytest.raises(EusaugError, match="NAME=NUMBER"):
        parse_class_weights("aorta:4")


def test_split_keeps_subjects_apart_and_background_out_of_test(tmp_path):
    real = {c: [tmp_path / f"{s}{k}_{c}.png" for s in "cdefijk" for k in range(2)] for c in ("aorta", "background")}
    split = split_by_subject(real, ClassifierConfig(test_fraction=0.3, seed=3))
    assert len(split.test_subjects) == 2  # round(0.3 * 7)
    train_subjects = {subject_of(p, r"^([A-Za-z]+)") for paths in split.train.values() for p in paths}
    assert train_subjects.isdisjoint(split.test_subjects)
    assert set(split.test) == {"aorta"}
    no_subjects = {"aorta": [tmp_path / f"{k}.png" for k in range(10)]}
    random_split = split_by_subject(no_subjects, ClassifierConfig(test_fraction=0.2))
    assert len(random_split.test["aorta"]) == 2 and "random image split" in random_split.notes[0]
    with pytest.raises(EusaugError, match="Test subject.*zz.*not found"):
        split_by_subject(real, ClassifierConfig(test_subjects=("zz",)))


#: Training images per class in the paper (section 2.4 and Table 1).
PAPER_COUNTS = {"aorta": 3194, "background": 1605, "liver": 2214, "pancreas": 10491}


def test_paper_preset_uses_the_stated_class_weights_not_the_derived_ones():
    paper = CLASSIFIER_PRESETS["paper"]
    assert resolve_class_weights(paper.class_weights, PAPER_COUNTS) == {
        "aorta": 4.23, "background": 4.40, "liver": 4.48, "pancreas": 2.78}
    balanced = resolve_class_weights("balanced", PAPER_COUNTS)  # what the counts alone would give
    assert balanced == pytest.approx({"aorta": 1.370, "background": 2.727, "liver": 1.977, "pancreas": 0.417},
                                     abs=1e-3)
    assert resolve_class_weights(None, PAPER_COUNTS) == balanced
    assert CLASSIFIER_PRESETS["fast"].class_weights == "balanced" and ClassifierConfig().class_weights == "balanced"
    # A subset of the paper's classes keeps their stated values; another class is an error naming the fix.
    assert resolve_class_weights(paper.class_weights, {"aorta": 5, "pancreas": 9}) == {"aorta": 4.23, "pancreas": 2.78}
    with pytest.raises(EusaugError, match="lack stomach.*the paper's.*balanced"):
        resolve_class_weights(paper.class_weights, {"aorta": 3, "stomach": 2})
    with pytest.raises(EusaugError, match="unknown"):
        resolve_class_weights("inverse", PAPER_COUNTS)
    assert parse_class_weights("balanced") == "balanced"


def test_precision_sets_the_dtype_policy_and_paper_is_float32():
    assert CLASSIFIER_PRESETS["paper"].precision == "fp32"
    weights = resolve_weights(None, "vgg16", 0)
    fp32 = build_classifier(3, 32, weights, "fp32")
    assert {layer.dtype_policy.name for layer in fp32.layers} == {"float32"}
    bf16 = build_classifier(3, 32, weights, "bf16")
    assert bf16.get_layer("block1_conv1").dtype_policy.name == "mixed_bfloat16"
    assert bf16.get_layer("probabilities").dtype_policy.name == "float32"
    with pytest.raises(EusaugError, match="precision"):
        build_classifier(3, 32, weights, "fp16")


def test_a_sweep_on_written_mixed_sets_trains_on_those_files_with_the_same_results(labelled_sets, tmp_path):
    """One mix: trained on the sets ``eusaug mix`` wrote, a model sees those files and learns what a planned sweep
    learns from the same seed."""
    from eusaug.mix import mix_sweep
    from eusaug.mix import split_by_subject as split_real

    real, synthetic = labelled_sets
    config = replace(CLASSIFIER_PRESETS["fast"], input_size_px=32, epochs=1, batch_size=8, test_subjects=("d",),
                     ratios=(0.0, 0.5))
    split = split_real({c: list((real / c).iterdir()) for c in ("aorta", "background", "liver", "pancreas")},
                       config.split_settings)
    train = {c: sorted(paths) for c, paths in split.train.items()}
    test = {c: sorted(paths) for c, paths in split.test.items()}
    with pytest.warns(UserWarning, match="background"):
        written = mix_sweep(train, synthetic, config.ratios, tmp_path / "mixed", seed=config.seed)

    from_files = ratio_sweep(train, None, tmp_path / "a", config, test=test, mixed=tmp_path / "mixed")
    planned = ratio_sweep(train, synthetic, tmp_path / "b", config, test=test)

    trained = _csv(tmp_path / "a" / "training.csv")
    for ratio, rows in written.items():
        mine = [(Path(r["image"]), r["class"], r["source"]) for r in trained if float(r["ratio"]) == ratio]
        assert sorted(mine) == sorted((row.output_path, row.class_name, row.source) for row in rows)
    # The same images in the same order as a planned sweep (training itself is not bit-reproducible in one process).
    assert [(Path(r["image"]).resolve(), r["class"], r["source"]) for r in trained] == [
        (Path(r["image"]).resolve(), r["class"], r["source"]) for r in _csv(tmp_path / "b" / "training.csv")]
    assert [(r["n_train"], r["n_synthetic"]) for r in from_files.rows] == [
        (r["n_train"], r["n_synthetic"]) for r in planned.rows] == [(36, 0), (36, 15)]
    # A mixed set that holds a test image is refused.
    with pytest.raises(EusaugError, match="holds test image"):
        ratio_sweep(real, None, tmp_path / "c", config, mixed=tmp_path / "mixed",
                    test={c: [p for p in train[c]] for c in ("aorta",)})


def test_a_diverging_classifier_stops_with_a_clear_error_instead_of_metrics():
    import keras

    from eusaug.evaluate.classifier_model import train_classifier

    model = keras.Sequential([keras.Input((8, 8, 1)), keras.layers.Flatten(), keras.layers.Dense(2, activation="softmax")])
    images = np.random.default_rng(0).integers(0, 255, (8, 8, 8), dtype=np.uint8)
    labels = np.array([0, 1] * 4)
    config = ClassifierConfig(epochs=3, batch_size=4, learning_rate=1e-3)
    assert len(train_classifier(model, images, labels, np.array([1.0, 1.0]), config, "Training C0")) == 3
    with pytest.raises(EusaugError, match="Training C25: the classifier diverged in epoch 1 .*learning_rate"):
        train_classifier(model, images, labels, np.array([np.nan, 1.0]), config, "Training C25")
