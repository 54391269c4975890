"""Kinematical master patterns with kikuchipy's ``KikuchiPatternSimulator``."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
from diffsims.crystallography import ReciprocalLatticeVector

from synthebsd.simulate.masterpatterns._lambert import lambert_master_pattern

if TYPE_CHECKING:
    from kikuchipy.signals import EBSDMasterPattern
    from orix.crystal_map import Phase

__all__ = ["kinematical_master_pattern"]


def kinematical_master_pattern(
    phase: Phase,
    energy_kv: float = 20.0,
    half_size: int = 250,
    min_dspacing_angstrom: float = 0.5,
    structure_factor_cut: float = 0.05,
) -> EBSDMasterPattern:
    """Compute a kinematical master pattern with kikuchipy.

    Reflectors are all lattice planes with d ≥ ``min_dspacing_angstrom``, reduced to the
    unique families, kept where the kinematical structure factor \\|F\\| (diffsims, with
    the atoms' Debye–Waller factors) is at least ``structure_factor_cut`` × max \\|F\\|,
    then expanded to all symmetry-equivalent planes (without that expansion the master
    pattern lacks equivalent bands).

    Parameters
    ----------
    phase
        Phase with a full structure (atoms and lattice in Å).
    energy_kv
        Beam energy in kV; sets the Bragg angles and so the band widths.
    half_size
        Half width of the square Lambert projection in pixels (side 2 × half_size + 1).
    min_dspacing_angstrom
        Smallest interplanar spacing in Å.
    structure_factor_cut
        Relative \\|F\\| below which reflectors are dropped.

    Returns
    -------
    master_pattern
        Lambert projection, both hemispheres, data shape (2, n, n), float32.

    Raises
    ------
    ValueError
        For a non-orthogonal lattice with atoms off the origin (e.g. NZSP's hexagonal
        axes): orix (0.15) re-aligns such a lattice keeping the atoms' Cartesian
        positions, so diffsims would expand the asymmetric unit, and compute structure
        factors, from wrong fractional positions (hcp Mg at (1/3, 2/3, 1/4) comes out
        at (0.577, 0.577, 1/4)). Use the dynamical engine for these phases.
    """
    import kikuchipy as kp  # lazy: importing kikuchipy takes seconds

    angles = np.asarray(phase.structure.lattice.abcABG()[3:], dtype=float)
    off_origin = np.abs(np.asarray(phase.structure.xyz, dtype=float)).max(initial=0.0) > 1e-9
    if not np.allclose(angles, 90.0) and off_origin:
        raise ValueError(
            f"The kinematical engine cannot simulate {phase.name}: its lattice is not "
            f"orthogonal (angles {angles.round(2).tolist()}°) and orix re-aligns such "
            "lattices in a way that moves the atoms for diffsims' structure factors; "
            "use engine='dynamical'"
        )

    ref = ReciprocalLatticeVector.from_min_dspacing(
        phase.deepcopy(), min_dspacing=min_dspacing_angstrom
    )
    ref = ref.unique(use_symmetry=True)
    ref.sanitise_phase()
    ref.calculate_structure_factor()
    f_abs = np.abs(ref.structure_factor)
    ref = ref[f_abs >= structure_factor_cut * f_abs.max()]
    ref = ref.symmetrise()
    ref.calculate_theta(energy_kv * 1e3)
    simulator = kp.simulations.KikuchiPatternSimulator(ref)
    stereographic = _serial_numba(simulator.calculate_master_pattern)(
        half_size=half_size, hemisphere="both", scaling="linear"
    )
    lambert = stereographic.as_lambert(show_progressbar=False)
    return lambert_master_pattern(np.asarray(lambert.data, dtype=np.float32), phase, energy_kv)


def _serial_numba(func):
    """Run ``func`` with one numba thread.

    kikuchipy 0.13.1's kinematical ``get_pattern`` loops over reflectors with
    ``numba.prange`` while every thread adds into the same output pixels, a data race:
    on several cores the master pattern randomly loses intensity (we measured up to 9 %
    deviation from its own 4-fold symmetry, different on every call). One thread makes
    it exact and deterministic, at about twice the time on 2 cores.
    """

    def serial(*args, **kwargs):
        import numba  # lazy: only this engine needs numba's thread control

        n_threads = numba.get_num_threads()
        numba.set_num_threads(1)
        try:
            return func(*args, **kwargs)
        finally:
            numba.set_num_threads(n_threads)

    return serial
