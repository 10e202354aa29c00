"""``eusaug evaluate fid``: FID and KID of a synthetic set against a real one (Table 3)."""

from __future__ import annotations

from dataclasses import asdict
from pathlib import Path

from eusaug.evaluate import FIDOptions, compare_sets
from eusaug.plugin import EvaluationResult, Evaluator


class FIDEvaluator(Evaluator):
    name = "fid"
    description = "FID and KID on Inception-v3 features, with the paper's split-half and noise controls."
    options_class = FIDOptions

    def run(self, options: FIDOptions, output_dir: Path) -> EvaluationResult:
        report = compare_sets(options.real, options.synthetic, Path(output_dir), options.config, force=options.force)
        notes = list(report.notes)
        rows = []
        for row in report.rows:
            data = asdict(row)
            note = data.pop("note")
            if note:
                data["fid"] = data["fid"] if data["fid"] is not None else "-"
                marker = f"small set: {note}."
                if marker not in notes:
                    notes.append(marker)
            rows.append(data)
        return EvaluationResult("FID / KID (Table 3)", rows, report.files, notes)
