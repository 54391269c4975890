"""Crystal phases known to synthebsd, as orix :class:`~orix.crystal_map.Phase` objects.

Every phase carries a full crystal structure (a :class:`diffpy.structure.Structure` with
atoms, fractional positions, occupancies and the lattice in Å) and its space group, so
that structure factors and master patterns can be computed from it.

Lattice parameters are room-temperature values:

- Li, body-centred cubic, Im-3m (229), a = 3.51 Å (Berliner & Werner, Phys. Rev. B 34,
  3586, 1986).
- Na, body-centred cubic, Im-3m (229), a = 4.29 Å (Barrett, Acta Cryst. 9, 671, 1956).
- Cu, face-centred cubic, Fm-3m (225), a = 3.615 Å (Swanson & Tatge, NBS Circular 539,
  1953).
- Ni, face-centred cubic, Fm-3m (225), a = 3.524 Å (Swanson & Tatge, 1953); used to
  validate against kikuchipy's shipped Ni patterns.
"""

from __future__ import annotations

from dataclasses import dataclass

from diffpy.structure import Atom, Lattice, Structure
from orix.crystal_map import Phase, PhaseList

__all__ = ["PHASE_NAMES", "UnknownPhaseError", "get_phase", "get_phase_list"]


@dataclass(frozen=True)
class _CubicElement:
    """A one-atom cubic structure (the atom at the origin; the space group adds the rest)."""

    element: str
    space_group: int
    a_angstrom: float
    color: str


_ELEMENTS: dict[str, _CubicElement] = {
    "Li": _CubicElement("Li", 229, 3.51, "tab:blue"),
    "Na": _CubicElement("Na", 229, 4.29, "tab:purple"),
    "Cu": _CubicElement("Cu", 225, 3.615, "tab:orange"),
    "Ni": _CubicElement("Ni", 225, 3.524, "tab:green"),
}

#: Names accepted by :func:`get_phase`.
PHASE_NAMES: tuple[str, ...] = tuple(_ELEMENTS)


class UnknownPhaseError(ValueError):
    """Raised when a phase name is not one synthebsd has a structure for."""


def get_phase(name: str) -> Phase:
    """Return a new orix phase with its full crystal structure.

    Parameters
    ----------
    name
        Phase name, case-insensitive, one of :data:`PHASE_NAMES`.

    Returns
    -------
    phase
        A fresh :class:`~orix.crystal_map.Phase` (callers may modify it).

    Raises
    ------
    UnknownPhaseError
        If ``name`` is not a known phase; the message lists the known ones.
    """
    key = {n.lower(): n for n in _ELEMENTS}.get(str(name).strip().lower())
    if key is None:
        raise UnknownPhaseError(
            f"Unknown phase {name!r}; synthebsd knows {', '.join(PHASE_NAMES)}"
        )
    spec = _ELEMENTS[key]
    a = spec.a_angstrom
    structure = Structure(
        atoms=[Atom(spec.element, (0.0, 0.0, 0.0), occupancy=1.0)],
        lattice=Lattice(a, a, a, 90, 90, 90),
    )
    return Phase(name=key, space_group=spec.space_group, structure=structure, color=spec.color)


def get_phase_list(names: list[str] | tuple[str, ...]) -> PhaseList:
    """Return an orix phase list with ids 0, 1, ... in the order of ``names``."""
    phases = [get_phase(n) for n in names]
    if len({p.name for p in phases}) != len(phases):
        raise ValueError(f"Phase names must be unique, got {list(names)}")
    return PhaseList(phases=phases, ids=list(range(len(phases))))
