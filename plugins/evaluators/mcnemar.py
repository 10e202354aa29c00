"""``eusaug evaluate mcnemar``: one-sided McNemar tests between classifiers (the paper's Table 2)."""

from __future__ import annotations

from pathlib import Path

from eusaug.evaluate import McNemarOptions, mcnemar_report
from eusaug.plugin import EvaluationResult, Evaluator


class McNemarEvaluator(Evaluator):
    name = "mcnemar"
    description = "McNemar tests (exact and chi-square, one-sided, Holm) between classifiers on the same test images."
    options_class = McNemarOptions

    def run(self, options: McNemarOptions, output_dir: Path) -> EvaluationResult:
        report = mcnemar_report(list(options.predictions), output_dir, options.pairs, options.alternative,
                                options.holm, list(options.models) if options.models else None, options.alpha,
                                options.force, significance=options.significance)
        rows = [{"A": r.model_a, "B": r.model_b, "n": r.n_images, "only A right": r.a_only_right,
                 "only B right": r.b_only_right, "acc A": r.accuracy_a, "acc B": r.accuracy_b,
                 "exact p": r.exact_p, "significant": r.significant, "chi2 p": r.chi2_p, "Holm p": r.exact_p_holm,
                 "Holm significant": r.significant_holm} for r in report.results]
        return EvaluationResult("McNemar tests", rows, report.files, report.notes)
