"""``eusaug evaluate gradcam``: class activation maps of a trained classifier (Fig. 3)."""

from __future__ import annotations

from pathlib import Path

from eusaug.evaluate import GradCamOptions, gradcam_report
from eusaug.plugin import EvaluationResult, Evaluator


class GradCamEvaluator(Evaluator):
    name = "gradcam"
    description = "Grad-CAM maps of a trained classifier on real vs synthetic examples of each class (Fig. 3)."
    options_class = GradCamOptions

    def run(self, options: GradCamOptions, output_dir: Path) -> EvaluationResult:
        report = gradcam_report(options.model, options.real, output_dir, options.synthetic, options.per_class,
                                options.layer, list(options.classes) if options.classes else None, options.seed,
                                options.force)
        rows = [{k: r[k] for k in ("set", "class", "image", "predicted", "probability", "correct",
                                   "outside_sector_share", "mostly_outside_sector")}
                for r in report.rows]
        return EvaluationResult("Grad-CAM examples (Fig. 3)", rows, report.files, report.notes)
