"""Old module paths (eusaug 0.1, before the stage subpackages) keep working for one release.

``import eusaug.volume`` still gives the names of :mod:`eusaug.ct.volume`, with a
DeprecationWarning that names the new path. Remove in eusaug 0.3.
"""

from __future__ import annotations

import importlib
import importlib.abc
import importlib.machinery
import sys
import warnings
from types import ModuleType

#: Old module -> the module that holds its names now.
MOVED = {
    "eusaug.atomic": "eusaug.io.atomic",
    "eusaug.imageio": "eusaug.io.images",
    "eusaug.results": "eusaug.io.tables",
    "eusaug.progress": "eusaug.io.progress",
    "eusaug.checkpoint": "eusaug.io.checkpoint",
    "eusaug.labels": "eusaug.ct.labels",
    "eusaug.volume": "eusaug.ct.volume",
    "eusaug.sample": "eusaug.ct.sample_case",
    "eusaug.summary": "eusaug.ct.describe",
    "eusaug.interpolate": "eusaug.geometry.interpolate",
    "eusaug.surface": "eusaug.geometry.surface",
    "eusaug.slicing": "eusaug.geometry.planes",
    "eusaug.interfaces": "eusaug.plugin.interfaces",
    "eusaug.hookspecs": "eusaug.plugin.hookspecs",
    "eusaug.registry": "eusaug.plugin.registry",
    "eusaug.pose_plot": "eusaug.poses.plot",
    "eusaug.slice_export": "eusaug.poses.export",
    "eusaug.train": "eusaug.translate.train",
    "eusaug.synth": "eusaug.translate.synth",
    "eusaug.models": "eusaug.translate.model_store",
    "eusaug.classfolders": "eusaug.mix.labelled_sets",
    "eusaug.augment": "eusaug.mix.augment",
    "eusaug.features": "eusaug.evaluate.features",
    "eusaug.fid": "eusaug.evaluate.fid",
    "eusaug.fid_report": "eusaug.evaluate.fid_compare",
    "eusaug.pretrained": "eusaug.evaluate.weights",
    "eusaug.classifier": "eusaug.evaluate.classifier",
    "eusaug.mcnemar": "eusaug.evaluate.mcnemar",
    "eusaug.gradcam": "eusaug.evaluate.gradcam",
    "eusaug.stages": "eusaug.pipeline.stage_runner",
    "eusaug.protocol": "eusaug.pipeline",
    "eusaug.demo": "eusaug.pipeline.demo",
    "eusaug.reproduce": "eusaug.pipeline.reproduce",
    "eusaug.report": "eusaug.io.html_report",
    "eusaug.run_report": "eusaug.pipeline.run_report",
    # eusaug 0.2's pipeline modules, renamed for what they hold
    "eusaug.pipeline.engine": "eusaug.pipeline.protocol",
    "eusaug.pipeline.stages": "eusaug.pipeline.stage_runner",
    "eusaug.pipeline.steps": "eusaug.pipeline",
}


class _MovedModules(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    """Serves each old path as a thin module that forwards attribute look-ups to the new one."""

    def find_spec(self, fullname: str, path: object = None, target: object = None) -> importlib.machinery.ModuleSpec | None:
        if fullname not in MOVED:
            return None
        return importlib.machinery.ModuleSpec(fullname, self)

    def create_module(self, spec: importlib.machinery.ModuleSpec) -> ModuleType | None:
        return None

    def exec_module(self, module: ModuleType) -> None:
        new_name = MOVED[module.__name__]
        warnings.warn(f"{module.__name__} moved to {new_name}; the old path goes away in eusaug 0.3.",
                      DeprecationWarning, stacklevel=3)
        target = importlib.import_module(new_name)
        module.__doc__ = target.__doc__
        module.__dict__["__getattr__"] = lambda name: getattr(target, name)
        module.__dict__["__dir__"] = lambda: dir(target)


def install() -> None:
    """Add the forwarding finder once (after the normal finders, so real modules win)."""
    if not any(isinstance(f, _MovedModules) for f in sys.meta_path):
        sys.meta_path.append(_MovedModules())
