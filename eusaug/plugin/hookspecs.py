"""The hooks through which plugins contribute to eusaug.

A plugin is any module or object with functions marked ``@hookimpl`` and named like
the specs below, made known through the ``eusaug`` entry-point group::

    # pyproject.toml of your package
    [project.entry-points.eusaug]
    my-plugin = "my_package.eusaug_plugin"

    # my_package/eusaug_plugin.py
    from eusaug import hookimpl
    from eusaug.plugin.interfaces import Translator

    class Inverted(Translator):
        name = "inverted"
        description = "Negative of the windowed CT plane."
        def translate(self, planes, rng):
            return -planes.windowed()

    @hookimpl
    def eusaug_translators():
        return [Inverted]

Each kind's hook returns a list of plugin *classes* (not instances); eusaug instantiates
them, with the options object of the class's ``options_class`` (see
:mod:`eusaug.plugin.options`). ``eusaug_feature_backbones`` returns named factories.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pluggy

PROJECT = "eusaug"
#: The entry-point group that bundled and third-party plugins are found through.
ENTRY_POINT_GROUP = "eusaug"

hookspec = pluggy.HookspecMarker(PROJECT)
hookimpl = pluggy.HookimplMarker(PROJECT)


@hookspec
def eusaug_pose_samplers() -> list[type]:
    """Contribute :class:`eusaug.plugin.interfaces.PoseSampler` subclasses.

    ``sample(case, landmark, n, fov, rng, slice_filter)`` (``landmark`` checked by the
    caller: an :class:`eusaug.ct.Landmark`, a ``str`` carrying its ``label_id``) returns ``(n, 4, 4)`` float64
    poses in world millimetres (RAS+): origin at the transducer on the stomach wall,
    column 0 lateral (across the image), column 1 the beam (depth), column 2 their
    cross product. It raises ``EusaugError`` with per-reason rejection counts when it
    cannot find ``n`` poses.
    """


@hookspec
def eusaug_slicers() -> list[type]:
    """Contribute :class:`eusaug.plugin.interfaces.Slicer` subclasses.

    ``slice(case, poses, fov)`` returns :class:`eusaug.geometry.planes.Planes`: ``hu``
    ``(N, H, W)`` float32 HU by trilinear interpolation (-1024 outside the CT),
    ``labels`` ``(N, H, W)`` ints by nearest neighbour (0 outside), ``mask``
    ``(N, H, W)`` bool (inside the field of view), and ``inside`` ``(N, H, W)`` bool
    (inside the CT volume; :func:`eusaug.geometry.inside_volume` computes it from the
    plane grid, None counts as all inside), for ``(N, 4, 4)`` poses on the
    ``fov.height_px`` x ``fov.width_px`` grid.
    """


@hookspec
def eusaug_translators() -> list[type]:
    """Contribute :class:`eusaug.plugin.interfaces.Translator` subclasses.

    ``load(model, **options)`` builds an instance (``model`` is a path, or None for
    translators that need no training); ``translate(planes, rng)`` returns ``(N, H, W)``
    float32 images in [-1, 1], black (-1) where ``planes.visible`` is False (outside the
    field of view or the CT volume: no echo, not noise). Subclass ``TrainableTranslator`` to take part in
    ``eusaug train``.
    """


@hookspec
def eusaug_evaluators() -> list[type]:
    """Contribute :class:`eusaug.plugin.interfaces.Evaluator` subclasses.

    ``options_class`` is the dataclass of the evaluator's options (checked in its
    ``__post_init__``; ``eusaug evaluate NAME`` gets one command-line option per field and
    ``--option KEY=VALUE``); ``run(options, output_dir)``, the one entry point, writes
    CSV/PNG files into ``output_dir`` and returns an ``EvaluationResult`` (title, table
    rows, files, notes).
    """


@hookspec
def eusaug_feature_backbones() -> dict[str, Callable[..., Any]]:
    """Contribute FID/KID feature backbones by name (``--backbone NAME``).

    Each value is ``factory(weights, precision, seed)`` returning an
    :class:`eusaug.evaluate.FeatureExtractor`: ``features(batch)`` maps ``(N, S, S)``
    float32 images in [-1, 1] (``S`` its ``input_size_px``) to ``(N, dims)`` float32, and
    ``identity()`` is a string that changes whenever the features would (the cache key).
    """


#: Hook name for each plugin kind.
HOOK_OF_KIND = {
    "sampler": "eusaug_pose_samplers",
    "slicer": "eusaug_slicers",
    "translator": "eusaug_translators",
    "evaluator": "eusaug_evaluators",
}
