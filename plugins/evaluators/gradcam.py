"""``eusaug evaluate gradcam``: class activation maps of a trained classifier (Fig. 3)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from eusaug.evaluate import gradcam_report
from eusaug.plugin import EvaluationResult, Evaluator


class GradCamEvaluator(Evaluator):
    name = "gradcam"
    description = "Grad-CAM maps of a trained classifier on real vs synthetic examples of each class (Fig. 3)."

    @classmethod
    def cli_params(cls) -> list[click.Option]:
        return [
            click.Option(["--model"], type=click.Path(path_type=Path), required=True,
                         help="A .keras classifier (e.g. models/ratio_0.keras from eusaug evaluate classifier)."),
            click.Option(["--real"], type=click.Path(path_type=Path), required=True,
                         help="Real labelled images: class folders or a path,class CSV."),
            click.Option(["--synthetic"], type=click.Path(path_type=Path), default=None,
                         help="Synthetic labelled images, same classes."),
            click.Option(["--per-class"], type=int, default=1, show_default=True, help="Examples per class and set."),
            click.Option(["--layer"], default=None, help="Layer to explain (default: the last convolutional one)."),
            click.Option(["--classes"], default=None,
                         help="Comma-separated class names in output order, when no .json lies beside the model."),
            click.Option(["--seed"], type=int, default=0, show_default=True, help="Seed of the example draw."),
            click.Option(["--force"], is_flag=True, help="Replace gradcam.png/gradcam.csv in the output folder."),
        ]

    def evaluate(self, output_dir: Path, **options: Any) -> EvaluationResult:
        classes = [c.strip() for c in (options.get("classes") or "").split(",") if c.strip()] or None
        report = gradcam_report(options["model"], options["real"], output_dir, options.get("synthetic"),
                                options.get("per_class", 1), options.get("layer"), classes, options.get("seed", 0),
                                options.get("force", False))
        rows = [{k: r[k] for k in ("set", "class", "image", "predicted", "probability", "correct",
                                   "outside_sector_share", "mostly_outside_sector")}
                for r in report.rows]
        return EvaluationResult("Grad-CAM examples (Fig. 3)", rows, report.files, report.notes)
