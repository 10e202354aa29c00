"""Which weights a Keras network starts from: ImageNet (offline), a local file, or random.

eusaug never downloads. ``weights="imagenet"`` looks for Keras' own weight file in Keras'
cache (``$KERAS_HOME/models`` or ``~/.keras/models``), where ``keras.applications`` would
have saved it; when it is missing the error says which file to put where. Random weights
are drawn from a seeded ``numpy.random.Generator`` (no global random state), so the same
seed gives the same network and the same numbers, and they come with a loud warning:
metrics computed with them are not comparable with published ones.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Literal

import numpy as np

from eusaug.errors import EusaugError
from eusaug.io.hashing import file_sha256
from eusaug.io.progress import console

if TYPE_CHECKING:
    import keras

WeightsSource = Literal["imagenet", "file", "random"]

#: Keras' file names and download folders of the ImageNet weights eusaug uses (no-top variants).
IMAGENET_FILES: dict[str, tuple[str, str]] = {
    "inception_v3": (
        "inception_v3_weights_tf_dim_ordering_tf_kernels_notop.h5",
        "https://storage.googleapis.com/tensorflow/keras-applications/inception_v3/",
    ),
    "vgg16": (
        "vgg16_weights_tf_dim_ordering_tf_kernels_notop.h5",
        "https://storage.googleapis.com/tensorflow/keras-applications/vgg16/",
    ),
}

RANDOM_NAMES = ("none", "random")


@dataclass(frozen=True)
class WeightsChoice:
    """Resolved weights of one network: where they come from and, for files, the path."""

    network: str
    source: WeightsSource
    path: Path | None = None
    seed: int = 0

    @property
    def is_random(self) -> bool:
        return self.source == "random"

    def identity(self) -> str:
        """A string that changes whenever the weights do (for cache keys)."""
        if self.path is None:
            return f"{self.network}:random:seed={self.seed}"
        return f"{self.network}:{self.source}:sha256={file_sha256(self.path)}"

    def describe(self) -> str:
        if self.path is None:
            return f"random (seed {self.seed})"
        return f"{self.source} ({self.path})"


def keras_models_dir() -> Path:
    """Keras' download cache for application weights."""
    home = os.environ.get("KERAS_HOME") or os.path.join(os.path.expanduser("~"), ".keras")
    return Path(home) / "models"


def resolve_weights(weights: str | os.PathLike[str] | None, network: str, seed: int = 0) -> WeightsChoice:
    """Turn ``"imagenet"``, a path, or ``None``/``"none"``/``"random"`` into a :class:`WeightsChoice`.

    ``network`` is a key of :data:`IMAGENET_FILES` (or any name when no ImageNet file
    exists for it). Raises :class:`EusaugError` when the file is not there.
    """
    if weights is None or (isinstance(weights, str) and weights.strip().lower() in RANDOM_NAMES):
        return WeightsChoice(network, "random", None, seed)
    if isinstance(weights, str) and weights.strip().lower() == "imagenet":
        if network not in IMAGENET_FILES:
            raise EusaugError(f"There are no ImageNet weights for {network!r}: pass --weights PATH or --weights none.")
        file_name, url_dir = IMAGENET_FILES[network]
        path = keras_models_dir() / file_name
        if not path.is_file():
            raise EusaugError(
                f"The ImageNet weights of {network} are not on this machine and eusaug never downloads: "
                f"put {file_name} (from {url_dir}{file_name}) into {path.parent}/, or pass --weights PATH "
                "to a local copy, or --weights none for random weights (numbers not comparable with published ones)."
            )
        return WeightsChoice(network, "imagenet", path, seed)
    path = Path(weights)
    if not path.is_file():
        raise EusaugError(f"Weights file {path} does not exist: pass an existing .h5/.weights.h5 file, "
                          "'imagenet', or 'none'.")
    return WeightsChoice(network, "file", path, seed)


def warn_random(what: str) -> str:
    """Print (loudly, on stderr) and return the warning that goes with random weights."""
    message = (f"{what} uses RANDOM weights: its numbers are only comparable with other runs using the same "
               "backbone and seed, never with published (ImageNet) values.")
    console().print(f"[bold red]WARNING:[/bold red] [red]{message}[/red]")
    return message


def randomise(model: keras.Model | keras.layers.Layer, seed: int) -> None:
    """Give every kernel of ``model`` (or of one layer) He-uniform values drawn from ``seed``.

    He scaling (variance ``2 / fan_in``) keeps the activations' magnitude through ReLU
    layers, so random features do not fade towards zero in deep networks. Biases,
    batch-norm scales and statistics keep their constant initial values, so the whole
    network is a function of ``seed`` alone.
    """
    rng = np.random.default_rng(seed)
    for variable in model.weights:
        shape = tuple(int(s) for s in variable.shape)
        if "kernel" not in variable.path or len(shape) < 2:
            continue
        receptive = int(np.prod(shape[:-2])) if len(shape) > 2 else 1
        limit = float(np.sqrt(6.0 / (shape[-2] * receptive)))
        variable.assign(rng.uniform(-limit, limit, size=shape).astype(np.float32))


def load_into(model: keras.Model, choice: WeightsChoice) -> None:
    """Fill ``model`` with the chosen weights (random ones from the choice's seed)."""
    if choice.path is None:
        randomise(model, choice.seed)
        return
    try:
        model.load_weights(str(choice.path))
    except Exception as exc:  # noqa: BLE001 -- h5py and Keras raise many types for a file that does not fit
        raise EusaugError(
            f"Weights file {choice.path} does not fit the {choice.network} network eusaug builds "
            f"({type(exc).__name__}: {str(exc)[:200]}): pass the no-top weights of that network."
        ) from None
