"""Pattern formation: detector geometry, torch renderer, forward model and its physics.

The renderer (:class:`KikuchiRenderer`) projects Lambert master patterns onto a kikuchipy
detector (Bruker projection centre) exactly as kikuchipy does, batched on any torch
device; :class:`PatternModel` turns a ground-truth map into expected intensities with
the camera, beam-damage, boundary-mixing, pore and surface-layer models; and
:func:`simulate_patterns` streams the noisy patterns of a whole map in memory-bounded
chunks as a lazy kikuchipy signal.
"""

from synthebsd.simulate.patterns._camera import (
    camera_counts,
    camera_counts_torch,
    camera_electrons_per_pattern,
    camera_moments,
    poisson_counts,
    poisson_counts_torch,
    thin_counts_torch,
    torch_generator,
)
from synthebsd.simulate.patterns._damage import (
    critical_dose,
    critical_doses,
    damage_fraction,
    default_footprints,
    dose_map,
    max_transferred_energy_ev,
    primary_electrons,
    scan_index,
)
from synthebsd.simulate.patterns._detector import (
    backscatter_background,
    detector_config,
    detector_direction_cosines,
    gaussian_psf_kernel,
    make_detector,
    map_detector,
    pc_shift_along_beam,
    pore_shadow,
)
from synthebsd.simulate.patterns._formation import (
    PatternModel,
    pattern_ground_truth,
    surface_layer_factor,
)
from synthebsd.simulate.patterns._kikuchi import (
    master_pattern_stats,
    project_kikuchi_signal,
    scale_kikuchi,
)
from synthebsd.simulate.patterns._mixing import (
    electron_range_um,
    footprint_sigmas_um,
    mixing_kernel,
    mixing_weights,
    phase_composition,
)
from synthebsd.simulate.patterns._renderer import KikuchiRenderer, render_kikuchi
from synthebsd.simulate.patterns._simulate import (
    MemoryBudgetError,
    plan_chunks,
    render_patterns,
    simulate_patterns,
)
from synthebsd.simulate.patterns._sources import DiffractingSources, diffracting_sources
from synthebsd.simulate.patterns._threads import torch_threads, worker_pool

__all__ = [
    "DiffractingSources",
    "KikuchiRenderer",
    "MemoryBudgetError",
    "PatternModel",
    "backscatter_background",
    "camera_counts",
    "camera_counts_torch",
    "camera_electrons_per_pattern",
    "camera_moments",
    "critical_dose",
    "critical_doses",
    "damage_fraction",
    "default_footprints",
    "detector_direction_cosines",
    "diffracting_sources",
    "dose_map",
    "electron_range_um",
    "footprint_sigmas_um",
    "gaussian_psf_kernel",
    "detector_config",
    "make_detector",
    "map_detector",
    "master_pattern_stats",
    "max_transferred_energy_ev",
    "mixing_kernel",
    "mixing_weights",
    "pattern_ground_truth",
    "pc_shift_along_beam",
    "phase_composition",
    "plan_chunks",
    "poisson_counts",
    "poisson_counts_torch",
    "pore_shadow",
    "primary_electrons",
    "project_kikuchi_signal",
    "render_kikuchi",
    "render_patterns",
    "scale_kikuchi",
    "scan_index",
    "simulate_patterns",
    "surface_layer_factor",
    "thin_counts_torch",
    "torch_generator",
    "torch_threads",
    "worker_pool",
]
