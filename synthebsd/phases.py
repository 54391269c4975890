"""Crystal phases known to synthebsd, as orix :class:`~orix.crystal_map.Phase` objects.

Every phase carries a full crystal structure (a :class:`diffpy.structure.Structure` with
the asymmetric unit's atoms, fractional positions, occupancies, isotropic displacement
``Uisoequiv`` in Å² and the lattice in Å) and its space group, so that kinematical
structure factors (diffsims reads ``Bisoequiv``) and dynamical master patterns (de-ebsd)
can be computed from it.

Debye–Waller factors of the elemental metals follow the Debye model at the requested
temperature (default 293 K; cryo-FIB/EBSD of Li is often done near 100 K, where Li's B
drops from 4.2 to about 1.8 Å²):

    B(T) = 6 h² T / (m k_B Θ_D²) · [φ(Θ_D/T) + Θ_D / (4T)],
    φ(x) = (1/x) ∫₀ˣ t / (eᵗ − 1) dt

(Willis & Pryor, *Thermal Vibrations in Crystallography*, Cambridge, 1975, eq. 7.13),
with Debye temperatures Θ_D from Kittel, *Introduction to Solid State Physics*, 8th ed.,
Table 5.1: Li 344 K, Na 158 K, Cu 343 K, Ni 450 K.

Lattice parameters (room temperature):

- Li, Im-3m (229), a = 3.51 Å (Berliner & Werner, Phys. Rev. B 34, 3586, 1986).
- Na, Im-3m (229), a = 4.29 Å (Barrett, Acta Cryst. 9, 671, 1956).
- Cu, Fm-3m (225), a = 3.615 Å (Swanson & Tatge, NBS Circular 539, 1953).
- Ni, Fm-3m (225), a = 3.524 Å (Swanson & Tatge, 1953); used to validate against
  kikuchipy's shipped Ni patterns.

Current collectors and solid electrolytes of anode-free cells (room temperature):

- Al, Fm-3m (225), a = 4.0495 Å (Swanson & Tatge, NBS Circular 539 vol. 1, 1953);
  Θ_D = 428 K (Kittel).
- ``austenite``: austenitic stainless steel (AISI 304/316L type) modelled as fcc Fe,
  Fm-3m (225), a = 3.59 Å (Cr–Fe–Ni austenite, ICDD PDF 33-0397: a = 3.591 Å). Cr and Ni
  (Z = 24, 28) scatter like Fe (Z = 26), so one Fe site is used; Θ_D = 470 K (Kittel's
  value for Fe, an approximation for the alloy).
- ``LLZTO``: Li6.5La3Zr1.5Ta0.5O12 garnet, Ia-3d (230), a = 12.94 Å (Li et al.,
  J. Mater. Chem. 22, 15357, 2012, for x = 0.5 in Li7−xLa3Zr2−xTaxO12). Sites of the cubic
  garnet (Awaka et al., Chem. Lett. 40, 60, 2011; Logéat et al., Solid State Ionics 206,
  33, 2012): La 24c (1/8, 0, 1/4); Zr0.75Ta0.25 on 16a (0, 0, 0); O 96h
  (0.2820, 0.1003, 0.1953); Li1 24d (3/8, 0, 1/4) with occupancy 0.56; Li2 96h
  (0.0950, 0.6830, 0.5800), its occupancy fixed by the composition: 24·0.56 + 96·g = 52
  Li per cell, g = 0.4017. B (Å²) typical of neutron refinements: La 0.6, Zr/Ta 0.5,
  O 1.0, Li1 1.6, Li2 2.4. Bond lengths of this model: Zr–O 2.10 Å, La–O 2.51 Å,
  Li1–O 1.91 Å.
- ``LPSCl``: Li6PS5Cl argyrodite, F-43m (216), a = 9.85 Å (Deiseroth et al., Angew.
  Chem. Int. Ed. 47, 755, 2008). P 4b (1/2, 1/2, 1/2); S1 16e (x, x, x), x = 0.62 (P–S
  2.05 Å); the "free" anion sites 4a (0, 0, 0) and 4c (1/4, 1/4, 1/4) share Cl and S
  (Cl 0.6 / S 0.4 on 4a, S 0.6 / Cl 0.4 on 4c; S²⁻/Cl⁻ site disorder of this order is
  reported by Kraft et al., J. Am. Chem. Soc. 139, 10909, 2017, the 0.6/0.4 split is a
  representative value, not a refined one; S and Cl differ by one electron, so electron
  intensities barely depend on it); Li 48h (0.183, 0.183, 0.024) half occupied (24 Li
  per cell; the position of the GEMDAT project's argyrodite.cif; Li–S 2.4–2.5 Å). B (Å²): P 1.2,
  S 1.6, Cl 2.0, Li 4.0 (Li is very mobile at room temperature).
- ``NZSP``: Na3.4Zr2Si2.4P0.6O12 NASICON (x = 2.4 in Na1+xZr2SixP3−xO12; Ma et al.,
  J. Mater. Chem. A 7, 7766, 2019). Hong's phase diagram (Mater. Res. Bull. 11, 173,
  1976) gives the rhombohedral structure outside 1.8 ≤ x ≤ 2.2, where a slight monoclinic
  (C2/c) distortion occurs; here R-3c (167), hexagonal axes, a = 9.07 Å, c = 22.7 Å, the
  cell of this composition range. Framework of the NASICON type (Hagman & Kierkegaard,
  Acta Chem. Scand. 22, 1822, 1968) with the positions of the Zr silicate end member
  Na4Zr2Si3O12 (Tran Qui et al., J. Solid State Chem. 39, 219, 1981; ICSD 15546, 573 K):
  Zr 12c (0, 0, 0.1472); Si0.8P0.2 18e (0.2954, 0, 1/4); O1 36f (0.1821, −0.0210,
  0.1920); O2 36f (0.1853, 0.1665, 0.0865); Na1 6b (0, 0, 0) full; Na2 18e
  (0.6397, 0, 1/4) with occupancy 0.8 (20.4 Na per cell). O1 y is negative: the copy of
  ICSD 15546 we could read has +0.0210, which puts O 1.87 Å from Zr and 1.73 Å from Si;
  −0.0210 gives the normal Zr–O 2.03/2.11 Å and (Si,P)–O 1.61/1.62 Å in this cell
  (Na1–O 2.53 Å, Na2–O from 2.49 Å). An earlier version used the framework of
  Na3Cr2(PO4)3 (Lucazeau et al. 1986, COD 1008846), within 0.01 of these. B (Å²): Na
  2.4, Zr 0.4, Si/P 0.55, O 1.2.

The electrolytes' sites carry their own Debye–Waller factors (B at room temperature,
independent of the ``temperature_k`` argument); mixed sites are two atoms at one
position whose occupancies add up to the site's. Their lattice parameters and positions
are room-temperature literature values; check them against the cited refinements
before relying on absolute band intensities.

Caveat for non-orthogonal cells (NZSP): orix re-aligns the lattice base (a ∥ x, c* ∥ z)
keeping Cartesian positions, so ``Phase.expand_asymmetric_unit`` (orix 0.15) and
diffsims' ``ReciprocalLatticeVector.sanitise_phase`` (diffsims 0.7) expand the
asymmetric unit in the wrong frame. The dynamical engine (:mod:`synthebsd.simulate`)
returns to the original base first and is not affected; kinematical structure factors
of NZSP must be computed from a full cell (see the tests).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import numpy as np
from diffpy.structure import Atom, Lattice, Structure
from diffpy.structure.spacegroups import GetSpaceGroup
from orix.crystal_map import Phase, PhaseList
from scipy.integrate import quad

__all__ = [
    "PHASE_NAMES",
    "AtomSite",
    "PhaseSpec",
    "UnknownPhaseError",
    "atomic_number",
    "debye_waller_b",
    "element_symbol",
    "full_cell_phase",
    "get_phase",
    "get_phase_list",
]

_H = 6.62607015e-34  # Planck constant, J s
_KB = 1.380649e-23  # Boltzmann constant, J/K
_AMU = 1.66053906660e-27  # atomic mass unit, kg


def debye_waller_b(mass_amu: float, debye_temperature_k: float, temperature_k: float) -> float:
    """Isotropic Debye–Waller B in Å² of a monatomic crystal in the Debye model.

    Parameters
    ----------
    mass_amu
        Atomic mass in u.
    debye_temperature_k
        Debye temperature Θ_D in K.
    temperature_k
        Temperature in K (> 0).

    Returns
    -------
    b
        B = 8π²⟨u²⟩ in Å² (zero-point motion included).
    """
    if temperature_k <= 0 or debye_temperature_k <= 0 or mass_amu <= 0:
        raise ValueError("mass, Debye temperature and temperature must be positive")
    x = debye_temperature_k / temperature_k
    phi = quad(lambda t: t / np.expm1(t) if t > 0 else 1.0, 0.0, x)[0] / x
    m = mass_amu * _AMU
    b_m2 = 6 * _H**2 * temperature_k / (m * _KB * debye_temperature_k**2) * (phi + x / 4)
    return b_m2 * 1e20


def element_symbol(raw: Any) -> str:
    """Return the element symbol of a diffpy atom type.

    Parameters
    ----------
    raw
        A symbol (``"Li"``), an ion or label (``"Li1+"``, ``"li"``), or an atomic number
        (``3``, ``"3"``), as diffpy or kikuchipy's EMsoft reader store it.

    Returns
    -------
    symbol
        The capitalised element symbol, e.g. ``"Li"``.

    Raises
    ------
    ValueError
        If no element can be read from ``raw``.
    """
    # lazy: de_ebsd imports torch
    from de_ebsd.crystal.data.scattering_tables import ELEMENT_SYMBOLS

    text = str(raw).strip()
    if re.fullmatch(r"\d+", text):
        z = int(text)
        if 1 <= z <= len(ELEMENT_SYMBOLS):
            return ELEMENT_SYMBOLS[z - 1]
        raise ValueError(f"Atomic number {z} is out of range")
    letters = re.match(r"[A-Za-z]+", text)
    if letters is not None:
        word = letters.group(0)
        for n in (2, 1):
            candidate = word[:n].capitalize()
            if len(word) >= n and candidate in ELEMENT_SYMBOLS:
                return candidate
    raise ValueError(f"Cannot read an element symbol from {raw!r}")


def atomic_number(raw: Any) -> int:
    """Atomic number of a diffpy atom type (see :func:`element_symbol`)."""
    # lazy: de_ebsd imports torch
    from de_ebsd.crystal.data.scattering_tables import ELEMENT_SYMBOLS

    return ELEMENT_SYMBOLS.index(element_symbol(raw)) + 1


@dataclass(frozen=True)
class AtomSite:
    """One site of the asymmetric unit.

    ``b_angstrom2`` is the isotropic Debye–Waller B in Å² at the reference temperature of
    the source; if None, the phase's Debye model gives it.
    """

    element: str
    xyz: tuple[float, float, float]
    occupancy: float = 1.0
    b_angstrom2: float | None = None


@dataclass(frozen=True)
class PhaseSpec:
    """Everything needed to build an orix phase with a full structure."""

    name: str
    space_group: int
    lattice_angstrom: tuple[float, float, float, float, float, float]
    atoms: tuple[AtomSite, ...]
    source: str
    color: str
    mass_amu: float | None = None
    debye_temperature_k: float | None = None

    def b_angstrom2(self, site: AtomSite, temperature_k: float) -> float:
        if site.b_angstrom2 is not None:
            return site.b_angstrom2
        if self.mass_amu is None or self.debye_temperature_k is None:
            raise ValueError(f"Phase {self.name} has no Debye–Waller factor for {site.element}")
        return debye_waller_b(self.mass_amu, self.debye_temperature_k, temperature_k)


def _cubic(a: float) -> tuple[float, float, float, float, float, float]:
    return (a, a, a, 90.0, 90.0, 90.0)


_PHASES: dict[str, PhaseSpec] = {
    spec.name: spec
    for spec in (
        PhaseSpec(
            "Li",
            229,
            _cubic(3.51),
            (AtomSite("Li", (0, 0, 0)),),
            "Berliner & Werner 1986; Θ_D Kittel",
            "tab:blue",
            6.94,
            344.0,
        ),
        PhaseSpec(
            "Na",
            229,
            _cubic(4.29),
            (AtomSite("Na", (0, 0, 0)),),
            "Barrett 1956; Θ_D Kittel",
            "tab:purple",
            22.990,
            158.0,
        ),
        PhaseSpec(
            "Cu",
            225,
            _cubic(3.615),
            (AtomSite("Cu", (0, 0, 0)),),
            "Swanson & Tatge 1953; Θ_D Kittel",
            "tab:orange",
            63.546,
            343.0,
        ),
        PhaseSpec(
            "Ni",
            225,
            _cubic(3.524),
            (AtomSite("Ni", (0, 0, 0)),),
            "Swanson & Tatge 1953; Θ_D Kittel",
            "tab:green",
            58.693,
            450.0,
        ),
        PhaseSpec(
            "Al",
            225,
            _cubic(4.0495),
            (AtomSite("Al", (0, 0, 0)),),
            "Swanson & Tatge 1953; Θ_D Kittel",
            "tab:gray",
            26.982,
            428.0,
        ),
        PhaseSpec(
            "austenite",
            225,
            _cubic(3.59),
            (AtomSite("Fe", (0, 0, 0)),),
            "austenitic stainless steel as fcc Fe, ICDD PDF 33-0397; Θ_D of Fe, Kittel",
            "tab:brown",
            55.845,
            470.0,
        ),
        PhaseSpec(
            "LLZTO",
            230,
            _cubic(12.94),
            (
                AtomSite("La", (0.125, 0.0, 0.25), 1.0, 0.6),
                AtomSite("Zr", (0.0, 0.0, 0.0), 0.75, 0.5),
                AtomSite("Ta", (0.0, 0.0, 0.0), 0.25, 0.5),
                AtomSite("O", (0.2820, 0.1003, 0.1953), 1.0, 1.0),
                AtomSite("Li", (0.375, 0.0, 0.25), 0.56, 1.6),
                AtomSite("Li", (0.0950, 0.6830, 0.5800), (52 - 24 * 0.56) / 96, 2.4),
            ),
            "Li et al. 2012 (a); Awaka et al. 2011, Logéat et al. 2012 (sites)",
            "tab:olive",
        ),
        PhaseSpec(
            "LPSCl",
            216,
            _cubic(9.85),
            (
                AtomSite("P", (0.5, 0.5, 0.5), 1.0, 1.2),
                AtomSite("S", (0.62, 0.62, 0.62), 1.0, 1.6),
                AtomSite("Cl", (0.0, 0.0, 0.0), 0.6, 2.0),
                AtomSite("S", (0.0, 0.0, 0.0), 0.4, 2.0),
                AtomSite("S", (0.25, 0.25, 0.25), 0.6, 1.6),
                AtomSite("Cl", (0.25, 0.25, 0.25), 0.4, 1.6),
                AtomSite("Li", (0.183, 0.183, 0.024), 0.5, 4.0),
            ),
            "Deiseroth et al. 2008; Kraft et al. 2017 (S/Cl disorder)",
            "tab:cyan",
        ),
        PhaseSpec(
            "NZSP",
            167,
            (9.07, 9.07, 22.7, 90.0, 90.0, 120.0),
            (
                AtomSite("Na", (0.0, 0.0, 0.0), 1.0, 2.4),
                AtomSite("Na", (0.6397, 0.0, 0.25), 0.8, 2.4),
                AtomSite("Zr", (0.0, 0.0, 0.1472), 1.0, 0.4),
                AtomSite("Si", (0.2954, 0.0, 0.25), 0.8, 0.55),
                AtomSite("P", (0.2954, 0.0, 0.25), 0.2, 0.55),
                AtomSite("O", (0.1821, -0.0210, 0.1920), 1.0, 1.2),
                AtomSite("O", (0.1853, 0.1665, 0.0865), 1.0, 1.2),
            ),
            "Ma et al. 2019 (composition); Hong 1976 (R-3c); Tran Qui et al. 1981 (sites)",
            "tab:pink",
        ),
    )
}

#: Names accepted by :func:`get_phase`.
PHASE_NAMES: tuple[str, ...] = tuple(_PHASES)


class UnknownPhaseError(ValueError):
    """Raised when a phase name is not one synthebsd has a structure for."""


def get_phase(name: str, temperature_k: float = 293.0) -> Phase:
    """Return a new orix phase with its full crystal structure.

    Parameters
    ----------
    name
        Phase name, case-insensitive, one of :data:`PHASE_NAMES`.
    temperature_k
        Temperature in K for the Debye–Waller factors of the Debye model.

    Returns
    -------
    phase
        A fresh :class:`~orix.crystal_map.Phase` (callers may modify it); each atom's
        ``Uisoequiv`` is B / 8π² in Å².

    Raises
    ------
    UnknownPhaseError
        If ``name`` is not a known phase; the message lists the known ones.
    """
    key = {n.lower(): n for n in _PHASES}.get(str(name).strip().lower())
    if key is None:
        raise UnknownPhaseError(
            f"Unknown phase {name!r}; synthebsd knows {', '.join(PHASE_NAMES)}"
        )
    spec = _PHASES[key]
    atoms = []
    for site in spec.atoms:
        atom = Atom(site.element, site.xyz, occupancy=site.occupancy)
        atom.Uisoequiv = spec.b_angstrom2(site, temperature_k) / (8 * np.pi**2)
        atoms.append(atom)
    structure = Structure(atoms=atoms, lattice=Lattice(*spec.lattice_angstrom))
    return Phase(name=key, space_group=spec.space_group, structure=structure, color=spec.color)


def get_phase_list(names: list[str] | tuple[str, ...], temperature_k: float = 293.0) -> PhaseList:
    """Return an orix phase list with ids 0, 1, ... in the order of ``names``."""
    phases = [get_phase(n, temperature_k) for n in names]
    if len({p.name for p in phases}) != len(phases):
        raise ValueError(f"Phase names must be unique, got {list(names)}")
    return PhaseList(phases=phases, ids=list(range(len(phases))))


def full_cell_phase(name: str, temperature_k: float = 293.0) -> Phase:
    """Return a phase whose structure holds every atom of the unit cell.

    The asymmetric unit of :func:`get_phase` is expanded with the space group's
    operations (diffpy's tabulated setting) in the frame the positions are given in,
    before orix re-aligns the lattice, so the result is right for non-orthogonal cells
    too (orix 0.15's ``expand_asymmetric_unit`` and diffsims 0.7's ``sanitise_phase``
    are not, see the module notes). Use it for kinematical structure factors
    (:meth:`~diffsims.crystallography.ReciprocalLatticeVector.calculate_structure_factor`
    without ``sanitise_phase``) and for interatomic distances.

    Parameters
    ----------
    name
        Phase name, as for :func:`get_phase`.
    temperature_k
        Temperature in K for the Debye–Waller factors of the Debye model.

    Returns
    -------
    phase
        A fresh phase; positions in [0, 1), occupancies and ``Uisoequiv`` (Å²) per atom.
    """
    asym = get_phase(name, temperature_k)
    spec = _PHASES[asym.name]
    ops = [
        (np.asarray(op.R, float), np.asarray(op.t, float))
        for op in GetSpaceGroup(spec.space_group).iter_symops()
    ]
    atoms = []
    for site in spec.atoms:
        orbit: list[np.ndarray] = []
        for rot, shift in ops:
            pos = np.mod(rot @ np.asarray(site.xyz, float) + shift, 1.0)
            if not any(np.allclose((pos - q + 0.5) % 1.0 - 0.5, 0.0, atol=1e-6) for q in orbit):
                orbit.append(pos)
        u_iso = spec.b_angstrom2(site, temperature_k) / (8 * np.pi**2)
        for pos in orbit:
            atom = Atom(
                site.element, np.where(np.isclose(pos, 1.0), 0.0, pos), occupancy=site.occupancy
            )
            atom.Uisoequiv = u_iso
            atoms.append(atom)
    structure = Structure(atoms=atoms, lattice=Lattice(*spec.lattice_angstrom))
    return Phase(
        name=asym.name, space_group=spec.space_group, structure=structure, color=spec.color
    )
