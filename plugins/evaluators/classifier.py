"""``eusaug evaluate classifier``: the VGG-16 synthetic-ratio sweep (Table 2)."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

import click

from eusaug.evaluate import CLASSIFIER_PRESETS, classifier_preset, parse_class_weights, ratio_sweep
from eusaug.plugin import EvaluationResult, Evaluator


class ClassifierEvaluator(Evaluator):
    name = "classifier"
    description = "VGG-16 trained at synthetic ratios 0/25/50/75 %, tested on held-out real subjects (Table 2)."

    @classmethod
    def cli_params(cls) -> list[click.Option]:
        preset_help = "; ".join(f"{k}: {v.epochs} epochs, lr {v.learning_rate:g}, {v.input_size_px} px"
                                for k, v in CLASSIFIER_PRESETS.items())
        return [
            click.Option(["--real"], type=click.Path(path_type=Path), required=True,
                         help="Real labelled images: class folders or a path,class CSV."),
            click.Option(["--synthetic"], type=click.Path(path_type=Path), required=True,
                         help="Synthetic labelled images, same class names."),
            click.Option(["--test"], type=click.Path(path_type=Path), default=None,
                         help="Held-out real test set (default: hold out subjects of --real)."),
            click.Option(["--subjects"], type=click.Path(path_type=Path), default=None,
                         help="CSV of path,subject (default: subjects from file names, --subject-pattern)."),
            click.Option(["--preset"], type=click.Choice(sorted(CLASSIFIER_PRESETS)), default="paper", show_default=True,
                         help=preset_help),
            click.Option(["--ratios"], default=None, help="Synthetic ratios, e.g. 0,0.25,0.5,0.75 (the paper's)."),
            click.Option(["--epochs"], type=int, default=None, help="Override the preset."),
            click.Option(["--batch-size"], type=int, default=None, help="Override the preset."),
            click.Option(["--learning-rate"], type=float, default=None, help="Override the preset."),
            click.Option(["--input-size"], type=int, default=None, help="Input size in pixels (preset: 224 / 64)."),
            click.Option(["--weights"], default=None,
                         help="imagenet (from Keras' cache, never downloaded), a weights file, or none (random)."),
            click.Option(["--class-weights"], default=None,
                         help="Loss weights NAME=W,... or 'balanced' (from class counts). Default: the "
                              "preset's (paper: aorta=4.23,background=4.40,liver=4.48,pancreas=2.78)."),
            click.Option(["--background-class"], default="background", show_default=True,
                         help="Class used in training only ('' for none)."),
            click.Option(["--test-subjects"], default=None, help="Comma-separated subjects to hold out."),
            click.Option(["--test-fraction"], type=float, default=None,
                         help="Share of subjects held out when none are named (preset: 0.2)."),
            click.Option(["--subject-pattern"], default=None,
                         help=r"Regex on file names whose first group is the subject (default ^([A-Za-z]+))."),
            click.Option(["--mix-mode"], type=click.Choice(["replace", "add"]), default=None,
                         help="replace: class sizes kept (default); add: synthetic added to all real."),
            click.Option(["--seed"], type=int, default=None, help="Seed of split, mixing, shuffling, random weights."),
            click.Option(["--force"], is_flag=True, help="Replace earlier results in the output folder."),
        ]

    def evaluate(self, output_dir: Path, **options: Any) -> EvaluationResult:
        from eusaug.mix import check_ratio

        config = classifier_preset(options.get("preset") or "paper")
        overrides: dict[str, Any] = {}
        simple = {"epochs": "epochs", "batch_size": "batch_size", "learning_rate": "learning_rate",
                  "input_size": "input_size_px", "test_fraction": "test_fraction",
                  "subject_pattern": "subject_pattern", "mix_mode": "mix_mode", "seed": "seed"}
        for option, field_name in simple.items():
            if options.get(option) is not None:
                overrides[field_name] = options[option]
        if options.get("weights") is not None:
            weights = str(options["weights"])
            overrides["weights"] = None if weights.lower() in ("none", "random") else weights
        if options.get("ratios"):
            overrides["ratios"] = tuple(check_ratio(r) for r in options["ratios"].split(",") if r.strip())
        if options.get("class_weights"):
            overrides["class_weights"] = parse_class_weights(options["class_weights"])
        if "background_class" in options:
            overrides["background_class"] = options["background_class"] or None
        if options.get("test_subjects"):
            overrides["test_subjects"] = tuple(s.strip() for s in options["test_subjects"].split(",") if s.strip())
        config = replace(config, **overrides)
        result = ratio_sweep(options["real"], options["synthetic"], output_dir, config, options.get("test"),
                             options.get("subjects"), options.get("force", False))
        return EvaluationResult("Classifier by synthetic ratio (Table 2)", result.rows, result.files, result.notes)
