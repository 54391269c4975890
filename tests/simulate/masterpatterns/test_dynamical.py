"""Dynamical (de-ebsd) master patterns and their EMsoft-format files.

All data are made here or shipped with kikuchipy; nothing is downloaded.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from diffpy.structure import Atom, Lattice, Structure
from orix.crystal_map import Phase
from orix.quaternion import Rotation

from synthebsd.io import read_emsoft_metadata
from synthebsd.simulate import save_master_pattern
from synthebsd.simulate.masterpatterns._dynamical import (
    _to_de_ebsd_crystal,
    dynamical_master_pattern,
)

# Debye-Waller factor of Ni used by kikuchipy's shipped EMsoft Ni master pattern (nm^2).
B_NI_NM2 = 0.0035
# Li at 293 K: B = 8 pi^2 <u^2> from the Debye model with Debye temperature 344 K
# (Kittel, Introduction to Solid State Physics, 8th ed., table 5.1) gives 4.2 A^2.
B_LI_NM2 = 0.042
# Pattern-centre and detector of kikuchipy's Ni example data (60 x 60 px).
PC_NI = (0.4210, 0.2206, 0.5049)


def _cubic_phase(name: str, element: str, space_group: int, a_angstrom: float) -> Phase:
    structure = Structure(
        atoms=[Atom(element, (0.0, 0.0, 0.0), occupancy=1.0)],
        lattice=Lattice(a_angstrom, a_angstrom, a_angstrom, 90, 90, 90),
    )
    return Phase(name=name, space_group=space_group, structure=structure)


def _random_rotations(n: int, seed: int) -> Rotation:
    """Uniformly distributed rotations (normalised Gaussian quaternions)."""
    q = np.random.default_rng(seed).normal(size=(n, 4))
    return Rotation(q / np.linalg.norm(q, axis=1, keepdims=True))


def _detector():
    from kikuchipy.detectors import EBSDDetector

    return EBSDDetector(shape=(60, 60), pc=PC_NI, sample_tilt=70)


def _patterns(master_pattern, rotations: Rotation) -> np.ndarray:
    sim = master_pattern.get_patterns(
        rotations, _detector(), energy=20, compute=True, show_progressbar=False
    )
    return np.asarray(sim.data, dtype=np.float64).reshape(rotations.size, -1)


def _ncc(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Normalised cross-correlation of matching rows."""
    a = a - a.mean(axis=1, keepdims=True)
    b = b - b.mean(axis=1, keepdims=True)
    return (a * b).sum(axis=1) / np.sqrt((a * a).sum(axis=1) * (b * b).sum(axis=1))


@pytest.fixture(scope="module")
def ni_phase() -> Phase:
    return _cubic_phase("Ni", "Ni", 225, 3.524)


@pytest.fixture(scope="module")
def ni_master_pattern(ni_phase):
    return dynamical_master_pattern(
        ni_phase,
        energy_kv=20.0,
        half_size=100,
        min_dspacing_nm=0.05,
        debye_waller_nm2=B_NI_NM2,
        n_electrons=20_000,
        seed=0,
        show_progressbar=False,
        energy_weighting="incident",  # the shipped EMsoft Ni is one energy, 20 kV
    )


@pytest.fixture(scope="module")
def li_phase() -> Phase:
    return _cubic_phase("Li", "Li", 229, 3.51)


def test_master_pattern_layout(ni_master_pattern, ni_phase):
    mp = ni_master_pattern
    assert mp.data.shape == (2, 201, 201)
    assert mp.data.dtype == np.float32
    assert mp.projection == "lambert"
    assert mp.hemisphere == "both"
    assert mp.phase.name == "Ni"
    assert mp.phase.space_group.number == 225
    assert mp.phase is not ni_phase
    assert np.all(np.isfinite(mp.data))
    assert mp.metadata.Simulation.EBSD_master_pattern.energy_kv == pytest.approx(20.0)
    # cubic m-3m: the lower hemisphere is the inversion image of the upper one
    assert np.allclose(mp.data[0], mp.data[1][::-1, ::-1], rtol=1e-4, atol=1e-6)


def test_ni_agrees_with_emsoft(ni_master_pattern):
    from kikuchipy.data import nickel_ebsd_master_pattern_small

    emsoft = nickel_ebsd_master_pattern_small(projection="lambert", hemisphere="both")
    # The shipped file holds one energy: 20 kV (original_metadata EkeVs = [20.]).
    assert float(np.ravel(emsoft.original_metadata.EBSDMasterNameList.npx)[0]) == 200
    assert "energy" not in [ax.name for ax in emsoft.axes_manager.navigation_axes]
    rotations = _random_rotations(100, seed=7)
    ncc = _ncc(_patterns(ni_master_pattern, rotations), _patterns(emsoft, rotations))
    # measured: median 0.928, 5th percentile 0.921 (half_size 100, d_min 0.05 nm,
    # 20,000 electrons); half_size 150 gives 0.940
    assert np.median(ncc) >= 0.90
    assert ncc.min() >= 0.85


def test_deterministic_for_fixed_seed(li_phase):
    kwargs = dict(
        half_size=30,
        min_dspacing_nm=0.1,
        debye_waller_nm2=B_LI_NM2,
        n_electrons=5_000,
        energy_weighting="incident",
    )
    first = dynamical_master_pattern(li_phase, seed=3, show_progressbar=False, **kwargs)
    second = dynamical_master_pattern(li_phase, seed=3, show_progressbar=False, **kwargs)
    assert np.array_equal(first.data, second.data)


@pytest.fixture(scope="module")
def li_master_pattern(li_phase):
    return dynamical_master_pattern(
        li_phase,
        half_size=100,
        min_dspacing_nm=0.05,
        debye_waller_nm2=B_LI_NM2,
        n_electrons=20_000,
        show_progressbar=False,
        energy_weighting="incident",
    )


def _lambert_grid_preserving(rotations: Rotation) -> np.ndarray:
    """Mask of rotations that map the square Lambert grid onto itself.

    These are the rotations of 422 about z: 90° steps about [001] and the 2-folds
    about [100], [010], [110] and [1-10] (the last four swap the hemispheres).
    """
    axes, angles = rotations.axis.data, rotations.angle
    about_z = np.isclose(np.abs(axes[:, 2]), 1) | np.isclose(angles, 0)
    in_plane_2fold = np.isclose(axes[:, 2], 0) & np.isclose(angles, np.pi)
    in_plane_2fold &= np.isclose(np.abs(axes[:, 0]), np.abs(axes[:, 1])) | np.isclose(
        axes[:, 0] * axes[:, 1], 0
    )
    return about_z | in_plane_2fold


def test_symmetry_equivalent_orientations_give_same_pattern(li_phase, li_master_pattern):
    point_group = li_phase.point_group
    proper = Rotation(point_group.data[~point_group.improper])
    assert proper.size == 24
    exact = _lambert_grid_preserving(proper)
    assert exact.sum() == 8
    rotations = _random_rotations(5, seed=11)
    reference = _patterns(li_master_pattern, rotations)
    for i in np.flatnonzero(exact):
        equivalent = _patterns(li_master_pattern, proper[i] * rotations)
        # measured: 1.0000
        assert _ncc(equivalent, reference).min() > 0.999, proper[i]
    # The other 16 operations (3-folds, 4-folds about x and y, 2-folds about <101>)
    # move grid points off the grid, so the projection interpolates at other points:
    # Li's master pattern has pixel-sharp features, and 60 x 60 patterns agree only to
    # NCC 0.68 (half_size 100) or 0.89 (half_size 250); a 0.1° misorientation already
    # gives 0.96 (half_size 250). Exact values along <100>: [001] is the centre pixel, [100] and [010]
    # the midpoints of the edges, in both hemispheres.
    data = li_master_pattern.data
    c = data.shape[-1] // 2
    values = np.array(
        [data[:, c, c], data[:, c, 0], data[:, c, -1], data[:, 0, c], data[:, -1, c]]
    )
    assert np.allclose(values, values[0, 0], rtol=1e-5)
    # control: unrelated orientations differ clearly
    other = _patterns(li_master_pattern, _random_rotations(5, seed=12))
    assert _ncc(other, reference).max() < 0.9


def test_conversion_units_and_asymmetric_unit(li_phase):
    crystal = _to_de_ebsd_crystal(li_phase, B_LI_NM2)
    assert crystal.a == pytest.approx(0.351)
    assert crystal.space_group == 229
    assert crystal.multiplicities == (2,)
    assert crystal.sites[0].debye_waller == pytest.approx(B_LI_NM2)
    # a full cell reduces to the same asymmetric unit
    full = _to_de_ebsd_crystal(li_phase.expand_asymmetric_unit(), B_LI_NM2)
    assert len(full.sites) == 1 and full.multiplicities == (2,)
    # an atom's own Uisoequiv (A^2) wins over the default: B = 8 pi^2 U / 100 nm^2
    with_u = li_phase.deepcopy()
    with_u.structure[0].Uisoequiv = 0.05
    site = _to_de_ebsd_crystal(with_u, None).sites[0]
    assert site.debye_waller == pytest.approx(8 * np.pi**2 * 0.05 / 100)


def test_missing_debye_waller_names_phase(li_phase):
    with pytest.raises(ValueError, match="Li"):
        dynamical_master_pattern(li_phase, half_size=10, show_progressbar=False)


def test_emsoft_round_trip(tmp_path: Path, ni_master_pattern):
    import kikuchipy as kp

    metadata = {"key": {"phase": "Ni", "half_size": 100}, "engine": "de-ebsd", "version": "0.2.1"}
    path = save_master_pattern(
        tmp_path / "ni.h5", ni_master_pattern, 20.0, metadata, debye_waller_nm2=B_NI_NM2
    )
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ni.h5"]

    loaded = kp.load(path, projection="lambert", hemisphere="both")
    assert type(loaded).__name__ == "EBSDMasterPattern"
    assert loaded.projection == "lambert"
    assert loaded.hemisphere == "both"
    assert np.allclose(loaded.data, ni_master_pattern.data)
    assert loaded.phase.name == "Ni"
    assert loaded.phase.space_group.number == 225
    assert loaded.phase.structure.lattice.a * 10 == pytest.approx(3.524)  # EMsoft: nm
    atom = loaded.phase.structure[0]
    assert int(atom.element) == 28
    assert np.allclose(atom.xyz, 0.0) and atom.occupancy == pytest.approx(1.0)
    assert 8 * np.pi**2 * atom.Uisoequiv / 100 == pytest.approx(B_NI_NM2, rel=1e-5)
    assert float(loaded.original_metadata.MCCLNameList.EkeV) == pytest.approx(20.0)
    assert read_emsoft_metadata(path) == metadata

    # the loaded master pattern projects the same patterns
    rotations = _random_rotations(5, seed=3)
    ncc = _ncc(_patterns(loaded, rotations), _patterns(ni_master_pattern, rotations))
    assert ncc.min() > 0.9999


def test_stereographic_datasets_match_emsoft(tmp_path: Path):
    """kikuchipy's default read (stereographic, upper) gives EMsoft's stereographic."""
    import kikuchipy as kp
    from kikuchipy.data import nickel_ebsd_master_pattern_small

    lambert = nickel_ebsd_master_pattern_small(projection="lambert", hemisphere="both")
    lambert.change_dtype("float32")
    path = save_master_pattern(tmp_path / "ni_emsoft.h5", lambert, 20.0, {})
    mine = kp.load(path)
    assert mine.projection == "stereographic" and mine.hemisphere == "upper"
    emsoft = nickel_ebsd_master_pattern_small()  # EMsoft's own stereographic, upper
    n = emsoft.data.shape[-1]
    x, y = np.meshgrid(np.linspace(-1, 1, n), np.linspace(-1, 1, n))
    inside = x * x + y * y <= 0.98
    a = np.asarray(mine.data, dtype=np.float64)[inside][None]
    b = np.asarray(emsoft.data, dtype=np.float64)[inside][None]
    # measured: 0.99992
    assert _ncc(a, b)[0] > 0.999


def test_truncated_file_raises(tmp_path: Path, ni_master_pattern):
    path = save_master_pattern(tmp_path / "ni.h5", ni_master_pattern, 20.0, {"a": 1})
    size = path.stat().st_size
    with open(path, "r+b") as f:
        f.truncate(size // 2)
    with pytest.raises(ValueError, match="ni.h5"):
        read_emsoft_metadata(path)
    with pytest.raises(ValueError, match="missing.h5"):
        read_emsoft_metadata(tmp_path / "missing.h5")
