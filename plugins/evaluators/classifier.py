"""``eusaug evaluate classifier``: the VGG-16 synthetic-ratio sweep (Table 2)."""

from __future__ import annotations

from pathlib import Path

from eusaug.evaluate import ClassifierOptions, ratio_sweep
from eusaug.plugin import EvaluationResult, Evaluator


class ClassifierEvaluator(Evaluator):
    name = "classifier"
    description = "VGG-16 trained at synthetic ratios 0/25/50/75 %, tested on held-out real subjects (Table 2)."
    options_class = ClassifierOptions

    def run(self, options: ClassifierOptions, output_dir: Path) -> EvaluationResult:
        result = ratio_sweep(options.real, options.synthetic, output_dir, options.config, options.test,
                             options.subjects, options.force, mixed=options.mixed)
        return EvaluationResult("Classifier by synthetic ratio (Table 2)", result.rows, result.files, result.notes)
