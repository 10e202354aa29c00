"""FID and KID on features with known answers (no network involved)."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.linalg

from eusaug.errors import EusaugError
from eusaug.evaluate.fid import (
    feature_statistics,
    fid_from_features,
    fid_from_stats,
    frechet_distance,
    kernel_inception_distance,
    trace_sqrt_product,
)


def _closed_form(mu1, s1, mu2, s2) -> float:
    root = scipy.linalg.sqrtm(scipy.linalg.sqrtm(s1) @ s2 @ scipy.linalg.sqrtm(s1)).real
    return float(np.sum((mu1 - mu2) ** 2) + np.trace(s1 + s2 - 2 * root))


@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng(7)


@pytest.mark.parametrize("n, d", [(400, 16), (30, 64)])  # more and fewer images than dimensions
@pytest.mark.parametrize("method", ["eigen", "sqrtm"])
def test_fid_of_a_set_with_itself_is_zero(rng, n, d, method):
    features = rng.normal(size=(n, d)) * rng.uniform(0.5, 3.0, size=d) + rng.normal(size=d)
    assert fid_from_features(features, features, method) == pytest.approx(0.0, abs=1e-6)


def test_fid_of_diagonal_gaussians_is_the_textbook_value():
    mu1, mu2 = np.array([0.0, 1.0, -2.0]), np.array([1.0, 1.0, 0.0])
    var1, var2 = np.array([1.0, 4.0, 9.0]), np.array([4.0, 1.0, 1.0])
    # |mu1 - mu2|^2 + sum (sd1 - sd2)^2 = (1 + 0 + 4) + (1 + 1 + 4) = 11
    for method in ("eigen", "sqrtm"):
        assert frechet_distance(mu1, np.diag(var1), mu2, np.diag(var2), method) == pytest.approx(11.0, abs=1e-9)


def test_fid_of_samples_from_known_gaussians_matches_the_closed_form(rng):
    d = 4
    a, b = rng.normal(size=(d, d)), rng.normal(size=(d, d))
    s1, s2 = a @ a.T + np.eye(d), b @ b.T + 0.5 * np.eye(d)
    mu1, mu2 = rng.normal(size=d), rng.normal(size=d)
    expected = _closed_form(mu1, s1, mu2, s2)
    x = rng.multivariate_normal(mu1, s1, size=200_000)
    y = rng.multivariate_normal(mu2, s2, size=200_000)
    assert fid_from_features(x, y) == pytest.approx(expected, rel=0.02)
    # From the exact parameters both square-root methods give the closed form.
    for method in ("eigen", "sqrtm"):
        assert frechet_distance(mu1, s1, mu2, s2, method) == pytest.approx(expected, rel=1e-9)


@pytest.mark.parametrize("n1, n2, d", [(300, 250, 20), (40, 55, 128)])
def test_fid_is_symmetric_and_routes_agree(rng, n1, n2, d):
    x = rng.normal(size=(n1, d))
    y = rng.normal(0.3, 1.5, size=(n2, d))
    forward, backward = fid_from_features(x, y), fid_from_features(y, x)
    assert forward > 1.0
    assert forward == pytest.approx(backward, rel=1e-9)
    via_stats = [fid_from_stats(feature_statistics(x), feature_statistics(y), m) for m in ("eigen", "sqrtm")]
    assert via_stats == pytest.approx([forward, forward], rel=1e-6)


def test_kid_is_near_zero_for_one_distribution_and_clearly_positive_for_two(rng):
    x = rng.normal(size=(600, 32))
    same = rng.normal(size=(600, 32))
    shifted = rng.normal(0.5, 1.0, size=(600, 32))
    kid_same = kernel_inception_distance(x, same, n_subsets=20, subset_size=200, seed=0)
    kid_diff = kernel_inception_distance(x, shifted, n_subsets=20, subset_size=200, seed=0)
    assert kid_same.subset_size == 200 and kid_same.n_subsets == 20
    assert abs(kid_same.mean) < 3 * kid_same.std + 1e-3
    assert kid_diff.mean > 20 * abs(kid_same.mean)
    assert kid_diff.mean > 5 * kid_diff.std


def test_kid_subsets_shrink_to_the_smaller_set(rng):
    result = kernel_inception_distance(rng.normal(size=(30, 8)), rng.normal(size=(50, 8)), 5, 1000)
    assert result.subset_size == 30


def test_too_few_images_or_bad_covariances_are_clear_errors(rng):
    with pytest.raises(EusaugError, match="at least 2"):
        fid_from_features(rng.normal(size=(1, 8)), rng.normal(size=(5, 8)))
    with pytest.raises(EusaugError, match="dimensions"):
        fid_from_features(rng.normal(size=(5, 8)), rng.normal(size=(5, 9)))
    not_psd = np.diag([1.0, -4.0])
    with pytest.raises(EusaugError, match="negative eigenvalue"):
        trace_sqrt_product(np.eye(2), not_psd, "eigen")
    with pytest.raises(EusaugError, match="imaginary"):
        trace_sqrt_product(np.eye(2), not_psd, "sqrtm")
