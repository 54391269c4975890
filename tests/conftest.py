"""Shared fixtures: master patterns computed once per session in a private cache."""

from __future__ import annotations

import os

import pytest

from synthebsd.config import DetectorConfig, MasterPatternConfig
from synthebsd.phases import get_phase


@pytest.fixture(scope="session")
def cache_dir(tmp_path_factory):
    path = tmp_path_factory.mktemp("mp-cache")
    os.environ["SYNTHEBSD_CACHE"] = str(path)  # never touch the user's cache from tests
    return path


@pytest.fixture(scope="session")
def mp_config():
    """Kinematical (seconds per phase); dynamical tests use their own small settings."""
    return MasterPatternConfig(engine="kinematical")


@pytest.fixture(scope="session")
def master_patterns(cache_dir, mp_config):
    from synthebsd.simulate import get_master_pattern

    return {
        name: get_master_pattern(get_phase(name), 20.0, mp_config, cache_dir)
        for name in ("Li", "Cu")
    }


@pytest.fixture(scope="session")
def detector():
    from synthebsd.simulate import make_detector

    return make_detector(DetectorConfig())
