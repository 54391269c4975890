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
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from diffpy.structure import Atom, Lattice, Structure
from orix.crystal_map import Phase, PhaseList

__all__ = [
    "PHASE_NAMES",
    "AtomSite",
    "PhaseSpec",
    "UnknownPhaseError",
    "debye_waller_b",
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
    from scipy.integrate import quad

    if temperature_k <= 0 or debye_temperature_k <= 0 or mass_amu <= 0:
        raise ValueError("mass, Debye temperature and temperature must be positive")
    x = debye_temperature_k / temperature_k
    phi = quad(lambda t: t / np.expm1(t) if t > 0 else 1.0, 0.0, x)[0] / x
    m = mass_amu * _AMU
    b_m2 = 6 * _H**2 * temperature_k / (m * _KB * debye_temperature_k**2) * (phi + x / 4)
    return b_m2 * 1e20


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
