"""``eusaug reproduce``: the paper's protocol end to end on your CT volumes and EUS frames.

The ``paper`` preset is the paper's setting (256 px planes; CycleGAN 200 epochs with
decay after 100; VGG-16 with ImageNet weights, batch 64, lr 1e-7, 100 epochs and the
stated class weights 4.23/4.40/4.48/2.78; bone by HU in the slice filter; FID on the
standard network when the standard-fid extra is installed (``fid_preset: paper``: the paper's
ImageNet Inception-v3 in float32); McNemar significance from the uncorrected one-sided
p) and is meant for a GPU machine; docs/paper-preset.md lists every value and its source. The ``fast`` preset runs the same
stages in minutes on a CPU, for checking a set-up. A YAML (or JSON) file can change any
setting of :class:`eusaug.pipeline.protocol.RunConfig`, on top of ``preset:`` (default ``paper``)::

    preset: paper
    landmarks: [aorta, liver, pancreas]
    label_preset: btcv
    planes_per_case: 200
    synth_per_case: 400
    cyclegan_overrides: {epochs: 200}
    test_subjects: [EUS5]

Stages are resumable: rerunning the command skips finished stages, and a killed
CycleGAN stage resumes from its last complete epoch.
"""

from __future__ import annotations

import json
import os
from dataclasses import replace
from pathlib import Path
from typing import Any

from eusaug.ct.discover import find_cases as discover_cases
from eusaug.errors import EusaugError
from eusaug.evaluate.classifier import PAPER_CLASS_WEIGHTS
from eusaug.pipeline.protocol import CaseInput, RunConfig, run_pipeline
from eusaug.plugin.options import lookup_preset
from eusaug.plugin.registry import Registry

REPRODUCE_PRESETS: dict[str, RunConfig] = {
    "paper": RunConfig(
        label_preset="auto",
        image_size_px=256,
        planes_per_case=200,
        synth_per_case=400,
        cyclegan_preset="paper",
        cyclegan_epochs=None,
        classifier_preset="paper",
        weights="imagenet",
        minutes=None,
        # Spelled out (they equal the paper presets') so run.json shows the protocol.
        class_weights=dict(PAPER_CLASS_WEIGHTS),
        bone_rule="hu",
        fid_precision="fp32",
        classifier_precision="fp32",
        mcnemar_significance="uncorrected",
    ),
    "fast": RunConfig(
        label_preset="auto",
        image_size_px=128,
        planes_per_case=24,
        synth_per_case=24,
        cyclegan_preset="fast",
        cyclegan_epochs=2,
        classifier_preset="fast",
        weights="auto",
        minutes=None,
        class_weights="balanced",
        fid_precision="bf16",
    ),
}


def find_cases(ct_dir: str | os.PathLike[str]) -> list[CaseInput]:
    """Every CT under ``ct_dir`` with its label map, in any layout :func:`eusaug.ct.find_cases` knows."""
    return discover_cases(ct_dir)


def load_run_config(path: str | os.PathLike[str] | None, preset: str = "paper") -> RunConfig:
    """The preset, with the settings of a YAML/JSON file on top (its ``preset:`` key picks the base)."""
    data: dict[str, Any] = {}
    if path is not None:
        path = Path(path)
        try:
            text = path.read_text()
        except OSError as exc:
            raise EusaugError(f"Config file {path} cannot be read ({exc}): check the --config path.") from None
        try:
            if path.suffix.lower() == ".json":
                data = json.loads(text)
            else:
                import yaml

                data = yaml.safe_load(text) or {}
        except Exception as exc:  # yaml and json raise their own types
            where = " ".join(part.strip() for part in str(exc).splitlines() if part.strip().strip("^"))
            raise EusaugError(f"Config file {path} is not valid YAML/JSON ({where}): fix the file.") from None
        if not isinstance(data, dict):
            raise EusaugError(f"Config file {path} must hold a mapping of settings, e.g. 'label_preset: btcv'.")
        preset = str(data.pop("preset", preset))
    return RunConfig.from_dict(data, base=lookup_preset(REPRODUCE_PRESETS, preset, "preset"))


def run_reproduce(
    ct_dir: str | os.PathLike[str],
    eus_dir: str | os.PathLike[str],
    output_dir: str | os.PathLike[str],
    config: str | os.PathLike[str] | None = None,
    preset: str = "paper",
    redo: bool = False,
    registry: Registry | None = None,
    **overrides: Any,
) -> Path:
    """Run the paper's protocol on every CT of ``ct_dir`` and the class folders of ``eus_dir``.

    ``eus_dir`` holds one sub-folder of real frames per landmark (and optionally
    ``background/``, used in classifier training only). Returns ``report.html``.
    """
    run_config = load_run_config(config, preset)
    if overrides:
        run_config = replace(run_config, **overrides)
    cases = find_cases(ct_dir)
    return run_pipeline(output_dir, cases, run_config, eus_dir=eus_dir, redo=redo, registry=registry,
                        title="eusaug reproduce: the protocol of Grimwood et al.")
