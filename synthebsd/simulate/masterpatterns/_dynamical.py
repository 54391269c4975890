"""Dynamical (Bloch-wave) master patterns computed with the ``de-ebsd`` package.

``de-ebsd`` solves the Bloch-wave equations for every beam direction on the square
Lambert grid and weights the result with a Monte Carlo exit-depth profile, as EMsoft's
``EMEBSDmaster`` does, but on the CPU through torch. This module converts an orix
:class:`~orix.crystal_map.Phase` to a ``de-ebsd`` crystal, runs the Monte Carlo at the
sample tilt and the simulation for the top energy bin (``incident``) or for every energy
bin of the Monte Carlo (``spectrum``, weighted by its backscattered-energy spectrum), and
wraps the result as a kikuchipy :class:`~kikuchipy.signals.EBSDMasterPattern`, so that
later stages do not depend on the engine that made it.

How de-ebsd scales its energy bins: bin E's map is
I_E(k) = Σ_z λ_E(z)·|Ψ_k(z)|²·Δz / (t_E·n_atoms) with λ_E(z) the Monte Carlo count of
electrons leaving from depth z at energy E over the number of incident electrons (times
the normal-absorption correction), EMsoft's ``lambdaE``. A bin's map is therefore already
proportional to its count c_E: measured on Li (half size 25, 20,000 electrons, 70°),
mean(I_E) / c_E = 4.25–4.41 × 10⁻⁶ over the six bins 15–20 keV while c_E ranges 65–206.
The per-electron map of a bin is m_E = I_E / c_E and the spectrum-weighted master pattern
is Σ_E w_E·m_E with w_E = c_E / Σ c (bins without electrons carry no weight), which is
Σ_E I_E / Σ c: weighting the raw bins by c_E again would count the spectrum twice.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Literal

import numpy as np
from diffpy.structure import Lattice
from diffpy.structure.spacegroups import GetSpaceGroup
from tqdm.auto import tqdm

from synthebsd.phases import element_symbol

if TYPE_CHECKING:
    from kikuchipy.signals import EBSDMasterPattern
    from orix.crystal_map import Phase

__all__ = ["backscatter_spectrum", "dynamical_master_pattern", "spectrum_weighted"]

#: Default sample tilt (degrees from horizontal) of the Monte Carlo exit-depth profile.
SAMPLE_TILT_DEG = 70.0

EnergyWeighting = Literal["spectrum", "incident"]

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
    return _crystal_class(Crystal)(
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


def _crystal_class(base: type) -> type:
    """``de_ebsd.Crystal`` that knows diffpy's name of the rhombohedral centring.

    de-ebsd 0.2.1 takes the centring from the first letter of diffpy's space-group
    symbol, and diffpy names the hexagonal-axes setting of the rhombohedral groups
    ``H…`` (``H-3c`` for R-3c, NZSP's group), which de-ebsd refuses ("Unknown centering
    symbol 'H'"). That setting's centring translations are (2/3, 1/3, 1/3) and
    (1/3, 2/3, 2/3), the obverse setting de-ebsd's ``R`` branch tests (−h + k + l = 3n).
    """

    class _Crystal(base):
        @property
        def centering(self) -> str:
            symbol = super().centering
            return "R" if symbol == "H" else symbol

    _Crystal.__name__ = _Crystal.__qualname__ = base.__name__
    return _Crystal


def _in_orbit(xyz: np.ndarray, site: np.ndarray, ops: list[tuple[np.ndarray, np.ndarray]]) -> bool:
    """Whether fractional position ``xyz`` is an image of ``site`` under ``ops``."""
    for r, t in ops:
        diff = (r @ site + t - xyz + 0.5) % 1.0 - 0.5
        if np.all(np.abs(diff) < _SITE_TOLERANCE):
            return True
    return False


def backscatter_spectrum(depth: Any) -> tuple[np.ndarray, np.ndarray]:
    """Backscattered-energy spectrum of a de-ebsd Monte Carlo.

    Parameters
    ----------
    depth
        A ``de_ebsd.sim.montecarlo.DepthDistribution``.

    Returns
    -------
    energies_kev
        Energy bin centres in keV, ascending.
    counts
        Backscattered electrons per energy bin (its ``accum_z`` summed over exit depth
        and lateral position).
    """
    energies = np.asarray(depth.energies_kev, dtype=np.float64)
    counts = np.asarray(depth.accum_z, dtype=np.float64).sum(axis=(1, 2, 3))
    return energies, counts


def spectrum_weighted(data: np.ndarray, counts: np.ndarray) -> np.ndarray:
    """Energy-resolved de-ebsd maps weighted by the backscattered-energy spectrum.

    Returns Σ_E w_E·m_E with m_E = I_E / c_E, the map of bin E per backscattered electron
    (de-ebsd's bin maps carry their count, see the module docstring), and
    w_E = c_E / Σ c; bins without electrons get no weight.

    Parameters
    ----------
    data
        Bin maps I_E, shape (n_energies, ...).
    counts
        Electrons per bin c_E, shape (n_energies,).

    Returns
    -------
    weighted
        float32 array of shape ``data.shape[1:]``.

    Raises
    ------
    ValueError
        If the shapes disagree, or no bin holds a backscattered electron.
    """
    data = np.asarray(data, dtype=np.float64)
    counts = np.asarray(counts, dtype=np.float64)
    if counts.shape != data.shape[:1]:
        raise ValueError(f"{counts.size} spectrum counts for {data.shape[0]} energy bins")
    if np.any(counts < 0) or counts.sum() <= 0:
        raise ValueError(
            "The Monte Carlo backscattered no electrons into the energy bins; raise n_electrons"
        )
    used = counts > 0
    weights = counts[used] / counts.sum()
    per_electron = data[used] / counts[used].reshape((-1,) + (1,) * (data.ndim - 1))
    return np.tensordot(weights, per_electron, axes=1).astype(np.float32)


def dynamical_master_pattern(
    phase: Phase,
    energy_kv: float = 20.0,
    half_size: int = 250,
    min_dspacing_nm: float = 0.05,
    debye_waller_nm2: float | None = None,
    n_electrons: int = 200_000,
    seed: int = 0,
    show_progressbar: bool = True,
    sample_tilt_deg: float = SAMPLE_TILT_DEG,
    energy_weighting: EnergyWeighting = "spectrum",
) -> EBSDMasterPattern:
    """Compute a dynamical EBSD master pattern with ``de-ebsd``.

    The Bloch-wave intensities of every beam direction on the square Lambert grid are
    integrated over depth with a Monte Carlo exit-depth profile of the sample tilted by
    ``sample_tilt_deg``. de-ebsd's Monte Carlo bins the backscattered electrons in 1 keV
    energy bins from 5 keV below the beam energy up to it. ``energy_weighting="spectrum"``
    solves every bin (at its own energy and depth profile) and weights the bins by the
    Monte Carlo's backscattered-energy spectrum (:func:`spectrum_weighted`);
    ``"incident"`` solves only the top bin, the electrons that lost < 0.5 keV (what
    kikuchipy's and EMsoft's single-energy dictionaries use), at about 1/6 of the cost.
    Beam directions are folded onto the point group's fundamental sector, so each
    distinct direction is solved once.

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
        Whether to show a progress bar over the beam-direction batches (of every
        energy bin).
    sample_tilt_deg
        Sample tilt from horizontal in degrees for the Monte Carlo (and de-ebsd's
        microscope), e.g. ``DetectorConfig.sample_tilt_deg``.
    energy_weighting
        ``"spectrum"``: every energy bin, weighted by the backscattered-energy spectrum;
        ``"incident"``: the top energy bin only.

    Returns
    -------
    master_pattern
        Lambert projection, ``hemisphere="both"``, data shape (2, n, n) with the
        upper (northern) hemisphere first, float32, with a copy of ``phase`` attached.
        ``metadata.Simulation.EBSD_master_pattern`` holds ``energy_kv`` (the top bin's
        energy, i.e. the beam energy, in kV), ``energy_weighting``, ``sample_tilt_deg``,
        and the Monte Carlo's ``energies_kev`` and ``spectrum_counts``.

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
    if not 0.0 <= sample_tilt_deg <= 90.0:
        raise ValueError(f"sample_tilt_deg must be in [0, 90] degrees, got {sample_tilt_deg}")
    if energy_weighting not in ("spectrum", "incident"):
        raise ValueError(
            f"energy_weighting must be 'spectrum' or 'incident', got {energy_weighting!r}"
        )

    crystal = _to_de_ebsd_crystal(phase, debye_waller_nm2)
    energy = float(energy_kv)
    depth = DepthDistribution.from_simulation(
        crystal,
        energy,
        tilt_deg=float(sample_tilt_deg),
        n_electrons=int(n_electrons),
        device="cpu",
        seed=int(seed),
    )
    simulator = de_ebsd.MasterPatternSimulator(
        crystal,
        de_ebsd.Microscope(energy=energy * 1e3, sample_tilt=float(sample_tilt_deg)),
        npx=int(half_size),
        dmin=float(min_dspacing_nm),
        monte_carlo=depth,
    )

    bar = None
    if show_progressbar:
        bar = tqdm(
            total=1,
            desc=f"Dynamical master pattern {phase.name} ({energy_weighting})",
            unit="batch",
        )

    def _progress(done: int, total: int) -> None:
        if bar is not None:
            bar.total = total
            bar.n = done
            bar.refresh()

    try:
        # Batches of 8,192 beam directions (de-ebsd's default puts a whole master
        # pattern in one batch): the progress bar then moves during a long run.
        result = simulator.compute(
            device="cpu",
            dtype=torch.float32,
            progress=_progress,
            chunk_size=8192,
            energy_resolved=energy_weighting == "spectrum",
        )
    finally:
        if bar is not None:
            bar.close()

    energies, counts = backscatter_spectrum(depth)
    result_energies = np.asarray(result.energies_kev, dtype=np.float64)
    bins = result.data.detach().cpu().numpy()
    if energy_weighting == "spectrum":
        if not np.allclose(result_energies, energies):
            raise RuntimeError(
                f"de-ebsd returned energy bins {result_energies} for a Monte Carlo "
                f"with bins {energies}"
            )
        data = spectrum_weighted(bins, counts)
    else:
        top = int(np.argmin(np.abs(result_energies - energy)))
        if counts[depth.energy_index(float(result_energies[top]))] <= 0:
            raise ValueError(
                f"The Monte Carlo backscattered no electrons into the top energy bin of "
                f"{phase.name} at {energy:g} kV; raise n_electrons"
            )
        data = bins[top].astype(np.float32)

    mp = EBSDMasterPattern(data, projection="lambert", hemisphere="both", phase=phase.deepcopy())
    md = "Simulation.EBSD_master_pattern."
    mp.metadata.set_item(md + "energy_kv", float(result_energies.max()))
    mp.metadata.set_item(md + "energy_weighting", energy_weighting)
    mp.metadata.set_item(md + "sample_tilt_deg", float(sample_tilt_deg))
    mp.metadata.set_item(md + "energies_kev", energies.tolist())
    mp.metadata.set_item(md + "spectrum_counts", counts.tolist())
    mp.axes_manager.navigation_axes[0].name = "hemisphere"
    for axis, axis_name in zip(mp.axes_manager.signal_axes, ("width", "height"), strict=True):
        axis.name = axis_name
        axis.offset = -(axis.size // 2)
        axis.units = "px"
    return mp
