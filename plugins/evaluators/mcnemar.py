"""``eusaug evaluate mcnemar``: one-sided McNemar tests between classifiers (the paper's Table 2)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from eusaug.evaluate import mcnemar_report
from eusaug.plugin import EvaluationResult, Evaluator


class McNemarEvaluator(Evaluator):
    name = "mcnemar"
    description = "McNemar tests (exact and chi-square, one-sided, Holm) between classifiers on the same test images."

    @classmethod
    def cli_params(cls) -> list[click.Option]:
        return [
            click.Option(["--predictions"], type=click.Path(path_type=Path), multiple=True, required=True,
                         help="predictions.csv (model, image, true, predicted); repeat to combine files."),
            click.Option(["--models"], default=None,
                         help="Comma-separated models to compare, in order (default: all, as in the file)."),
            click.Option(["--pairs"], type=click.Choice(["all", "adjacent", "first"]), default="all",
                         show_default=True, help="Every pair, neighbours in order, or the first model against each."),
            click.Option(["--alternative"], type=click.Choice(["greater", "less", "two-sided"]), default="greater",
                         show_default=True,
                         help="greater: H1 'the first model of a pair is right more often' (as the paper); "
                              "less: the second; two-sided."),
            click.Option(["--holm/--no-holm"], default=True, show_default=True,
                         help="Holm correction of the exact p-values across pairs."),
            click.Option(["--alpha"], type=float, default=0.05, show_default=True),
            click.Option(["--force"], is_flag=True, help="Replace mcnemar.csv in the output folder."),
        ]

    def evaluate(self, output_dir: Path, **options: Any) -> EvaluationResult:
        models = [m.strip() for m in (options.get("models") or "").split(",") if m.strip()] or None
        report = mcnemar_report(list(options["predictions"]), output_dir, options.get("pairs", "all"),
                                options.get("alternative", "greater"), options.get("holm", True), models,
                                options.get("alpha", 0.05), options.get("force", False))
        rows = [{"A": r.model_a, "B": r.model_b, "n": r.n_images, "only A right": r.a_only_right,
                 "only B right": r.b_only_right, "acc A": r.accuracy_a, "acc B": r.accuracy_b,
                 "exact p": r.exact_p, "chi2 p": r.chi2_p, "Holm p": r.exact_p_holm} for r in report.results]
        return EvaluationResult("McNemar tests", rows, report.files, report.notes)
