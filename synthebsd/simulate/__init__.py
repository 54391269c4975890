"""Scene → patterns: ground-truth maps, master patterns and pattern formation."""

from synthebsd.simulate._master_pattern import (
    compute_master_pattern,
    default_cache_dir,
    get_master_pattern,
    kinematical_master_pattern,
    lambert_half_size,
    master_pattern_key,
)
from synthebsd.simulate._patterns import (
    backscatter_background,
    make_detector,
    project_kikuchi_signal,
    render_patterns,
    simulate_patterns,
    smooth_master_pattern,
)
from synthebsd.simulate._scene import Region, cross_section_scene, random_rotations

__all__ = [
    "Region",
    "backscatter_background",
    "cross_section_scene",
    "compute_master_pattern",
    "default_cache_dir",
    "get_master_pattern",
    "kinematical_master_pattern",
    "lambert_half_size",
    "make_detector",
    "master_pattern_key",
    "project_kikuchi_signal",
    "random_rotations",
    "render_patterns",
    "simulate_patterns",
    "smooth_master_pattern",
]
