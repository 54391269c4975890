"""Dynamical (Bloch-wave) master patterns computed with the ``de-ebsd`` package.

``de-ebsd`` solves the Bloch-wave equations for every beam direction on the square
Lambert grid and weights the result with a Monte Carlo exit-depth profile, as EMsoft's
``EMEBSDmaster`` does, but on the CPU through torch. This module converts an orix
:class:`~orix.crystal_map.Phase` to a ``de-ebsd`` crystal, runs the simulation at one beam
energy and wraps the result as a kikuchipy
:class:`~kikuchipy.signals.EBSDMasterPattern`, so that later stages do not depend on the
engine that made it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
from diffpy.structure import Lattice
from diffpy.structure.spacegroups import GetSpaceGroup
from tqdm.auto import tqdm

from synthebsd.phases import element_symbol

if TYPE_CHECKING:
    from kikuchipy.signals import EBSDMasterPattern
    from orix.crystal_map import Phase

__all__ = ["dynamical_master_pattern"]

#: Sample tilt (degrees from horizontal) used for the Monte Carlo exit-depth profile.
SAMPLE_TILT_DEG = 70.0

# Fractional distance below which two positions are the same site (as in de-ebsd).
_SITE_TOLERANCE = 1e-3


def _to_de_ebsd_crystal(phase: Phase, debye_waller_nm2: float | None) -> Any:
    """Convert an orix phase to a ``de_ebsd.Crystal``.

    Lattice parameters go from Å (diffpy) to nm (``de-ebsd``). Atoms that are images of
    an earlier atom of the same element under the space group are dropped, because
    ``de-ebsd`` expands the asymmetric unit itself; a phase may therefore hold either
    the asymmetric unit or the full cell. Positions are taken in diffpy's tabulated
    setting (origin choice 1 where there are two), the setting orix uses in
    :meth:`~orix.crystal_map.Phase.expand_asymmetric_unit`.

    Parameters
    ----------
    phase
        Phase with a space group and a structure holding atoms (element, fractional
        position, occupancy) and a lattice in Å.
    debye_waller_nm2
        Isotropic Debye–Waller factor B in nm² for atoms without their own
        ``Uisoequiv``. An atom with ``Uisoequiv`` U > 0 (Å²) gets B = 8π²U / 100 nm².

    Returns
    -------
    crystal
        The ``de_ebsd.Crystal``.

    Raises
    ------
    ValueError
        If the phase has no space group or atoms, or an atom has no Debye–Waller factor
        and ``debye_waller_nm2`` is None.
    """
    from de_ebsd import AtomSite, Crystal  # lazy: de_ebsd imports torch

    name = phase.name or "<unnamed>"
    if phase.space_group is None:
        raise ValueError(f"Phase {name!r} has no space group")
    structure = phase.structure
    if len(structure) == 0:
        raise ValueError(f"Phase {name!r} has no atoms in its structure")

    # orix re-aligns the lattice base (a || x, c* || z); go back to the base the
    # fractional positions were given in, exactly as orix's expand_asymmetric_unit does.
    original = structure.copy()
    base = getattr(phase, "_diffpy_lattice", None)
    if base is not None:
        original.placeInLattice(Lattice(base=base))

    sg_number = int(phase.space_group.number)
    ops = [
        (np.asarray(op.R, float), np.asarray(op.t, float))
        for op in GetSpaceGroup(sg_number).iter_symops()
    ]
    kept: list[tuple[str, np.ndarray]] = []
    sites = []
    for atom in original:
        element = element_symbol(atom.element)
        xyz = np.mod(np.asarray(atom.xyz, dtype=float), 1.0)
        if any(el == element and _in_orbit(xyz, pos, ops) for el, pos in kept):
            continue
        u_iso = float(atom.Uisoequiv) if atom.Uisoequiv is not None else 0.0
        if u_iso > 0.0:
            b_nm2 = 8.0 * np.pi**2 * u_iso / 100.0
        elif debye_waller_nm2 is not None:
            b_nm2 = float(debye_waller_nm2)
        else:
            where = [round(float(v), 6) for v in xyz]
            raise ValueError(
                f"Phase {name!r}: atom {element} at {where} has no Debye-Waller factor "
                "(Uisoequiv); pass debye_waller_nm2 (B in nm^2)"
            )
        if b_nm2 <= 0.0:
            raise ValueError(f"Phase {name!r}: Debye-Waller factor must be positive, got {b_nm2}")
        kept.append((element, xyz))
        sites.append(AtomSite(element, tuple(float(v) for v in xyz), float(atom.occupancy), b_nm2))

    a, b, c, alpha, beta, gamma = (float(v) for v in structure.lattice.abcABG())
    return Crystal(
        a=a / 10.0,
        b=b / 10.0,
        c=c / 10.0,
        alpha=alpha,
        beta=beta,
        gamma=gamma,
        space_group=sg_number,
        sites=sites,
        origin=1,
    )


def _in_orbit(xyz: np.ndarray, site: np.ndarray, ops: list[tuple[np.ndarray, np.ndarray]]) -> bool:
    """Whether fractional position ``xyz`` is an image of ``site`` under ``ops``."""
    for r, t in ops:
        diff = (r @ site + t - xyz + 0.5) % 1.0 - 0.5
        if np.all(np.abs(diff) < _SITE_TOLERANCE):
            return True
    return False


def dynamical_master_pattern(
    phase: Phase,
    energy_kv: float = 20.0,
    half_size: int = 250,
    min_dspacing_nm: float = 0.05,
    debye_waller_nm2: float | None = None,
    n_electrons: int = 200_000,
    seed: int = 0,
    show_progressbar: bool = True,
) -> EBSDMasterPattern:
    """Compute a dynamical EBSD master pattern with ``de-ebsd``.

    The Bloch-wave intensities of every beam direction on the square Lambert grid are
    integrated over depth with a Monte Carlo exit-depth profile at the beam energy
    (sample tilted :data:`SAMPLE_TILT_DEG` = 70°, the electrons in the highest 1 keV
    energy bin). Beam directions are folded onto the point group's fundamental sector,
    so each distinct direction is solved once.

    Parameters
    ----------
    phase
        Phase with a space group and a full structure: atoms with element symbols,
        fractional positions and occupancies, lattice in Å.
    energy_kv
        Beam energy in kV (electron energy in keV).
    half_size
        Half width of the square Lambert projection in pixels; each hemisphere has
        side 2 × ``half_size`` + 1.
    min_dspacing_nm
        Smallest interplanar spacing d in nm of the reflections included.
    debye_waller_nm2
        Isotropic Debye–Waller factor B in nm² for atoms without their own
        ``Uisoequiv`` (1 Å² = 0.01 nm²). Required if any atom lacks one.
    n_electrons
        Number of Monte Carlo electrons for the exit-depth profile.
    seed
        Seed of the Monte Carlo's own random generator; a fixed seed gives identical
        master patterns.
    show_progressbar
        Whether to show a progress bar over the beam-direction batches.

    Returns
    -------
    master_pattern
        Lambert projection, ``hemisphere="both"``, data shape (2, n, n) with the
        upper (northern) hemisphere first, float32, with a copy of ``phase`` attached
        and the energy in kV in ``metadata.Simulation.EBSD_master_pattern.energy_kv``.

    Raises
    ------
    ValueError
        If a parameter is out of range or the phase cannot be converted (see
        :func:`_to_de_ebsd_crystal`).
    """
    # lazy: torch, de_ebsd (which imports torch) and kikuchipy take seconds to import
    import de_ebsd
    import torch
    from de_ebsd.sim.montecarlo import DepthDistribution
    from kikuchipy.signals import EBSDMasterPattern

    if energy_kv <= 0:
        raise ValueError(f"energy_kv must be positive, got {energy_kv}")
    if half_size < 1:
        raise ValueError(f"half_size must be at least 1, got {half_size}")
    if min_dspacing_nm <= 0:
        raise ValueError(f"min_dspacing_nm must be positive, got {min_dspacing_nm}")
    if n_electrons < 1:
        raise ValueError(f"n_electrons must be at least 1, got {n_electrons}")

    crystal = _to_de_ebsd_crystal(phase, debye_waller_nm2)
    energy = float(energy_kv)
    depth = DepthDistribution.from_simulation(
        crystal,
        energy,
        tilt_deg=SAMPLE_TILT_DEG,
        n_electrons=int(n_electrons),
        device="cpu",
        seed=int(seed),
    )
    simulator = de_ebsd.MasterPatternSimulator(
        crystal,
        de_ebsd.Microscope(energy=energy * 1e3, sample_tilt=SAMPLE_TILT_DEG),
        npx=int(half_size),
        dmin=float(min_dspacing_nm),
        monte_carlo=depth,
    )

    bar = None
    if show_progressbar:
        bar = tqdm(total=1, desc=f"Dynamical master pattern {phase.name}", unit="batch")

    def _progress(done: int, total: int) -> None:
        if bar is not None:
            bar.total = total
            bar.n = done
            bar.refresh()

    try:
        # Batches of 8,192 beam directions (de-ebsd's default puts a whole master
        # pattern in one batch): the progress bar then moves during a long run.
        result = simulator.compute(
            device="cpu", dtype=torch.float32, progress=_progress, chunk_size=8192
        )
    finally:
        if bar is not None:
            bar.close()

    i_energy = int(np.argmin(np.abs(np.asarray(result.energies_kev) - energy)))
    data = result.data[i_energy].detach().cpu().numpy().astype(np.float32)

    mp = EBSDMasterPattern(data, projection="lambert", hemisphere="both", phase=phase.deepcopy())
    mp.metadata.set_item(
        "Simulation.EBSD_master_pattern.energy_kv", float(result.energies_kev[i_energy])
    )
    mp.axes_manager.navigation_axes[0].name = "hemisphere"
    for axis, axis_name in zip(mp.axes_manager.signal_axes, ("width", "height"), strict=True):
        axis.name = axis_name
        axis.offset = -(axis.size // 2)
        axis.units = "px"
    return mp
