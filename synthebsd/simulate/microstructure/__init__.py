"""Ground-truth microstructures of anode-free cells: cross-sections and in-situ sequences.

Layered cells (collector, metal, electrolyte) with rough interfaces, Laguerre grains of
prescribed log-normal sizes, textures, intragranular misorientation and stripping voids;
every map is an orix :class:`~orix.crystal_map.CrystalMap` following
:mod:`synthebsd.conventions`. No I/O and no figures here.
"""

from synthebsd.simulate.microstructure._sequences import (
    generate_microstructure,
    plating_sequence,
    stripping_sequence,
)
from synthebsd.simulate.microstructure._tessellation import (
    lognormal_diameters,
    power_labels,
    prescribed_area_tessellation,
)
from synthebsd.simulate.microstructure._texture import (
    fibre_orientations,
    load_orientation_set,
    random_rotations,
    texture_orientations,
)

__all__ = [
    "fibre_orientations",
    "generate_microstructure",
    "load_orientation_set",
    "lognormal_diameters",
    "plating_sequence",
    "power_labels",
    "prescribed_area_tessellation",
    "random_rotations",
    "stripping_sequence",
    "texture_orientations",
]
