"""Albumentations transforms for ultrasound and for synthetic data.

They subclass albumentations' own base classes, so they go into ``A.Compose`` next to
the built-in transforms, are reproducible under ``A.Compose(..., seed=...)`` and
serialise with ``A.to_dict`` / ``A.from_dict``:

* :class:`SyntheticSwap` -- with probability ``p`` replaces the image by a synthetic one
  of the same class, drawn from a bank; a synthetic ratio on the fly;
* :class:`TranslateCT` -- turns a CT plane into sEUS with any registered translator;
* :class:`SectorMask` -- blanks what lies outside a curvilinear (or linear) field of view;
* :class:`SpeckleNoise` -- multiplicative Rayleigh speckle;
* :class:`DepthGain` -- a random time-gain-compensation curve along depth.

Images follow albumentations' conventions: ``uint8`` in [0, 255] or ``float32`` in
[0, 1] (eusaug's own [-1, 1] arrays map to it as ``(x + 1) / 2``), greyscale ``(H, W)``
or ``(H, W, C)``; every transform returns the dtype and shape it was given. Each
validates its arguments in ``__init__`` (raising :class:`~eusaug.errors.EusaugError`),
draws all its randomness in ``get_params_dependent_on_data`` from the generator
albumentations seeds, and its ``apply`` is a function of the image and those parameters.

Each lives in a module of its own (:mod:`.swap`, :mod:`.translate_ct`,
:mod:`.ultrasound_transforms`, helpers in :mod:`.transform_helpers`); this module keeps
the names importable from here.
"""

from __future__ import annotations

from eusaug.mix.swap import SyntheticSwap
from eusaug.mix.transform_helpers import SWAP_FITS, SwapFit, fit_into_frame, fov_on_grid
from eusaug.mix.translate_ct import TranslateCT
from eusaug.mix.ultrasound_transforms import DepthGain, SectorMask, SpeckleNoise

__all__ = ["DepthGain", "SWAP_FITS", "SectorMask", "SpeckleNoise", "SwapFit", "SyntheticSwap", "TranslateCT",
           "fit_into_frame", "fov_on_grid"]
