"""Crystalline electrolytes give patterns of their own phase, not of the metal's.

One electrolyte point per phase (LLZTO, LPSCl, NZSP) is rendered through
:class:`~synthebsd.simulate.PatternModel` with Poisson noise at the default dose and
band contrast. After dividing by the backscatter background, its NCC with its own phase's
pattern at the true orientation must be far above its NCC with the metal's (Li) best
pattern over a 6° orientation grid and with its own phase at random orientations. Master
patterns are small: kinematical for the cubic ones, a low-resolution dynamical one for
NZSP (the kinematical engine refuses its non-orthogonal cell).
"""

import numpy as np
import pytest
from orix.sampling import get_sample_fundamental

from synthebsd.analyze import pattern_ncc
from synthebsd.config import MasterPatternConfig, PatternConfig
from synthebsd.conventions import Region
from synthebsd.phases import get_phase
from synthebsd.simulate import (
    PatternModel,
    generate_microstructure,
    get_master_pattern,
    make_detector,
    project_kikuchi_signal,
    random_rotations,
)

SMALL_MP = {
    "LLZTO": MasterPatternConfig(
        engine="kinematical", half_size_px=100, min_dspacing_angstrom=1.0
    ),
    "LPSCl": MasterPatternConfig(
        engine="kinematical", half_size_px=100, min_dspacing_angstrom=1.0
    ),
    # de-ebsd, top energy bin, Lambert half size 25, d_min 2.5 Å, 1,000 electrons: the
    # smallest settings (seconds, not the minutes of its default 32 and 1.5 Å).
    "NZSP": MasterPatternConfig(
        engine="dynamical",
        energy_weighting="incident",
        half_size_px=25,
        min_dspacing_angstrom=2.5,
        n_electrons=1000,
    ),
}


@pytest.fixture(scope="module")
def li_dictionary(master_patterns):
    """Li patterns (k̃) on a 6° grid of its fundamental zone (m-3m)."""
    li = master_patterns["Li"]
    grid = get_sample_fundamental(resolution=6, point_group=li.phase.point_group)
    det = make_detector()
    return project_kikuchi_signal(li, grid, det, 20.0, 2, 0.5)


@pytest.mark.parametrize("name", ["LLZTO", "LPSCl", "NZSP"])
def test_electrolyte_point_matches_its_own_phase(
    name, make_cell_config, master_patterns, cache_dir, li_dictionary
):
    config = make_cell_config(shape_px=(10, 8), collector_um=1.0, metal_um=2.0)
    electrolyte = config.electrolyte.model_copy(update={"phase": name, "amorphous": False})
    xmap = generate_microstructure(config.model_copy(update={"electrolyte": electrolyte}), 1)
    points = np.flatnonzero(np.asarray(xmap.prop["region"]) == Region.ELECTROLYTE)
    assert points.size and np.all(xmap.phase_id[points] == 2)
    assert xmap.phases[2].name == name
    own_mp = get_master_pattern(get_phase(name), 20.0, SMALL_MP[name], cache_dir)
    det = make_detector()
    pcfg = PatternConfig()
    model = PatternModel(
        xmap, {0: master_patterns["Li"], 1: master_patterns["Cu"], 2: own_mp}, det, pcfg, 20.0
    )
    i = int(points[points.size // 2])
    expected = model.expected(i, i + 1)[0]
    rng = np.random.default_rng(7)
    counts = rng.poisson(expected).astype(np.float64)
    signal = counts / model.backgrounds(np.array([i]))  # static background removed
    truth = xmap.rotations[i]
    own = project_kikuchi_signal(own_mp, truth, det, 20.0, pcfg.oversample, pcfg.psf_sigma_px)
    ncc_own = float(pattern_ncc(signal, own[0]))
    ncc_metal = float(pattern_ncc(signal[None], li_dictionary).max())
    others = project_kikuchi_signal(
        own_mp, random_rotations(50, np.random.default_rng(3)), det, 20.0, 2, 0.5
    )
    ncc_random = float(pattern_ncc(signal[None], others).max())
    print(f"{name}: own {ncc_own:.3f}, Li best {ncc_metal:.3f}, own random {ncc_random:.3f}")
    # Measured (6° Li grid): LLZTO passes; LPSCl own 0.769, Li best 0.473, own random
    # 0.112; NZSP 0.683, 0.119, 0.057.
    assert ncc_own > 0.6
    assert ncc_own > ncc_metal + 0.2
    assert ncc_own > ncc_random + 0.25
