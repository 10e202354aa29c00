"""``eusaug evaluate fid``: FID and KID of a synthetic set against a real one (Table 3)."""

from __future__ import annotations

from dataclasses import asdict
from pathlib import Path
from typing import Any

import click

from eusaug.evaluate import FID_PRESETS, FIDConfig, compare_sets
from eusaug.plugin import EvaluationResult, Evaluator

_DEFAULT = FID_PRESETS["paper"]


class FIDEvaluator(Evaluator):
    name = "fid"
    description = "FID and KID on Inception-v3 features, with the paper's split-half and noise controls."

    @classmethod
    def cli_params(cls) -> list[click.Option]:
        return [
            click.Option(["--real"], type=click.Path(path_type=Path), required=True,
                         help="Real images: a folder, a folder of class folders, or a path,class CSV."),
            click.Option(["--synthetic"], type=click.Path(path_type=Path), default=None,
                         help="Synthetic images, same layout (class folders give per-class rows)."),
            click.Option(["--controls"], is_flag=True,
                         help="Add the paper's controls: real split halves (ideal) and real + noise (bad)."),
            click.Option(["--backbone"], default=_DEFAULT.backbone, show_default=True,
                         help="Feature network: inception, none (16x16 pixels), or a .keras feature model."),
            click.Option(["--weights"], default="imagenet", show_default=True,
                         help="imagenet (from Keras' cache, never downloaded), a weights file, or none (random)."),
            click.Option(["--precision"], type=click.Choice(["bf16", "fp32"]), default=_DEFAULT.precision,
                         show_default=True, help="bf16 mixed precision (faster) or fp32."),
            click.Option(["--batch-size"], type=int, default=_DEFAULT.batch_size, show_default=True),
            click.Option(["--noise-sd"], type=float, default=_DEFAULT.noise_sd, show_default=True,
                         help="Noise of the bad-FID control, on [-1, 1] intensities."),
            click.Option(["--kid-subsets"], type=int, default=_DEFAULT.kid_subsets, show_default=True),
            click.Option(["--kid-subset-size"], type=int, default=_DEFAULT.kid_subset_size, show_default=True),
            click.Option(["--small-sets"], type=click.Choice(["warn", "kid", "refuse"]), default=_DEFAULT.small_sets,
                         show_default=True,
                         help="Sets with no more images than feature dimensions: FID with a warning, KID only, "
                              "or an error."),
            click.Option(["--sqrt-method"], type=click.Choice(["eigen", "sqrtm"]), default=_DEFAULT.sqrt_method,
                         show_default=True, help="Trace of the matrix square root: exact eigenvalues, or scipy sqrtm."),
            click.Option(["--cache/--no-cache"], default=True, show_default=True,
                         help="Re-use features of folders seen before (keyed by contents and backbone)."),
            click.Option(["--cache-dir"], type=click.Path(path_type=Path), default=None,
                         help="Feature cache folder (default $EUSAUG_CACHE_DIR or ~/.cache/eusaug/features)."),
            click.Option(["--seed"], type=int, default=_DEFAULT.seed, show_default=True,
                         help="Seed of the split halves, the noise, KID subsets and random weights."),
            click.Option(["--force"], is_flag=True, help="Replace fid.csv/fid.json in the output folder."),
        ]

    def evaluate(self, output_dir: Path, **options: Any) -> EvaluationResult:
        weights = options.get("weights", "imagenet")
        config = FIDConfig(
            backbone=options.get("backbone", _DEFAULT.backbone),
            weights=None if weights is None or str(weights).lower() in ("none", "random") else str(weights),
            precision=options.get("precision", _DEFAULT.precision),
            batch_size=options.get("batch_size", _DEFAULT.batch_size),
            controls=options.get("controls", False),
            noise_sd=options.get("noise_sd", _DEFAULT.noise_sd),
            seed=options.get("seed", _DEFAULT.seed),
            kid_subsets=options.get("kid_subsets", _DEFAULT.kid_subsets),
            kid_subset_size=options.get("kid_subset_size", _DEFAULT.kid_subset_size),
            small_sets=options.get("small_sets", _DEFAULT.small_sets),
            sqrt_method=options.get("sqrt_method", _DEFAULT.sqrt_method),
            cache=options.get("cache", True),
            cache_dir=options.get("cache_dir"),
        )
        report = compare_sets(options["real"], options.get("synthetic"), Path(output_dir), config,
                              force=options.get("force", False))
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
