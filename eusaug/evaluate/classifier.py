"""The paper's classification sub-task: VGG-16 trained at several synthetic ratios (Table 2).

The real set is split into training and a held-out test set *by subject* when subjects
are known (:mod:`eusaug.mix.subjects`), so no patient is in both. For every synthetic
ratio the model trains either on a mixed set already written by ``eusaug mix --ratios``
(``mixed``: the files a user can inspect are by construction the ones trained on) or on
the selection :func:`eusaug.mix.plan.plan_mix` makes from the training split (class by
class, seeded: the same files ``eusaug mix`` would write). A background class, when
present, is used in training only. Each model is a VGG-16 (:mod:`.classifier_model`),
trained with class-weighted categorical cross-entropy (:mod:`.classifier_config`) and
evaluated on the test set (:mod:`.classifier_metrics`).

Outputs: ``table2.csv`` (ratio, precision, recall, F1 per class, accuracy, counts),
``predictions.csv`` (every test image, every model; what ``eusaug evaluate mcnemar``
reads), ``split.csv``, ``training.csv`` (every image each model trained on, with its
class and source), ``history.csv`` (loss per epoch), ``classifier.json`` (the resolved
config) and ``models/ratio_<r>.keras`` with a ``.json`` beside each (class names, input
size) for Grad-CAM.

The config, network and metrics live in their own modules; their names stay importable
from here.
"""

from __future__ import annotations

import os
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np

from eusaug.errors import EusaugError
from eusaug.evaluate.classifier_config import (
    CLASSIFIER_PRESETS,
    PAPER_CLASS_WEIGHTS,
    ClassifierConfig,
    ClassWeights,
    classifier_preset,
    derived_class_weights,
    parse_class_weights,
    resolve_class_weights,
)
from eusaug.evaluate.classifier_metrics import classification_metrics
from eusaug.evaluate.classifier_model import (
    VGG_MEANS_BGR,
    build_classifier,
    load_classifier,
    predict,
    save_classifier,
    train_classifier,
)
from eusaug.evaluate.features import load_resized
from eusaug.evaluate.weights import resolve_weights, warn_random
from eusaug.io.devices import choose_placement
from eusaug.io.images import unit_to_uint8
from eusaug.io.progress import track
from eusaug.io.tables import check_new, write_csv, write_json
from eusaug.mix.labelled_sets import LabelledSource, as_labelled_set
from eusaug.mix.plan import plan_mix
from eusaug.mix.ratios import Ratio, check_ratios
from eusaug.mix.subjects import Split, read_subjects_csv, split_by_subject, subject_of
from eusaug.mix.write import read_mixed_sets

#: One training image: (class, "real" or "synthetic", the file read).
TrainingItem = tuple[str, str, Path]


@dataclass
class SweepResult:
    rows: list[dict[str, Any]]
    files: list[Path] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


def model_name(ratio: float) -> str:
    return f"ratio_{ratio:g}"


def _load_images(paths: Sequence[Path], size_px: int) -> dict[Path, np.ndarray]:
    return {p: unit_to_uint8(load_resized(p, size_px)) for p in track(list(paths), "Loading images")}


def _split(real_set: Mapping[str, list[Path]], config: ClassifierConfig, background: str | None,
           test: LabelledSource | None, subjects: str | os.PathLike[str] | None) -> Split:
    if test is None:
        table = read_subjects_csv(subjects) if subjects is not None else None
        return split_by_subject(real_set, replace(config.split_settings, background_class=background), table)
    test_set = {c: p for c, p in as_labelled_set(test).items() if c != background}
    unknown = sorted(set(test_set) - set(real_set))
    if unknown:
        raise EusaugError(f"Test classes {', '.join(unknown)} are not in the real training set "
                          f"({', '.join(real_set)}): the model could never predict them.")
    return Split(real_set, test_set, {}, (), ())


def _planned_items(split: Split, synthetic: LabelledSource, ratios: Sequence[Ratio], config: ClassifierConfig,
                   background: str | None, notes: list[str]) -> list[list[TrainingItem]]:
    """Each ratio's training images as :func:`plan_mix` selects them from the training split."""
    syn_set = as_labelled_set(synthetic)
    # The background class is real and training-only by design: it is not mixed.
    to_mix = {c: paths for c, paths in split.train.items() if c != background}
    if background is not None:
        notes.append(f"Class {background!r} ({len(split.train[background])} real images) is used in training only "
                     "and gets no synthetic images.")
        if background in syn_set:
            notes.append(f"Synthetic {background!r} images are not used.")
    background_items = [(background, "real", p) for p in split.train[background]] if background else []
    mixed = []
    for r in ratios:
        plan = plan_mix(to_mix, {c: p for c, p in syn_set.items() if c != background}, r, config.mix_mode,
                        config.seed)
        notes.extend(n for n in plan.notes if n not in notes)
        mixed.append([*plan.items(), *background_items])
    return mixed


def _written_items(folder: str | os.PathLike[str], split: Split, ratios: Sequence[Ratio],
                   background: str | None) -> list[list[TrainingItem]]:
    """Each ratio's training images: exactly the files of the mixed set written in ``folder``.

    Background rows go last, where the planned sweep puts them, so a written set trains
    the same model as the planned one. A real image of the test split is refused.
    """
    held = {Path(os.path.abspath(p)) for paths in split.test.values() for p in paths}
    mixed = []
    for ratio, rows in read_mixed_sets(folder, ratios).items():
        leaked = [r for r in rows if r.source == "real" and Path(os.path.abspath(r.original_path)) in held]
        if leaked:
            raise EusaugError(f"Mixed set {folder}/{model_name(ratio)} holds test image {leaked[0].original_path}: "
                              "mix only the training split (or pass the matching --test set).")
        items = [(r.class_name, r.source, r.output_path) for r in rows]
        mixed.append([i for i in items if i[0] != background] + [i for i in items if i[0] == background])
    return mixed


def ratio_sweep(real: LabelledSource, synthetic: LabelledSource | None, output_dir: str | os.PathLike[str],
                config: ClassifierConfig | None = None, test: LabelledSource | None = None,
                subjects: str | os.PathLike[str] | None = None, force: bool = False,
                mixed: str | os.PathLike[str] | None = None) -> SweepResult:
    """Train and test one VGG-16 per synthetic ratio; write Table 2, predictions and models.

    ``real`` and ``synthetic`` are labelled sets (class folders, CSV, or mappings).
    ``test`` is an explicit held-out real set; without it the real set is split by
    subject (``subjects``: a CSV of path,subject; else ``config.subject_pattern``).
    ``mixed``: a folder written by :func:`eusaug.mix.write.mix_sweep` with a
    ``ratio_<r>`` set for each of ``config.ratios``; the models then train on those files
    (``synthetic`` is not read).
    """
    config = ClassifierConfig() if config is None else config
    output_dir = Path(output_dir)
    ratios = check_ratios(config.ratios)
    if config.epochs < 1 or config.batch_size < 1 or not config.learning_rate > 0:
        raise EusaugError(f"epochs ({config.epochs}) and batch_size ({config.batch_size}) must be >= 1 and the "
                          f"learning rate ({config.learning_rate}) > 0.")
    if mixed is None and synthetic is None:
        raise EusaugError("The classifier needs synthetic images (--synthetic) or mixed sets (--mixed).")
    model_paths = [output_dir / "models" / f"{model_name(r)}.keras" for r in ratios]
    names = ("table2.csv", "predictions.csv", "split.csv", "history.csv", "classifier.json", "training.csv")
    files = [output_dir / n for n in names]
    check_new([*files, *model_paths], force)

    # One machine: N devices share each batch (a multi-worker sweep would write every file N times).
    placement = choose_placement(config.devices, cluster=False)
    weights = resolve_weights(config.weights, "vgg16", config.seed)
    notes: list[str] = [warn_random("VGG-16 classifier")] if weights.is_random else []
    real_set = as_labelled_set(real)
    background = config.background_class if config.background_class in real_set else None
    split = _split(real_set, config, background, test, subjects)
    notes.extend(split.notes)
    eval_classes = sorted(split.test)
    if mixed is not None:
        training = _written_items(mixed, split, ratios, background)
        notes.append(f"Trained on the mixed sets written in {mixed}.")
    else:
        training = _planned_items(split, synthetic, ratios, config, background, notes)  # type: ignore[arg-type]
    classes = sorted({c for c, _, _ in training[0]})
    test_items = [(c, p) for c in eval_classes for p in split.test[c]]
    needed = {p for items in training for _, _, p in items} | {p for _, p in test_items}
    pixels = _load_images(sorted(needed), config.input_size_px)
    x_test = np.stack([pixels[p] for _, p in test_items])

    rows: list[dict[str, Any]] = []
    prediction_rows: list[dict[str, Any]] = []
    history_rows: list[dict[str, Any]] = []
    training_rows: list[dict[str, Any]] = []
    for r, items, model_path in zip(ratios, training, model_paths):
        counts = Counter(c for c, _, _ in items)
        class_weights = resolve_class_weights(config.class_weights, counts)
        label_of = {c: i for i, c in enumerate(classes)}
        x = np.stack([pixels[p] for _, _, p in items])
        y = np.array([label_of[c] for c, _, _ in items], dtype=np.int64)
        training_rows.extend({"model": model_name(r), "ratio": r, "image": str(p), "class": c, "source": s}
                             for c, s, p in items)
        with placement.strategy.scope():  # variables mirrored on every device; fit splits each batch
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
                          "strategy": placement.to_dict(),
                          **({} if mixed is None else {"mixed": str(Path(mixed).resolve())}), "notes": notes})
    write_csv(files[5], training_rows)
    return SweepResult(rows, [*files, *model_paths], notes)


__all__ = [
    "CLASSIFIER_PRESETS", "PAPER_CLASS_WEIGHTS", "VGG_MEANS_BGR", "ClassWeights", "ClassifierConfig", "Split",
    "SweepResult", "TrainingItem", "build_classifier", "classification_metrics", "classifier_preset",
    "derived_class_weights", "load_classifier", "model_name", "parse_class_weights", "predict", "ratio_sweep",
    "read_subjects_csv", "resolve_class_weights", "save_classifier", "split_by_subject", "subject_of",
    "train_classifier",
]
