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


def small_cell_config(
    shape_px=(16, 20),
    step_size_um=0.5,
    collector_um=2.0,
    metal_um=4.5,
    porosity=0.0,
    pore_diameter_um=1.5,
    metal_ecd_um=2.0,
    collector_ecd_um=1.0,
    electrolyte_ecd_um=1.5,
    metal="Li",
    collector="Cu",
    amorphous_electrolyte=True,
):
    """A small cross-section's configuration (uniform textures, no sub-grains) for tests;
    the LLZTO electrolyte is amorphous (background only) unless asked otherwise."""
    from synthebsd.config import GrainConfig, LayerConfig, MicrostructureConfig, PoreConfig

    return MicrostructureConfig(
        name="test",
        shape_px=shape_px,
        step_size_um=step_size_um,
        collector=LayerConfig(
            phase=collector,
            thickness_um=collector_um,
            grains=GrainConfig(mean_ecd_um=collector_ecd_um),
        ),
        metal=LayerConfig(
            phase=metal, thickness_um=metal_um, grains=GrainConfig(mean_ecd_um=metal_ecd_um)
        ),
        electrolyte=LayerConfig(
            phase="LLZTO",
            grains=GrainConfig(mean_ecd_um=electrolyte_ecd_um),
            amorphous=amorphous_electrolyte,
        ),
        pores=PoreConfig(porosity=porosity, mean_diameter_um=pore_diameter_um),
    )


def small_cell(seed=0, **settings):
    """The generated map of :func:`small_cell_config` (same settings) for ``seed``."""
    from synthebsd.simulate import generate_microstructure

    return generate_microstructure(small_cell_config(**settings), seed)


@pytest.fixture(scope="session")
def make_cell():
    """:func:`small_cell` as a fixture."""
    return small_cell


@pytest.fixture(scope="session")
def make_cell_config():
    """:func:`small_cell_config` as a fixture."""
    return small_cell_config
