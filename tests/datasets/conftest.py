"""Fixtures of the training-data tests: a tiny data set on small kinematical master patterns."""

from __future__ import annotations

import pytest

from synthebsd.config import DatasetConfig, MasterPatternConfig
from synthebsd.phases import get_phase

#: Small and fast: kinematical Li and Cu at Lambert half size 150.
MP_CONFIG = MasterPatternConfig(engine="kinematical", half_size_px=150)


@pytest.fixture(scope="session")
def dataset_cache(cache_dir):
    """The session's master-pattern cache with the data sets' master patterns in it."""
    from synthebsd.simulate import get_master_pattern

    for name in ("Li", "Cu"):
        get_master_pattern(get_phase(name), 20.0, MP_CONFIG, cache_dir)
    return cache_dir


def tiny_config(make_cell_config, **changes) -> DatasetConfig:
    """Three 16 × 20 scenes of 32 × 32 patterns, porosity varied, 4 rows per chunk."""
    scene = make_cell_config(porosity=0.1).model_dump(mode="json")
    settings = {
        "scenes": [{"scene": scene, "vary": {"pores.porosity": {"uniform": [0.0, 0.2]}}}],
        "n_scenes": 3,
        "rows_per_chunk": 4,
        "detector": {"shape_px": (32, 32)},
        "master_pattern": MP_CONFIG.model_dump(),
        "vary": {"patterns.dose_counts": {"log_uniform": [200.0, 2000.0]}},
        "pc_jitter_bruker": (0.005, 0.005, 0.005),
    }
    settings.update(changes)
    return DatasetConfig.model_validate(settings)


@pytest.fixture(scope="session")
def make_dataset_config(make_cell_config):
    """:func:`tiny_config` as a fixture: call it with changes to the settings."""

    def make(**changes):
        return tiny_config(make_cell_config, **changes)

    return make
