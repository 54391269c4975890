"""Scene → patterns: ground-truth maps, master patterns and pattern formation."""

from synthebsd._microstructure_config import (
    MicrostructureConfig,
    list_presets,
    load_microstructure_config,
)
from synthebsd.simulate._camera import camera_counts, camera_moments
from synthebsd.simulate._damage import (
    dose_map,
    max_transferred_energy_ev,
    primary_electrons,
)
from synthebsd.simulate._detector_geometry import detector_direction_cosines
from synthebsd.simulate._formation import PatternModel, pattern_ground_truth
from synthebsd.simulate._gallery import write_pattern_gallery
from synthebsd.simulate._master_pattern import (
    compute_master_pattern,
    default_cache_dir,
    get_master_pattern,
    kinematical_master_pattern,
    lambert_half_size,
    master_pattern_key,
)
from synthebsd.simulate._microstructure import (
    PHASE_IDS,
    generate_microstructure,
    plating_sequence,
    stripping_sequence,
)
from synthebsd.simulate._mixing import electron_range_um, footprint_sigmas_um, mixing_weights
from synthebsd.simulate._patterns import (
    MemoryBudgetError,
    backscatter_background,
    make_detector,
    plan_chunks,
    pore_shadow,
    project_kikuchi_signal,
    render_patterns,
    simulate_patterns,
    smooth_master_pattern,
)
from synthebsd.simulate._renderer import KikuchiRenderer, render_kikuchi
from synthebsd.simulate._scene import Region, cross_section_scene, random_rotations
from synthebsd.simulate._texture import fibre_orientations, load_orientation_set

__all__ = [
    "write_pattern_gallery",
    "primary_electrons",
    "pore_shadow",
    "plan_chunks",
    "pattern_ground_truth",
    "mixing_weights",
    "max_transferred_energy_ev",
    "footprint_sigmas_um",
    "electron_range_um",
    "dose_map",
    "camera_moments",
    "camera_counts",
    "PatternModel",
    "MemoryBudgetError",
    "MicrostructureConfig",
    "PHASE_IDS",
    "KikuchiRenderer",
    "Region",
    "backscatter_background",
    "cross_section_scene",
    "compute_master_pattern",
    "default_cache_dir",
    "detector_direction_cosines",
    "fibre_orientations",
    "generate_microstructure",
    "get_master_pattern",
    "kinematical_master_pattern",
    "list_presets",
    "lambert_half_size",
    "make_detector",
    "load_microstructure_config",
    "load_orientation_set",
    "master_pattern_key",
    "plating_sequence",
    "project_kikuchi_signal",
    "random_rotations",
    "render_kikuchi",
    "render_patterns",
    "simulate_patterns",
    "smooth_master_pattern",
    "stripping_sequence",
]
