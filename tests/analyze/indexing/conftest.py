"""Fixtures of the indexing tests: small kinematical models and patterns made from them."""

from __future__ import annotations

import numpy as np
import pytest

from synthebsd.config import MasterPatternConfig
from synthebsd.phases import get_phase


@pytest.fixture(scope="session")
def small_models(cache_dir, detector):
    """Kinematical Li and Cu at Lambert half size 150, smoothed: the indexer's models."""
    from synthebsd.analyze import smooth_master_pattern
    from synthebsd.simulate import get_master_pattern

    config = MasterPatternConfig(engine="kinematical", half_size_px=150)
    return {
        name: smooth_master_pattern(
            get_master_pattern(get_phase(name), 20.0, config, cache_dir), detector
        )
        for name in ("Li", "Cu")
    }


def _model_patterns(model, rotations, detector):
    """Clean patterns of the model itself (point sampling, as the indexer projects)."""
    from synthebsd.simulate import render_kikuchi

    return render_kikuchi(model, rotations, detector, 20.0).reshape(-1, *detector.shape)


def _noisy_patterns(master_pattern, rotations, detector, dose, seed):
    """Background × (1 + 0.3 k̃) with pixel integration and PSF, Poisson noise."""
    from synthebsd.simulate import backscatter_background, project_kikuchi_signal

    kikuchi = project_kikuchi_signal(
        master_pattern, rotations, detector, 20.0, oversample=2, psf_sigma_px=0.5
    )
    lam = dose * backscatter_background(detector) * (1 + 0.3 * kikuchi)
    return np.random.default_rng(seed).poisson(lam).astype(np.float32)


def _errors_deg(truth, rotations, phase):
    from orix.quaternion import Orientation

    o_true = Orientation(truth, symmetry=phase.point_group)
    return o_true.angle_with(Orientation(rotations, symmetry=phase.point_group), degrees=True)


@pytest.fixture(scope="session")
def model_patterns():
    """:func:`_model_patterns` as a fixture."""
    return _model_patterns


@pytest.fixture(scope="session")
def noisy_patterns():
    """:func:`_noisy_patterns` as a fixture."""
    return _noisy_patterns


@pytest.fixture(scope="session")
def errors_deg():
    """Disorientation in degrees between two sets of rotations of one phase."""
    return _errors_deg
