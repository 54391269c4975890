"""Master patterns per phase: dynamical (de-ebsd), kinematical (kikuchipy), and their cache.

Every master pattern is a kikuchipy :class:`~kikuchipy.signals.EBSDMasterPattern` in the
square Lambert projection with both hemispheres and its orix phase, whichever engine
made it; the cache stores them in EMsoft's HDF5 layout.
"""

from synthebsd.simulate.masterpatterns._cache import (
    compute_master_pattern,
    default_cache_dir,
    get_master_pattern,
    lambert_half_size,
    master_pattern_key,
    min_dspacing_angstrom,
    save_master_pattern,
)
from synthebsd.simulate.masterpatterns._dynamical import (
    SAMPLE_TILT_DEG,
    backscatter_spectrum,
    dynamical_master_pattern,
    spectrum_weighted,
)
from synthebsd.simulate.masterpatterns._kinematical import kinematical_master_pattern
from synthebsd.simulate.masterpatterns._lambert import (
    lambert_hemispheres,
    lambert_master_pattern,
    square_lambert_xy,
    stereographic_from_lambert,
)

__all__ = [
    "SAMPLE_TILT_DEG",
    "backscatter_spectrum",
    "compute_master_pattern",
    "default_cache_dir",
    "dynamical_master_pattern",
    "get_master_pattern",
    "kinematical_master_pattern",
    "lambert_half_size",
    "lambert_hemispheres",
    "lambert_master_pattern",
    "master_pattern_key",
    "min_dspacing_angstrom",
    "save_master_pattern",
    "spectrum_weighted",
    "square_lambert_xy",
    "stereographic_from_lambert",
]
