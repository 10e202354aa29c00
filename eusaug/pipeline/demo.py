"""``eusaug demo``: the whole chain on the embedded sample CT in minutes, ending in report.html.

Runs :func:`eusaug.pipeline.protocol.run_pipeline` on the bundled TotalSegmentator case with
settings that finish in well under 10 minutes on 2 CPU cores: 128 px planes, the
``fast`` CycleGAN trained within a time budget, the ``fast`` classifier. Without real
frames (``eus_dir``), the "real" domain is raysim frames from other poses.
"""

from __future__ import annotations

import os
from dataclasses import replace
from pathlib import Path

from eusaug.ct.sample_case import SAMPLE_PRESET, sample_ct_path, sample_labels_path
from eusaug.pipeline.protocol import CaseInput, RunConfig, run_pipeline
from eusaug.plugin.options import lookup_preset
from eusaug.plugin.registry import Registry

#: ``default`` is the demo; ``tiny`` runs the same chain in about a minute (tests, smoke checks).
DEMO_PRESETS: dict[str, RunConfig] = {
    "default": RunConfig(label_preset=SAMPLE_PRESET),
    "tiny": RunConfig(
        label_preset=SAMPLE_PRESET,
        image_size_px=64,
        planes_per_case=8,
        synth_per_case=8,
        real_train_per_landmark=8,
        real_test_per_landmark=4,
        cyclegan_epochs=1,
        cyclegan_overrides={"ngf": 8, "ndf": 8, "n_blocks": 1, "denoiser_steps": 20, "denoiser_filters": 8,
                            "denoiser_depth": 3, "crop_margin_px": 8, "pool_size": 4},
        classifier_overrides={"epochs": 1},
        ratios=(0.0, 0.5),
        minutes=3.0,
    ),
}


def run_demo(
    output_dir: str | os.PathLike[str] = "demo-out",
    eus_dir: str | os.PathLike[str] | None = None,
    preset: str = "default",
    minutes: float | None = None,
    redo: bool = False,
    registry: Registry | None = None,
    keep_checkpoints: bool = False,
) -> Path:
    """Run the demo into ``output_dir``; return the path of ``report.html``.

    ``eus_dir``: real frames in class sub-folders (aorta/, liver/, pancreas/).
    ``minutes``: the wall-clock budget (default 8). Finished stages of an earlier run in
    the same folder are reused unless ``redo``. ``keep_checkpoints`` keeps the
    classifiers' ``.keras`` models (deleted after Grad-CAM otherwise) and the translators'
    resume checkpoints (deleted once the whole run has finished otherwise, see
    :func:`eusaug.pipeline.run_files.drop_resume_checkpoints`): without them the folder
    stays under 200 MB.
    """
    config = lookup_preset(DEMO_PRESETS, preset, "demo preset")
    if minutes is not None:
        config = replace(config, minutes=minutes)
    if keep_checkpoints:
        config = replace(config, keep_checkpoints=True)
    case = CaseInput("sample", sample_ct_path(), sample_labels_path())
    report = run_pipeline(output_dir, [case], config, eus_dir=eus_dir, redo=redo, registry=registry,
                          title="eusaug demo: synthetic EUS from the embedded sample CT")
    return report
