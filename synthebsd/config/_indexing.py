"""Configuration of the indexing methods a study runs."""

from __future__ import annotations

from pydantic import Field

from synthebsd.config._base import StrictModel

__all__ = ["IndexingConfig"]


class IndexingConfig(StrictModel):
    """Indexing methods run by the study."""

    hough: bool = True
    dictionary: bool = True
    refine: bool = True
    kinematical_dictionary: bool = Field(
        True,
        description="also index the realistic patterns with a kinematical indexer model "
        "(the usual shortcut) and report both",
    )
    electrolyte_candidate: bool = Field(
        False,
        description="add a crystalline electrolyte to the candidate phases (default: the "
        "metal and the collector, as in practice)",
    )
    dictionary_resolution_deg: float = Field(3.0, ge=0.5, le=10.0)
    refine_trust_region_deg: float = Field(
        8.0,
        gt=0.0,
        le=30.0,
        description="± bound on each Euler angle; ±2° leaves a tail of >1° errors from a 3° "
        "dictionary because Euler-angle distances exceed disorientations near Φ = 0",
    )
    refine_initial_step_deg: float = Field(
        1.5, gt=0.0, le=10.0, description="Nelder-Mead simplex size"
    )
    smooth_master_pattern: bool = Field(
        True,
        description="indexer's model: master pattern smoothed to the detector resolution "
        "(dictionaries and refinement); without it a 3° dictionary fails on dynamical Li",
    )
    refine_pseudo_symmetry: bool = Field(
        True, description="also refine from 60°⟨111⟩ variants (cubic) and keep the best"
    )
    min_dictionary_score: float = Field(
        0.2, ge=-1.0, le=1.0, description="NCC below which a pixel is called not indexed"
    )
    min_hough_confidence: float = Field(
        0.3, ge=0.0, le=1.0, description="PyEBSDIndex confidence metric (cm) threshold"
    )
