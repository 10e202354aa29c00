"""The paper's classification sub-task: VGG-16 trained at several synthetic ratios (Table 2).

The real set is split into training and a held-out test set *by subject* when subjects
are known (a ``subject`` CSV, or a regular expression on file names -- the shared frames'
first letter is the subject), so no patient is in both. For every synthetic ratio the
training set is mixed with :func:`eusaug.mix.mixing.plan_mix` (class by class, seeded); a
background class, when present, is used in training only. Each model is a VGG-16
(``keras.applications``) with ImageNet, random or file weights and a new softmax head,
trained with class-weighted categorical cross-entropy and evaluated on the test set.
Class weights: the ``paper`` preset uses the paper's stated ones
(:data:`PAPER_CLASS_WEIGHTS`); ``"balanced"`` derives ``n_total / (n_classes * n_class)``
from each training set's counts; a mapping gives them by class name.

Outputs: ``table2.csv`` (ratio, precision, recall, F1 per class, accuracy, counts),
``predictions.csv`` (every test image, every model; what ``eusaug evaluate mcnemar``
reads), ``split.csv``, ``history.csv`` (loss per epoch), ``classifier.json`` (the
resolved config) and ``models/ratio_<r>.keras`` with a ``.json`` beside each (class
names, input size) for Grad-CAM.

A model takes ``(N, S, S, 1)`` greyscale images in [-1, 1] (eusaug's in-memory
convention); the VGG preprocessing (three channels, 0..255, ImageNet channel means) is
part of the model, so a saved model needs nothing else to run.
"""

from __future__ import annotations

import os
import re
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, ClassVar, Literal

import numpy as np

from eusaug.errors import EusaugError
from eusaug.evaluate.features import Precision, load_resized
from eusaug.evaluate.weights import (
    WeightsChoice,
    load_into,
    randomise,
    resolve_weights,
    warn_random,
)
from eusaug.io.images import unit_to_uint8
from eusaug.io.progress import make_progress, track
from eusaug.io.tables import check_new, read_csv_rows, write_csv, write_json
from eusaug.mix.labelled_sets import LabelledSource, as_labelled_set
from eusaug.mix.mixing import MixMode, check_ratio, plan_mix

if TYPE_CHECKING:
    import keras

#: ImageNet BGR channel means that VGG-16's weights expect ("caffe" preprocessing).
VGG_MEANS_BGR = (103.939, 116.779, 123.68)

#: The paper's loss weights, section 2.4: "As loss function, we used a weighted categorical
#: cross entropy with the weights of 4.23, 4.40, 4.48, and 2.78 for aorta, background,
#: liver and pancreas, respectively." Stated, not derived: on the paper's counts the
#: balanced rule gives about 1.37, 2.73, 1.98 and 0.42 instead.
PAPER_CLASS_WEIGHTS: Mapping[str, float] = MappingProxyType(
    {"aorta": 4.23, "background": 4.40, "liver": 4.48, "pancreas": 2.78})

ClassWeights = Mapping[str, float] | Literal["balanced"] | None


@dataclass(frozen=True)
class ClassifierConfig:
    """Training and evaluation settings; ``paper`` and ``fast`` are the named presets.

    ``class_weights``: a mapping by class name (every training class needs one; a subset
    of the classes of :data:`PAPER_CLASS_WEIGHTS` keeps their stated values, the weights
    being relative), or ``"balanced"`` (``None`` too): ``n_total / (n_classes * n_class)``
    from each model's training counts.
    """

    input_size_px: int = 224
    batch_size: int = 64
    learning_rate: float = 1e-7
    epochs: int = 100
    weights: str | None = "imagenet"
    class_weights: ClassWeights = "balanced"
    background_class: str | None = "background"
    ratios: tuple[float, ...] = (0.0, 0.25, 0.5, 0.75)
    mix_mode: MixMode = "replace"
    #: Subjects held out for testing; None picks ``test_fraction`` of them at random.
    test_subjects: tuple[str, ...] | None = None
    test_fraction: float = 0.2
    #: Regular expression on file names; its first group (or the match) is the subject.
    subject_pattern: str = r"^([A-Za-z]+)"
    seed: int = 0
    precision: Precision = "fp32"

    #: Command-line help of each field (``eusaug evaluate classifier``).
    FIELD_HELP: ClassVar[dict[str, str]] = {
        "input_size_px": "Input size in pixels (paper 224, fast 64).",
        "batch_size": "Images per training step.",
        "learning_rate": "Adam learning rate.",
        "epochs": "Training epochs of each classifier.",
        "weights": "imagenet (from Keras' cache, never downloaded), a weights file, or none (random).",
        "class_weights": "Loss weights NAME=W,... or 'balanced' (from class counts); paper: "
                         "aorta=4.23,background=4.40,liver=4.48,pancreas=2.78.",
        "precision": "fp32 (the paper's, TensorFlow 2.2) or bf16 mixed precision (faster on CPUs with bf16).",
        "background_class": "Class used in training only (none: no such class).",
        "ratios": "Synthetic ratios, comma-separated, e.g. 0,0.25,0.5,0.75 (the paper's).",
        "mix_mode": "replace: class sizes kept; add: synthetic added to all real.",
        "test_subjects": "Subjects held out for testing, comma-separated.",
        "test_fraction": "Share of subjects held out when none are named.",
        "subject_pattern": "Regex on file names whose first group is the subject.",
        "seed": "Seed of split, mixing, shuffling and random weights.",
    }


CLASSIFIER_PRESETS: dict[str, ClassifierConfig] = {
    # Section 2.4: "We used the pre-trained weights from ImageNet, a batch size of 64, a
    # learning rate of 1e-7 and 100 epochs", the stated class weights (PAPER_CLASS_WEIGHTS),
    # float32 as TensorFlow 2.2 ran it ("All models were implemented in TensorFlow 2.2").
    "paper": ClassifierConfig(class_weights=dict(PAPER_CLASS_WEIGHTS), precision="fp32"),
    # Seconds on a laptop CPU for tiny sets: small input, few epochs, a usable learning rate,
    # weights balanced from the counts (any class names work).
    "fast": ClassifierConfig(input_size_px=64, batch_size=16, learning_rate=1e-4, epochs=3, weights=None,
                             class_weights="balanced"),
}


def classifier_preset(name: str) -> ClassifierConfig:
    if name not in CLASSIFIER_PRESETS:
        raise EusaugError(f"Unknown classifier preset {name!r}: use one of {', '.join(CLASSIFIER_PRESETS)}.")
    return CLASSIFIER_PRESETS[name]


# ----------------------------------------------------------------------------- splitting


@dataclass(frozen=True)
class Split:
    """The real images for training and for testing, by class, and how they were split."""

    train: dict[str, list[Path]]
    test: dict[str, list[Path]]
    subjects: dict[Path, str | None]
    test_subjects: tuple[str, ...]
    notes: tuple[str, ...] = ()


def read_subjects_csv(path: str | os.PathLike[str]) -> dict[str, str]:
    """``{file name or path: subject}`` from a CSV with ``path`` (or ``image``) and ``subject`` columns."""
    rows = read_csv_rows(path, ("subject",))
    key = next((c for c in ("path", "image", "file", "filename") if rows and c in rows[0]), None)
    if key is None:
        raise EusaugError(f"{path} needs a path (or image) column beside subject.")
    out: dict[str, str] = {}
    for row in rows:
        name, subject = row[key].strip(), row["subject"].strip()
        if name and subject:
            out[name] = subject
            out[Path(name).name] = subject
    return out


def subject_of(path: Path, pattern: str, table: Mapping[str, str] | None = None) -> str | None:
    """The subject of an image: from ``table`` (path or file name), else the pattern's match."""
    if table is not None:
        return table.get(str(path)) or table.get(path.name)
    match = re.search(pattern, path.name)
    if match is None:
        return None
    return match.group(1) if match.groups() else match.group(0)


def split_by_subject(real: Mapping[str, Sequence[Path]], config: ClassifierConfig,
                     subjects: Mapping[str, str] | None = None) -> Split:
    """Hold out whole subjects for testing (random images only when subjects are unknown)."""
    try:
        re.compile(config.subject_pattern)
    except re.error as exc:
        raise EusaugError(f"Subject pattern {config.subject_pattern!r} is not a regular expression ({exc}).") from None
    rng = np.random.default_rng(config.seed)
    background = config.background_class
    of = {p: subject_of(Path(p), config.subject_pattern, subjects) for paths in real.values() for p in paths}
    known = sorted({s for s in of.values() if s is not None})
    notes: list[str] = []
    if all(s is not None for s in of.values()) and len(known) >= 2:
        if config.test_subjects is not None:
            unknown = sorted(set(config.test_subjects) - set(known))
            if unknown:
                raise EusaugError(f"Test subject(s) {', '.join(unknown)} not found: the subjects are {', '.join(known)}.")
            held = tuple(sorted(config.test_subjects))
        else:
            if not 0.0 < config.test_fraction < 1.0:
                raise EusaugError(f"test_fraction={config.test_fraction} must be in (0, 1).")
            k = min(len(known) - 1, max(1, round(config.test_fraction * len(known))))
            held = tuple(sorted(rng.choice(known, size=k, replace=False).tolist()))
        train = {c: [p for p in paths if of[p] not in held] for c, paths in real.items()}
        test = {c: [p for p in paths if of[p] in held] for c, paths in real.items() if c != background}
        dropped = len([p for p in real.get(background or "", []) if of[p] in held]) if background else 0
        if dropped:
            notes.append(f"{dropped} {background!r} images of test subjects were left out (background is for "
                         "training only, and test subjects stay out of training).")
    else:
        if config.test_subjects is not None:
            raise EusaugError(f"Test subjects {', '.join(config.test_subjects)} were given but subjects are not known "
                              f"for every image (pattern {config.subject_pattern!r}): pass a subjects CSV.")
        if not 0.0 < config.test_fraction < 1.0:
            raise EusaugError(f"test_fraction={config.test_fraction} must be in (0, 1).")
        held = ()
        notes.append("Subjects are unknown for some images: the test set is a random image split, so a patient may "
                     "be in both sets (accuracy will look better than on new patients).")
        train, test = {}, {}
        for c, paths in real.items():
            order = rng.permutation(len(paths))
            n_test = 0 if c == background else max(1, round(config.test_fraction * len(paths)))
            test_idx = set(order[:n_test].tolist())
            train[c] = [p for i, p in enumerate(paths) if i not in test_idx]
            if c != background:
                test[c] = [p for i, p in enumerate(paths) if i in test_idx]
    empty_train = [c for c, paths in train.items() if not paths]
    if empty_train:
        raise EusaugError(f"Class(es) {', '.join(empty_train)} have no training images left after holding out "
                          f"{', '.join(held) or 'the test images'}: choose other test subjects.")
    missing_test = [c for c, paths in test.items() if not paths]
    if missing_test:
        notes.append(f"No test images for class(es) {', '.join(missing_test)}: their F1 is undefined (empty).")
    test = {c: paths for c, paths in test.items() if paths}
    if not test:
        raise EusaugError("The test set is empty: choose test subjects that have labelled images.")
    return Split(train, test, {Path(p): s for p, s in of.items()}, held, tuple(notes))


# ----------------------------------------------------------------------------- model


def build_classifier(n_classes: int, input_size_px: int, weights: WeightsChoice,
                     precision: Precision = "fp32") -> keras.Model:
    """VGG-16 (no top) + global average pool + softmax head, taking greyscale [-1, 1] images.

    The VGG layers are re-applied in one flat graph, so every layer (e.g. ``block5_conv3``
    for Grad-CAM) is reachable from the top-level model. ``precision`` sets the layers'
    dtype policy: ``fp32``, float32 throughout (the paper's TensorFlow 2.2 default), or
    ``bf16``, Keras mixed bfloat16; the probabilities are float32 either way.
    """
    import keras

    if input_size_px < 32:
        raise EusaugError(f"input_size_px={input_size_px}: VGG-16 needs at least 32 pixels.")
    if precision not in ("fp32", "bf16"):
        raise EusaugError(f"Classifier precision {precision!r} is unknown: use fp32 (the paper's) or bf16.")
    previous = keras.config.dtype_policy()
    keras.config.set_dtype_policy("float32" if precision == "fp32" else "mixed_bfloat16")
    try:
        return _build_vgg(keras, n_classes, input_size_px, weights)
    finally:
        keras.config.set_dtype_policy(previous)


def _build_vgg(keras: Any, n_classes: int, input_size_px: int, weights: WeightsChoice) -> keras.Model:
    vgg = keras.applications.VGG16(include_top=False, weights=None, input_shape=(input_size_px, input_size_px, 3))
    if not weights.is_random:
        load_into(vgg, weights)
    image = keras.Input((input_size_px, input_size_px, 1), name="image")
    x = keras.layers.Concatenate(name="grey_to_rgb")([image, image, image])
    x = keras.layers.Rescaling(127.5, offset=127.5, name="to_0_255")(x)
    x = keras.layers.Normalization(mean=list(VGG_MEANS_BGR), variance=[1.0, 1.0, 1.0], name="imagenet_means")(x)
    for layer in vgg.layers[1:]:
        x = layer(x)
    x = keras.layers.GlobalAveragePooling2D(name="pool")(x)
    logits = keras.layers.Dense(n_classes, name="logits")(x)
    probabilities = keras.layers.Activation("softmax", name="probabilities", dtype="float32")(logits)
    model = keras.Model(image, probabilities, name="vgg16_classifier")
    if weights.is_random:
        randomise(model, weights.seed)
    else:
        randomise(model.get_layer("logits"), weights.seed)
    return model


def derived_class_weights(counts: Mapping[str, int]) -> dict[str, float]:
    """``n_total / (n_classes * n_class)``: every class contributes equally to the loss."""
    total = sum(counts.values())
    return {c: total / (len(counts) * n) for c, n in counts.items() if n}


def resolve_class_weights(class_weights: ClassWeights, counts: Mapping[str, int]) -> dict[str, float]:
    """The loss weight of every training class in ``counts``.

    ``"balanced"`` or None: :func:`derived_class_weights`. A mapping must name every
    training class: a class it lacks is an error (never a silent fallback to balanced),
    which for the paper's weights means classes other than aorta, background, liver and
    pancreas need their own weights or ``"balanced"``.
    """
    if class_weights is None or class_weights == "balanced":
        return derived_class_weights(counts)
    if isinstance(class_weights, str):
        raise EusaugError(f"Class weights {class_weights!r} are unknown: give 'balanced' or NAME=WEIGHT pairs, "
                          "e.g. aorta=4.23,background=4.40,liver=4.48,pancreas=2.78.")
    missing = sorted(set(counts) - set(class_weights))
    if missing:
        paper = set(class_weights) == set(PAPER_CLASS_WEIGHTS) and all(
            class_weights[c] == PAPER_CLASS_WEIGHTS[c] for c in PAPER_CLASS_WEIGHTS)
        given = "the paper's (aorta, background, liver, pancreas)" if paper else ", ".join(class_weights)
        raise EusaugError(f"Class weights lack {', '.join(missing)} (given: {given}): give a weight for every "
                          "training class (--class-weights aorta=4.23,...), or use class_weights='balanced' "
                          "(--class-weights balanced) to derive them from the counts.")
    bad = {c: w for c, w in class_weights.items() if not (w > 0 and np.isfinite(w))}
    if bad:
        raise EusaugError(f"Class weights must be positive numbers: {bad}.")
    return {c: float(class_weights[c]) for c in counts}


def parse_class_weights(text: str) -> dict[str, float] | Literal["balanced"]:
    """``"aorta=4.23,liver=4.48"`` -> ``{"aorta": 4.23, "liver": 4.48}``; ``"balanced"`` as is."""
    if text.strip().lower() == "balanced":
        return "balanced"
    out: dict[str, float] = {}
    for part in (p.strip() for p in text.split(",") if p.strip()):
        name, sep, value = part.partition("=")
        try:
            if not sep:
                raise ValueError
            out[name.strip()] = float(value)
        except ValueError:
            raise EusaugError(f"Class weight {part!r} is not NAME=NUMBER: write e.g. aorta=4.23,liver=4.48.") from None
    return out


def _batches(images: np.ndarray, labels: np.ndarray, weights: np.ndarray, n_classes: int, batch_size: int,
             seed: int) -> Any:
    """A ``keras.utils.PyDataset`` of shuffled ``(images, one-hot labels, sample weights)`` batches.

    Images stay uint8 in memory and become float [-1, 1] one batch at a time.
    """
    import keras

    class Batches(keras.utils.PyDataset):
        def __init__(self) -> None:
            super().__init__()
            self.rng = np.random.default_rng(seed)
            self.order = self.rng.permutation(len(labels))

        def __len__(self) -> int:
            return int(np.ceil(len(labels) / batch_size))

        def __getitem__(self, index: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
            idx = self.order[index * batch_size:(index + 1) * batch_size]
            x = images[idx].astype(np.float32)[..., None] / np.float32(127.5) - np.float32(1.0)
            return x, np.eye(n_classes, dtype=np.float32)[labels[idx]], weights[idx]

        def on_epoch_end(self) -> None:
            self.order = self.rng.permutation(len(labels))

    return Batches()


def train_classifier(model: keras.Model, images: np.ndarray, labels: np.ndarray, class_weights: np.ndarray,
                     config: ClassifierConfig, description: str = "Training") -> list[float]:
    """Fit ``model`` on ``(N, S, S)`` uint8 images with int labels; return the loss per epoch.

    The loss is categorical cross-entropy with each image weighted by its class weight.
    """
    import keras

    model.compile(optimizer=keras.optimizers.Adam(config.learning_rate),
                  loss=keras.losses.CategoricalCrossentropy())
    data = _batches(images, labels, class_weights[labels].astype(np.float32), int(model.outputs[0].shape[-1]),
                    config.batch_size, config.seed)
    losses: list[float] = []
    with make_progress() as progress:
        task = progress.add_task(description, total=config.epochs)

        class Report(keras.callbacks.Callback):
            def on_epoch_end(self, epoch: int, logs: dict[str, float] | None = None) -> None:
                losses.append(float((logs or {}).get("loss", float("nan"))))
                progress.advance(task)

        model.fit(data, epochs=config.epochs, verbose=0, callbacks=[Report()])
    return losses


def predict(model: keras.Model, images: np.ndarray, batch_size: int = 64) -> np.ndarray:
    """Class probabilities ``(N, K)`` for ``(N, S, S)`` uint8 images."""
    out = []
    # Direct calls rather than model.predict: no new graph per model, so sweeps stay quiet.
    for start in range(0, len(images), batch_size):
        x = images[start:start + batch_size].astype(np.float32)[..., None] / np.float32(127.5) - np.float32(1.0)
        out.append(np.asarray(model(x, training=False), dtype=np.float32))
    return np.concatenate(out) if out else np.zeros((0, int(model.outputs[0].shape[-1])), np.float32)


def classification_metrics(true: Sequence[str], predicted: Sequence[str], classes: Sequence[str]) -> dict[str, float]:
    """Macro precision and recall over ``classes``, F1 per class, and accuracy (Table 2).

    A prediction outside ``classes`` (e.g. background) counts as a miss; a class never
    predicted has precision 0; a class absent from ``true`` has F1 NaN.
    """
    t, p = np.asarray(true), np.asarray(predicted)
    out: dict[str, float] = {}
    precisions, recalls = [], []
    for c in classes:
        tp = float(np.sum((t == c) & (p == c)))
        n_pred, n_true = float(np.sum(p == c)), float(np.sum(t == c))
        precision = tp / n_pred if n_pred else 0.0
        recall = tp / n_true if n_true else float("nan")
        if n_true:
            precisions.append(precision)
            recalls.append(recall)
        f1 = 2 * precision * recall / (precision + recall) if n_true and (precision + recall) else (
            0.0 if n_true else float("nan"))
        out[f"f1_{c}"] = f1
    out = {"precision": float(np.mean(precisions)) if precisions else float("nan"),
           "recall": float(np.mean(recalls)) if recalls else float("nan"), **out,
           "accuracy": float(np.mean(t == p)) if len(t) else float("nan")}
    return out


def save_classifier(model: keras.Model, path: Path, metadata: Mapping[str, Any]) -> Path:
    """Save ``model`` as ``.keras`` (atomically) and its metadata as JSON beside it."""
    from eusaug.io.checkpoint import save_keras_model

    save_keras_model(model, path)
    write_json(path.with_suffix(".json"), metadata)
    return path


def load_classifier(path: str | os.PathLike[str]) -> tuple[keras.Model, dict[str, Any]]:
    """A saved classifier (safe mode) and its metadata (``{}`` when the JSON is missing)."""
    import json

    import keras

    path = Path(path)
    if not path.is_file():
        raise EusaugError(f"Model {path} does not exist: pass a .keras file (eusaug evaluate classifier writes "
                          "them under models/).")
    try:
        model = keras.saving.load_model(path, compile=False, safe_mode=True)
    except Exception as exc:  # noqa: BLE001 -- Keras raises many types for files it cannot read
        raise EusaugError(f"Model {path} cannot be loaded ({type(exc).__name__}: {str(exc)[:200]}): pass a .keras "
                          "file saved by Keras 3.") from None
    meta_path = path.with_suffix(".json")
    metadata = json.loads(meta_path.read_text(encoding="utf-8")) if meta_path.is_file() else {}
    return model, metadata


# ----------------------------------------------------------------------------- the sweep


@dataclass
class SweepResult:
    rows: list[dict[str, Any]]
    files: list[Path] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


def model_name(ratio: float) -> str:
    return f"ratio_{ratio:g}"


def _load_images(paths: Sequence[Path], size_px: int) -> dict[Path, np.ndarray]:
    return {p: unit_to_uint8(load_resized(p, size_px)) for p in track(list(paths), "Loading images")}


def ratio_sweep(real: LabelledSource, synthetic: LabelledSource, output_dir: str | os.PathLike[str],
                config: ClassifierConfig = ClassifierConfig(), test: LabelledSource | None = None,
                subjects: str | os.PathLike[str] | None = None, force: bool = False) -> SweepResult:
    """Train and test one VGG-16 per synthetic ratio; write Table 2, predictions and models.

    ``real`` and ``synthetic`` are labelled sets (class folders, CSV, or mappings).
    ``test`` is an explicit held-out real set; without it the real set is split by
    subject (``subjects``: a CSV of path,subject; else ``config.subject_pattern``).
    """
    output_dir = Path(output_dir)
    ratios = [check_ratio(r) for r in config.ratios]
    if not ratios or len(set(ratios)) != len(ratios):
        raise EusaugError(f"Ratios {config.ratios} must be distinct and at least one.")
    if config.epochs < 1 or config.batch_size < 1 or not config.learning_rate > 0:
        raise EusaugError(f"epochs ({config.epochs}) and batch_size ({config.batch_size}) must be >= 1 and the "
                          f"learning rate ({config.learning_rate}) > 0.")
    model_paths = [output_dir / "models" / f"{model_name(r)}.keras" for r in ratios]
    names = ("table2.csv", "predictions.csv", "split.csv", "history.csv", "classifier.json")
    files = [output_dir / n for n in names]
    check_new([*files, *model_paths], force)

    weights = resolve_weights(config.weights, "vgg16", config.seed)
    notes: list[str] = [warn_random("VGG-16 classifier")] if weights.is_random else []
    real_set = as_labelled_set(real)
    syn_set = as_labelled_set(synthetic)
    background = config.background_class if config.background_class in real_set else None
    if test is not None:
        test_set = {c: p for c, p in as_labelled_set(test).items() if c != background}
        unknown = sorted(set(test_set) - set(real_set))
        if unknown:
            raise EusaugError(f"Test classes {', '.join(unknown)} are not in the real training set "
                              f"({', '.join(real_set)}): the model could never predict them.")
        split = Split(real_set, test_set, {}, (), ())
    else:
        table = read_subjects_csv(subjects) if subjects is not None else None
        split = split_by_subject(real_set, replace(config, background_class=background), table)
    notes.extend(split.notes)
    eval_classes = sorted(split.test)

    # The background class is real and training-only by design: it is not mixed.
    to_mix = {c: paths for c, paths in split.train.items() if c != background}
    if background is not None:
        notes.append(f"Class {background!r} ({len(split.train[background])} real images) is used in training only "
                     "and gets no synthetic images.")
        if background in syn_set:
            notes.append(f"Synthetic {background!r} images are not used.")
    background_items = [(background, "real", p) for p in split.train[background]] if background else []
    mixed: list[list[tuple[str, str, Path]]] = []
    for r in ratios:
        plan = plan_mix(to_mix, {c: p for c, p in syn_set.items() if c != background}, r, config.mix_mode,
                        config.seed)
        notes.extend(n for n in plan.notes if n not in notes)
        mixed.append([*plan.items(), *background_items])
    classes = sorted({c for c, _, _ in mixed[0]})
    test_items = [(c, p) for c in eval_classes for p in split.test[c]]
    needed = {p for items in mixed for _, _, p in items} | {p for _, p in test_items}
    pixels = _load_images(sorted(needed), config.input_size_px)
    x_test = np.stack([pixels[p] for _, p in test_items])

    rows: list[dict[str, Any]] = []
    prediction_rows: list[dict[str, Any]] = []
    history_rows: list[dict[str, Any]] = []
    for r, items, model_path in zip(ratios, mixed, model_paths):
        counts = Counter(c for c, _, _ in items)
        class_weights = resolve_class_weights(config.class_weights, counts)
        label_of = {c: i for i, c in enumerate(classes)}
        x = np.stack([pixels[p] for _, _, p in items])
        y = np.array([label_of[c] for c, _, _ in items], dtype=np.int64)
        model = build_classifier(len(classes), config.input_size_px, weights, config.precision)
        losses = train_classifier(model, x, y, np.array([class_weights[c] for c in classes]), config,
                                  f"Training {model_name(r)} ({len(items)} images)")
        history_rows.extend({"model": model_name(r), "ratio": r, "epoch": e + 1, "loss": loss}
                            for e, loss in enumerate(losses))
        probabilities = predict(model, x_test, config.batch_size)
        predicted = [classes[i] for i in probabilities.argmax(axis=1)]
        true = [c for c, _ in test_items]
        n_syn = sum(1 for _, source, _ in items if source == "synthetic")
        rows.append({"ratio": r, **classification_metrics(true, predicted, eval_classes),
                     "n_train": len(items), "n_synthetic": n_syn, "n_test": len(test_items)})
        for (c, path), guess, probs in zip(test_items, predicted, probabilities):
            prediction_rows.append({"model": model_name(r), "ratio": r, "image": str(path),
                                    "subject": split.subjects.get(path), "true": c, "predicted": guess,
                                    "correct": int(guess == c),
                                    **{f"p_{k}": float(v) for k, v in zip(classes, probs)}})
        save_classifier(model, model_path, {"classes": classes, "input_size_px": config.input_size_px,
                                            "ratio": r, "weights": weights.describe(),
                                            "class_weights": class_weights, "counts": dict(counts),
                                            "n_synthetic": n_syn})
    output_dir.mkdir(parents=True, exist_ok=True)
    write_csv(files[0], rows)
    write_csv(files[1], prediction_rows)
    split_rows = [{"image": str(p), "class": c, "subject": split.subjects.get(p), "set": "train"}
                  for c, paths in split.train.items() for p in paths]
    split_rows += [{"image": str(p), "class": c, "subject": split.subjects.get(p), "set": "test"} for c, p in test_items]
    write_csv(files[2], split_rows)
    write_csv(files[3], history_rows)
    write_json(files[4], {**asdict(config), "weights_resolved": weights.describe(), "classes": classes,
                          "evaluation_classes": eval_classes, "test_subjects": list(split.test_subjects),
                          "notes": notes})
    return SweepResult(rows, [*files, *model_paths], notes)
