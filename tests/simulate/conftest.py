"""Fixtures of the renderer and pattern-physics tests: small kinematical master patterns."""

from __future__ import annotations

import pytest

from synthebsd.config import MasterPatternConfig
from synthebsd.phases import get_phase


@pytest.fixture(scope="session")
def small_master_patterns(cache_dir):
    """Kinematical Li, Na and Cu at Lambert half size 150 (seconds, cached per session)."""
    from synthebsd.simulate import get_master_pattern

    config = MasterPatternConfig(engine="kinematical", half_size_px=150)
    return {
        name: get_master_pattern(get_phase(name), 20.0, config, cache_dir)
        for name in ("Li", "Na", "Cu")
    }
