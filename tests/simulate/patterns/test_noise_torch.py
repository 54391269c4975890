"""Torch noise (training data): the distributions of the NumPy camera model, seeded per unit."""

import numpy as np
import pytest
import torch
from scipy import stats

from synthebsd.config import CameraConfig
from synthebsd.simulate import (
    camera_counts,
    camera_counts_torch,
    camera_moments,
    poisson_counts_torch,
    thin_counts_torch,
    torch_generator,
)


def _chi2_pvalue(samples: np.ndarray, pmf) -> float:
    values, counts = np.unique(samples, return_counts=True)
    expected = pmf(values) * samples.size
    keep = expected > 20
    observed = np.append(counts[keep], counts[~keep].sum())
    expected = np.append(expected[keep], samples.size - expected[keep].sum())
    return stats.chisquare(observed, expected).pvalue


@pytest.mark.parametrize("lam", [0.7, 6.0, 55.0, 900.0])
def test_poisson_matches_the_distribution(lam):
    gen = torch_generator(5, 1, 0)
    samples = poisson_counts_torch(torch.full((200_000,), lam), gen).numpy()
    assert _chi2_pvalue(samples, lambda k: stats.poisson.pmf(k, lam)) > 1e-3


def test_poisson_saturates_and_is_seeded():
    lam = torch.tensor([1e6, 10.0])
    a = poisson_counts_torch(lam, torch_generator(1, 12, 4, 80))
    b = poisson_counts_torch(lam, torch_generator(1, 12, 4, 80))
    c = poisson_counts_torch(lam, torch_generator(1, 12, 4, 81))
    assert a[0] == 65535 and torch.equal(a, b)
    big = torch.full((1000,), 30.0)
    assert not torch.equal(
        poisson_counts_torch(big, torch_generator(1, 12, 4, 80)),
        poisson_counts_torch(big, torch_generator(1, 12, 4, 81)),
    )
    assert c.dtype == torch.float32


@pytest.mark.parametrize("mode", ["charge", "digital"])
def test_camera_moments_match_the_numpy_model(mode):
    camera = CameraConfig(
        enabled=True,
        gain_adu_per_electron=2.5,
        read_noise_adu=4.0,
        offset_adu=100.0,
        bit_depth=16,
        binning=2,
        binning_mode=mode,
    )
    lam = np.full(400_000, 40.0)
    adu = camera_counts_torch(torch.from_numpy(lam), camera, torch_generator(0, 1, 0)).numpy()
    mean, var = camera_moments(lam[:1], camera)
    # Rounding to whole ADU adds 1/12 to the variance.
    assert abs(adu.mean() - mean[0]) < 0.05
    assert abs(adu.var() / (var[0] + 1 / 12) - 1) < 0.01
    numpy_adu = camera_counts(lam.reshape(400, 1000), camera, 0, np.arange(400))
    assert abs(numpy_adu.mean() - adu.mean()) < 0.1
    assert abs(numpy_adu.var() / adu.var() - 1) < 0.02


def test_camera_clips_to_bit_depth():
    camera = CameraConfig(enabled=True, bit_depth=8, gain_adu_per_electron=10.0)
    adu = camera_counts_torch(torch.full((100,), 1000.0), camera, torch_generator(0, 1, 0))
    assert adu.max() == 255


def test_thinning_is_poisson_at_the_lower_dose():
    lam, f = 300.0, 0.2
    counts = poisson_counts_torch(torch.full((50, 4000), lam), torch_generator(0, 1, 1))
    thinned = thin_counts_torch(counts, torch.full((50,), f), torch_generator(0, 2, 1)).numpy()
    assert _chi2_pvalue(thinned.ravel(), lambda k: stats.poisson.pmf(k, f * lam)) > 1e-3
    assert np.all(thinned <= counts.numpy())


def test_samplers_follow_the_device():
    lam = torch.full((3, 8, 8), 50.0, device="meta")
    assert torch_generator(0, 1, 0, device="meta") is None
    assert poisson_counts_torch(lam, None).device.type == "meta"
    camera = CameraConfig(enabled=True)
    assert camera_counts_torch(lam, camera, None).device.type == "meta"
