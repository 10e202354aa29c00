"""Weights: random ones from a seed only, local files loaded or refused with the reason."""

from __future__ import annotations

import numpy as np
import pytest

from eusaug.errors import EusaugError
from eusaug.evaluate.weights import load_into, randomise, resolve_weights


def _network(width: int = 4):
    import keras

    return keras.Sequential([keras.Input((8, 8, 1)), keras.layers.Conv2D(width, 3), keras.layers.Flatten(),
                             keras.layers.Dense(3)])


def test_random_weights_depend_on_the_seed_only():
    def weights(seed):
        model = _network()
        randomise(model, seed)
        return [w.numpy() for w in model.weights]

    a, b, c = weights(1), weights(1), weights(2)
    assert all(np.array_equal(x, y) for x, y in zip(a, b, strict=True))
    assert not np.array_equal(a[0], c[0])
    # He scaling: kernel variance 2 / fan_in (uniform on +-sqrt(6 / fan_in)).
    assert np.abs(a[0]).max() <= np.sqrt(6 / 9) and a[0].var() == pytest.approx(2 / 9, rel=0.3)


def test_weights_file_round_trip_and_mismatch(tmp_path):
    source = _network()
    randomise(source, 5)
    source.save_weights(tmp_path / "net.weights.h5")
    choice = resolve_weights(tmp_path / "net.weights.h5", "net")
    assert choice.source == "file" and not choice.is_random
    target = _network()
    load_into(target, choice)
    assert all(np.array_equal(x.numpy(), y.numpy()) for x, y in zip(source.weights, target.weights, strict=True))
    with pytest.raises(EusaugError, match="does not fit the net network"):
        load_into(_network(width=6), choice)
    assert resolve_weights("none", "net", seed=3).identity() == "net:random:seed=3"
    assert choice.identity() != resolve_weights(tmp_path / "net.weights.h5", "other").identity()
