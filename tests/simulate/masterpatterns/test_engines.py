"""Dynamical (de-ebsd) and kinematical (kikuchipy) master patterns through our interface:
validated against EMsoft, against each other, and for crystal symmetry."""

import numpy as np
import pytest
from diffpy.structure import Atom, Lattice, Structure
from kikuchipy.signals import EBSD, EBSDMasterPattern
from orix.crystal_map import Phase, PhaseList
from orix.quaternion import Orientation, Rotation

from synthebsd.analyze import (
    hough_index,
    pattern_ncc,
    preprocess_patterns,
    smooth_master_pattern,
)
from synthebsd.config import MasterPatternConfig
from synthebsd.phases import get_phase
from synthebsd.simulate import (
    compute_master_pattern,
    lambert_half_size,
    project_kikuchi_signal,
    random_rotations,
)

# The top energy bin (one de-ebsd run, not six): symmetry does not depend on the weighting.
SMALL_DYNAMICAL = {"engine": "dynamical", "n_electrons": 20_000, "energy_weighting": "incident"}


def _patterns(mp, rotations, detector):
    return mp.get_patterns(
        rotations, detector, energy=20, compute=True, show_progressbar=False
    ).data


@pytest.fixture(scope="module")
def ni_reference():
    import kikuchipy as kp

    return kp.data.nickel_ebsd_master_pattern_small(projection="lambert", hemisphere="both")


def test_ni_dynamical_matches_emsoft_better_than_kinematical(ni_reference, detector):
    """Ni through our phase table (Debye B at 293 K) against kikuchipy's shipped EMsoft Ni."""
    ni = get_phase("Ni")
    rot = random_rotations(150, np.random.default_rng(4))
    reference = _patterns(ni_reference, rot, detector)
    ncc = {}
    for engine in ("dynamical", "kinematical"):
        # The shipped EMsoft Ni holds one energy, 20 kV: compare with our top energy bin.
        cfg = MasterPatternConfig(
            engine=engine, half_size_px=120, n_electrons=20_000, energy_weighting="incident"
        )
        ncc[engine] = np.median(
            pattern_ncc(_patterns(compute_master_pattern(ni, 20.0, cfg), rot, detector), reference)
        )
    # Measured: dynamical 0.92-0.93, kinematical about 0.6 (see the README).
    assert ncc["dynamical"] >= 0.9
    assert ncc["dynamical"] > ncc["kinematical"] + 0.1


def test_weak_scatterers_get_the_finer_default_grid():
    """Li and Na (every atom Z <= 11) default to half size 1000, Cu to 500."""
    config = MasterPatternConfig(**SMALL_DYNAMICAL)
    for name, half in (("Li", 1000), ("Na", 1000), ("Cu", 500)):
        assert lambert_half_size(get_phase(name), config) == half


@pytest.fixture(scope="module")
def dynamical_bcc(cache_dir):
    """Dynamical Li at its default grid (1000) and Na at 300, top energy bin, cached."""
    from synthebsd.simulate import get_master_pattern

    config = MasterPatternConfig(**SMALL_DYNAMICAL)
    return {
        "Li": get_master_pattern(get_phase("Li"), 20.0, config, cache_dir),
        "Na": get_master_pattern(
            get_phase("Na"), 20.0, config.model_copy(update={"half_size_px": 300}), cache_dir
        ),
    }


@pytest.mark.parametrize("name", ["Cu", "Li"])
def test_dynamical_symmetry_equivalents(name, detector, dynamical_bcc):
    """Symmetry-equivalent orientations give the same rendered pattern (pixel integration
    and PSF in the detector plane, as the renderer does), at the phase's default Lambert
    resolution. Li and Na scatter weakly: their lines are narrower than a Lambert pixel
    at half size 500 and the sampled master pattern aliases (minimum NCC Li 0.960, Na
    0.978 there), hence their default of 1000 (measured minimum Li 0.991, Na 0.994).
    Li stands for both here: Na's grid of 1000 takes 130 s on CI's cores, and the rule
    that gives both their grid is the one tested above."""
    if name == "Li":
        mp = dynamical_bcc["Li"]
    else:  # Cu is already >= 0.99 at 300, a third of the time of its default 500
        config = MasterPatternConfig(**SMALL_DYNAMICAL, half_size_px=300)
        mp = compute_master_pattern(get_phase(name), 20.0, config)
    rot = random_rotations(20, np.random.default_rng(2))
    ops = Rotation(mp.phase.point_group.proper_subgroup.data)
    # 3-fold about [111] and 4-fold about [100]: not on the Lambert grid, so they test
    # the master pattern's symmetry, not the grid's.
    for op in (
        ops[np.isclose(ops.angle, 2 * np.pi / 3)][0],
        Rotation.from_axes_angles([1, 0, 0], np.pi / 2),
    ):
        o1 = Orientation(rot, symmetry=mp.phase.point_group)
        o2 = Orientation(op * rot, symmetry=mp.phase.point_group)
        assert np.allclose(o1.angle_with(o2, degrees=True), 0, atol=1e-4)
        p1 = project_kikuchi_signal(mp, rot, detector, 20.0, oversample=2, psf_sigma_px=0.5)
        p2 = project_kikuchi_signal(mp, op * rot, detector, 20.0, oversample=2, psf_sigma_px=0.5)
        assert pattern_ncc(p1, p2).min() >= 0.99


def test_axes_and_hemispheres_agree_between_engines(detector):
    """A triclinic crystal has no symmetry to hide a transposed or swapped Lambert grid:
    the dynamical engine's patterns agree with kikuchipy's kinematical ones only as computed.
    Measured: 0.53 as computed; 0.35 transposed, 0.34 hemispheres swapped, 0.44 x flipped."""
    atom = Atom("Li", (0, 0, 0))
    atom.Uisoequiv = 0.04
    triclinic = Phase(
        name="triclinic",
        space_group=2,
        structure=Structure(atoms=[atom], lattice=Lattice(3.0, 3.6, 4.3, 80, 95, 105)),
    )
    cfg = {"half_size_px": 100, "min_dspacing_angstrom": 0.7}
    dyn = compute_master_pattern(
        triclinic, 20.0, MasterPatternConfig(**cfg, **SMALL_DYNAMICAL)
    ).data
    kin = compute_master_pattern(triclinic, 20.0, MasterPatternConfig(engine="kinematical", **cfg))
    rot = random_rotations(100, np.random.default_rng(0))

    def project(data):
        mp = EBSDMasterPattern(
            np.ascontiguousarray(data), projection="lambert", hemisphere="both", phase=triclinic
        )
        return _patterns(smooth_master_pattern(mp, detector), rot, detector)

    reference = _patterns(smooth_master_pattern(kin, detector), rot, detector)
    as_computed = np.median(pattern_ncc(project(dyn), reference))
    for wrong in (dyn.transpose(0, 2, 1), dyn[::-1], dyn[:, :, ::-1], dyn[:, ::-1]):
        assert as_computed > np.median(pattern_ncc(project(wrong), reference)) + 0.07


@pytest.mark.parametrize("name", ["Li", "Na"])
def test_hough_indexes_clean_dynamical_bcc_metal(name, detector, dynamical_bcc):
    """With {110}, {200}, {211}, PyEBSDIndex finds ≥ 95 % of clean dynamical Li and Na
    patterns within 2° (PyEBSDIndex's default BCC families mis-index about 40 % of Li)."""
    mp = dynamical_bcc[name]
    rot = random_rotations(100, np.random.default_rng(8))
    clean = project_kikuchi_signal(mp, rot, detector, 20.0, oversample=2, psf_sigma_px=0.5)
    patterns = preprocess_patterns(EBSD((1 + 0.3 * clean).astype(np.float32)))
    result = hough_index(patterns, PhaseList(mp.phase), detector, min_confidence=0.0)
    err = Orientation(rot, symmetry=mp.phase.point_group).angle_with(
        Orientation(result.xmap.rotations, symmetry=mp.phase.point_group), degrees=True
    )
    assert np.mean(err < 2.0) >= 0.95
