"""What each bundled evaluator is asked to do, as typed options.

One dataclass per evaluator: ``eusaug evaluate NAME`` derives its command-line options
from it (:mod:`eusaug.plugin.options`), and the pipeline builds one directly, with
typed values (tuples of ratios and subjects, paths), never comma strings.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from eusaug.evaluate.classifier import CLASSIFIER_PRESETS, ClassifierConfig
from eusaug.evaluate.fid_compare import FID_PRESETS, FIDConfig, default_fid_preset
from eusaug.evaluate.mcnemar import Alternative, Pairs, Significance
from eusaug.plugin.options import opt

_IMAGES = "a folder, a folder of class folders, or a path,class CSV"


@dataclass(frozen=True)
class FIDOptions:
    """``eusaug evaluate fid``: FID/KID of a synthetic set against a real one (Table 3)."""

    real: Path = field(metadata=opt(f"Real images: {_IMAGES}."))
    synthetic: Path | None = field(default=None, metadata=opt("Synthetic images, same layout (class folders give "
                                                              "per-class rows)."))
    # The standard network by default wherever the standard-fid extra is installed.
    config: FIDConfig = field(default_factory=lambda: FID_PRESETS[default_fid_preset()],
                              metadata=opt("Named FID settings (default: standard when the standard-fid extra is "
                                           "installed, else paper).", presets=FID_PRESETS,
                                           preset=default_fid_preset()))
    force: bool = field(default=False, metadata=opt("Replace fid.csv/fid.json in the output folder."))


@dataclass(frozen=True)
class ClassifierOptions:
    """``eusaug evaluate classifier``: the VGG-16 synthetic-ratio sweep (Table 2)."""

    real: Path = field(metadata=opt(f"Real labelled images: {_IMAGES}."))
    synthetic: Path | None = field(default=None, metadata=opt("Synthetic labelled images, same class names "
                                                              "(not read with --mixed)."))
    test: Path | None = field(default=None, metadata=opt("Held-out real test set (default: hold out subjects of "
                                                         "--real)."))
    subjects: Path | None = field(default=None, metadata=opt("CSV of path,subject (default: subjects from file "
                                                             "names, --subject-pattern)."))
    mixed: Path | None = field(default=None, metadata=opt("Mixed sets written by eusaug mix --ratios (a ratio_<r> "
                                                          "folder per ratio): train on exactly those files."))
    config: ClassifierConfig = field(
        default_factory=lambda: CLASSIFIER_PRESETS["paper"],
        metadata=opt("Named classifier settings (paper: section 2.4; fast: small and short, for demos).",
                     presets=CLASSIFIER_PRESETS, preset="paper"),
    )
    force: bool = field(default=False, metadata=opt("Replace earlier results in the output folder."))


@dataclass(frozen=True)
class McNemarOptions:
    """``eusaug evaluate mcnemar``: one-sided McNemar tests between classifiers on the same test images."""

    predictions: tuple[Path, ...] = field(metadata=opt(
        "A predictions.csv (model, image, true, predicted); several are combined."))
    models: tuple[str, ...] | None = field(default=None, metadata=opt(
        "Models to compare, comma-separated, in order (default: all, as in the file)."))
    pairs: Pairs = field(default="all", metadata=opt(
        "Every pair, neighbours in order, or the first model against each."))
    alternative: Alternative = field(default="greater", metadata=opt(
        "greater: H1 'the first model of a pair is right more often' (as the paper); less: the second; two-sided."))
    holm: bool = field(default=True, metadata=opt("Also report Holm-adjusted exact p-values across pairs (extra "
                                                  "columns)."))
    significance: Significance = field(default="uncorrected", metadata=opt(
        "Which p decides 'significant': the uncorrected one-sided exact p (the paper's) or the Holm-adjusted one."))
    alpha: float = field(default=0.05, metadata=opt("Significance level."))
    force: bool = field(default=False, metadata=opt("Replace mcnemar.csv in the output folder."))


@dataclass(frozen=True)
class GradCamOptions:
    """``eusaug evaluate gradcam``: class activation maps of a trained classifier (Fig. 3)."""

    model: Path = field(metadata=opt("A .keras classifier (e.g. models/ratio_0.keras from eusaug evaluate "
                                     "classifier)."))
    real: Path = field(metadata=opt(f"Real labelled images: {_IMAGES}."))
    synthetic: Path | None = field(default=None, metadata=opt("Synthetic labelled images, same classes."))
    per_class: int = field(default=1, metadata=opt("Examples per class and set."))
    layer: str | None = field(default=None, metadata=opt("Layer to explain (default: the last convolutional one)."))
    classes: tuple[str, ...] | None = field(default=None, metadata=opt(
        "Class names in output order, comma-separated, when no .json lies beside the model."))
    seed: int = field(default=0, metadata=opt("Seed of the example draw."))
    force: bool = field(default=False, metadata=opt("Replace gradcam.png/gradcam.csv in the output folder."))
