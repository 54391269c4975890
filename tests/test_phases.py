"""The collector and electrolyte phases of the anode-free cells: structures, composition,
bond lengths and kinematical structure factors (systematic absences)."""

import numpy as np
import pytest
from diffpy.structure import Lattice
from diffsims.crystallography import ReciprocalLatticeVector

from synthebsd.phases import (
    PHASE_NAMES,
    UnknownPhaseError,
    full_cell_phase,
    get_phase,
    get_phase_list,
)

# name: (space group, point group, atoms per cell by element (sum of occupancies))
COMPOSITION = {
    "Al": (225, "m-3m", {"Al": 4}),
    "austenite": (225, "m-3m", {"Fe": 4}),
    # Li6.5La3Zr1.5Ta0.5O12, Z = 8
    "LLZTO": (230, "m-3m", {"Li": 52, "La": 24, "Zr": 12, "Ta": 4, "O": 96}),
    # Li6PS5Cl, Z = 4
    "LPSCl": (216, "-43m", {"Li": 24, "P": 4, "S": 20, "Cl": 4}),
    # Na3.4Zr2Si2.4P0.6O12, Z = 6 (hexagonal cell)
    "NZSP": (167, "-3m", {"Na": 20.4, "Zr": 12, "Si": 14.4, "P": 3.6, "O": 72}),
}


@pytest.mark.parametrize("name", list(COMPOSITION))
def test_full_cell_composition(name):
    space_group, point_group, counts = COMPOSITION[name]
    phase = full_cell_phase(name)
    assert phase.space_group.number == space_group
    assert phase.point_group.name == point_group
    got = {}
    for atom in phase.structure:
        got[atom.element] = got.get(atom.element, 0.0) + atom.occupancy
    assert got.keys() == counts.keys()
    for element, n in counts.items():
        assert got[element] == pytest.approx(n, abs=1e-6), element
    assert all(a.Uisoequiv > 0 for a in phase.structure)


def _distances(name, centre, other):
    """Shortest distances (Å) from each ``centre`` atom to any ``other`` atom."""
    # orix re-aligns the base keeping Cartesian positions; go back to diffpy's standard
    # base for the given lattice parameters, the one the positions were written in.
    structure = full_cell_phase(name).structure.copy()
    structure.placeInLattice(Lattice(*structure.lattice.abcABG()))
    xyz = np.array([a.xyz_cartn for a in structure])
    elements = [a.element for a in structure]
    base = np.asarray(structure.lattice.base)
    shifts = np.array([[i, j, k] for i in (-1, 0, 1) for j in (-1, 0, 1) for k in (-1, 0, 1)])
    images = xyz[None] + (shifts @ base)[:, None]
    ic = [i for i, e in enumerate(elements) if e == centre]
    io = [i for i, e in enumerate(elements) if e == other]
    d = np.linalg.norm(images[:, io][None] - xyz[ic][:, None, None], axis=-1)
    d[d < 1e-6] = np.inf
    return d.min(axis=(1, 2))


@pytest.mark.parametrize(
    ("name", "centre", "other", "low", "high"),
    [
        # Shortest cation-anion distances of each framework, against crystal-chemistry
        # values (Shannon radii / refined structures): any wrong position or setting
        # puts atoms on top of each other or far apart.
        ("LLZTO", "Zr", "O", 2.0, 2.2),
        ("LLZTO", "La", "O", 2.4, 2.65),
        ("LLZTO", "O", "O", 2.6, 3.2),
        ("LPSCl", "P", "S", 1.95, 2.15),
        ("LPSCl", "Li", "S", 2.3, 2.6),
        ("NZSP", "Zr", "O", 1.95, 2.2),
        ("NZSP", "Si", "O", 1.5, 1.7),
        ("NZSP", "Na", "O", 2.3, 2.7),
        ("NZSP", "O", "O", 2.4, 3.0),
        ("Al", "Al", "Al", 2.86, 2.87),
        ("austenite", "Fe", "Fe", 2.53, 2.55),
    ],
)
def test_bond_lengths(name, centre, other, low, high):
    d = _distances(name, centre, other)
    assert low <= d.min() and d.max() <= high, (d.min(), d.max())


@pytest.mark.parametrize(
    ("name", "absent", "present"),
    [
        # Ia-3d: h+k+l even; 0kl: k, l even; hhl: 2h+l = 4n; h00: h = 4n.
        (
            "LLZTO",
            [[1, 0, 0], [1, 1, 0], [2, 0, 0], [1, 1, 1], [3, 1, 0]],
            [[2, 1, 1], [4, 0, 0], [4, 2, 0], [3, 2, 1]],
        ),
        # F-43m: h, k, l all even or all odd.
        ("LPSCl", [[1, 0, 0], [1, 1, 0], [2, 1, 0]], [[1, 1, 1], [2, 0, 0], [2, 2, 0], [3, 1, 1]]),
        # R-3c (hexagonal axes): -h+k+l = 3n; 00l: l = 6n; h-h0l: h+l = 3n and l even.
        (
            "NZSP",
            [[0, 0, 3], [1, 0, 0], [1, -1, 1], [1, -1, 5]],
            [[0, 0, 6], [0, 1, 2], [1, 0, 4], [1, 1, 0]],
        ),
        ("Al", [[1, 0, 0], [1, 1, 0]], [[1, 1, 1], [2, 0, 0]]),
        ("austenite", [[2, 1, 0]], [[1, 1, 1], [2, 2, 0]]),
    ],
)
def test_structure_factor_absences(name, absent, present):
    """diffsims structure factors of the full cell follow the space group's extinctions."""
    rlv = ReciprocalLatticeVector(full_cell_phase(name), hkl=absent + present)
    rlv.calculate_structure_factor()
    f = np.abs(rlv.structure_factor)
    n = len(absent)
    assert np.all(f[:n] < 1e-6 * f[n:].max()), f
    assert np.all(f[n:] > 0.05 * f[n:].max()), f


@pytest.mark.parametrize("name", ["Al", "austenite", "LLZTO", "LPSCl"])
def test_cubic_phases_through_diffsims_sanitise(name):
    """For cubic cells diffsims' own expansion agrees with the full cell."""
    hkl = [[1, 1, 1], [2, 0, 0], [2, 1, 1], [2, 2, 0], [4, 0, 0], [4, 2, 0]]
    a = ReciprocalLatticeVector(get_phase(name), hkl=hkl)
    a.sanitise_phase()
    a.calculate_structure_factor()
    b = ReciprocalLatticeVector(full_cell_phase(name), hkl=hkl)
    b.calculate_structure_factor()
    assert np.allclose(
        a.structure_factor, b.structure_factor, atol=1e-6 * np.abs(b.structure_factor).max()
    )


def test_new_phases_by_name_and_unknown_names():
    for name in COMPOSITION:
        assert get_phase(name.lower()).name == name
    with pytest.raises(UnknownPhaseError, match="LLZTO.*LPSCl.*NZSP"):
        get_phase("LLZO-Al")


@pytest.mark.parametrize(
    ("name", "space_group", "a", "n_atoms_cell"),
    [("Li", 229, 3.51, 2), ("Na", 229, 4.29, 2), ("Cu", 225, 3.615, 4), ("li", 229, 3.51, 2)],
)
def test_phase_structures(name, space_group, a, n_atoms_cell):
    phase = get_phase(name)
    assert phase.space_group.number == space_group
    assert phase.point_group.name == "m-3m"
    assert np.allclose(phase.structure.lattice.abcABG(), (a, a, a, 90, 90, 90))
    # orix expands the asymmetric unit with the space group: BCC has 2 atoms, FCC 4.
    expanded = phase.expand_asymmetric_unit()
    assert len(expanded.structure) == n_atoms_cell


def test_unknown_phase_lists_known_ones():
    with pytest.raises(UnknownPhaseError, match="Zr.*Li, Na, Cu"):
        get_phase("Zr")
    assert set(PHASE_NAMES) >= {"Li", "Na", "Cu"}


def test_phase_list_ids_and_duplicates():
    pl = get_phase_list(["Li", "Cu"])
    assert pl.ids == [0, 1] and pl.names == ["Li", "Cu"]
    with pytest.raises(ValueError, match="unique"):
        get_phase_list(["Li", "li"])
