"""Configuration of the indexing methods a study runs."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator

from synthebsd.config._base import StrictModel

__all__ = ["IndexingConfig"]


class IndexingConfig(StrictModel):
    """Indexing methods run by the study.

    ``backend`` selects the implementation of dictionary indexing and refinement:
    ``torch`` (synthebsd's, on the torch renderer, any device) or ``kikuchipy`` (the
    reference the tests compare against). The ``dictionary_*`` (but resolution and
    threshold), ``refine_coarse_*``, ``refine_steps``, ``refine_tolerance_deg``,
    ``device`` and ``pc_refinement: map`` settings are the torch backend's.
    """

    nlpar: bool = Field(
        False,
        description="average every pattern with its similar map neighbours (non-local "
        "pattern averaging, PyEBSDIndex's NLPAR) before any method, classical or neural, "
        "sees it: the usual remedy for low-dose maps",
    )
    nlpar_search_radius: int = Field(
        3, ge=1, le=10, description="NLPAR: neighbours within this many map points"
    )
    nlpar_lambda: float | None = Field(
        None,
        gt=0.0,
        le=10.0,
        description="NLPAR: lambda of the weights exp(-d^2/lambda^2); None fits it on the "
        "map (PyEBSDIndex's opt_lambda)",
    )
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
    backend: Literal["torch", "kikuchipy"] = Field(
        "torch", description="dictionary indexing and refinement: torch renderer or kikuchipy"
    )
    device: str = Field("cpu", pattern=r"^(cpu|cuda(:\d+)?|mps|meta)$", description="torch device")
    memory_budget_gib: float = Field(
        1.0,
        gt=0.0,
        le=1024.0,
        description="working memory of each indexing step in GiB (pattern blocks, cached "
        "coarse dictionary, models); a budget below one block is refused",
    )
    dictionary_resolution_deg: float = Field(3.0, ge=0.5, le=10.0)
    dictionary_top_k: int = Field(
        1, ge=1, le=100, description="best matches kept per phase (candidates)"
    )
    dictionary_binning: int = Field(
        2,
        ge=1,
        le=8,
        description="coarse match on patterns binned b × b (must divide the pattern shape)",
    )
    dictionary_pca_components: int = Field(
        0,
        ge=0,
        le=4096,
        description="principal directions of the coarse dictionary kept (0: no compression)",
    )
    dictionary_match_dtype: Literal["float32", "bfloat16"] = Field(
        "bfloat16",
        description="precision of the coarse match (bfloat16: 3× faster on CPUs with "
        "AVX-512 BF16 and on GPUs; candidates are re-scored in float32)",
    )
    dictionary_rerank: int = Field(
        8,
        ge=1,
        le=256,
        description="coarse candidates per phase scored again by exact NCC at full "
        "resolution (the reported scores)",
    )
    model_resample_sigma_px: float | None = Field(
        3.0,
        gt=0.0,
        le=50.0,
        description="the smoothed indexer model keeps as few Lambert pixels as leave at "
        "least this many per blur σ (faster, cache-resident); None keeps the grid",
    )
    refine_trust_region_deg: float = Field(
        8.0,
        gt=0.0,
        le=30.0,
        description="kikuchipy: ± bound on each Euler angle (±2° leaves a tail of >1° "
        "errors from a 3° dictionary because Euler-angle distances exceed "
        "disorientations near Φ = 0); torch: largest rotation from the start, degrees",
    )
    refine_initial_step_deg: float = Field(
        1.5, gt=0.0, le=10.0, description="kikuchipy: Nelder-Mead simplex size"
    )
    refine_coarse_binning: int = Field(
        2, ge=1, le=8, description="torch: binning of the coarse model of the first steps"
    )
    refine_coarse_steps: int = Field(
        1,
        ge=0,
        le=50,
        description="torch: Levenberg-Marquardt steps on the coarse model from every start",
    )
    neural_refine_coarse_steps: int = Field(
        4,
        ge=0,
        le=50,
        description="torch: refine_coarse_steps of neural + refinement, whose starts lie "
        "farther off (2-4 deg) than the dictionary's: 3 steps took 91.5 % of the "
        "evaluation's points within 2 deg, 1 step 89.3 % (without the variants, 2x2 "
        "binning)",
    )
    neural_refine_coarse_binning: int = Field(
        3,
        ge=1,
        le=8,
        description="torch: refine_coarse_binning of neural + refinement: a wider basin "
        "for the network's starts (measured on 15 evaluation maps, 3 x 3 and 4 steps "
        "against 2 x 2 and 3: 1.9-2.4 points more within 2 deg, up to 4.5 at 200 "
        "counts/px; the same medians, about the same time)",
    )
    refine_steps: int = Field(
        10, ge=1, le=100, description="torch: largest number of steps on the full model"
    )
    refine_tolerance_deg: float = Field(
        0.005,
        gt=0.0,
        le=1.0,
        description="torch: a pattern stops after an accepted step smaller than this "
        "(0.001 changes the median by < 0.001° on noisy Li and costs 15 % more steps)",
    )
    refine_pc: Literal["none", "pattern", "map"] = Field(
        "none",
        description="also refine the projection centre: per pattern, or one for the map "
        "(torch) fitted on refine_pc_subset points",
    )
    refine_pc_subset: int = Field(
        1000, ge=10, le=100_000, description="indexed points used to fit one PC for the map"
    )
    smooth_master_pattern: bool = Field(
        True,
        description="indexer's model: master pattern smoothed to the detector resolution "
        "(dictionaries and refinement); without it a 3° dictionary fails on dynamical Li",
    )
    refine_pseudo_symmetry: bool = Field(
        True, description="also refine from 60°⟨111⟩ variants (cubic) and keep the best"
    )
    neural_refine_pseudo_symmetry: bool = Field(
        False,
        description="refine_pseudo_symmetry of neural + refinement: a 3 deg dictionary "
        "of Li lands on 60 deg <111> variants, the network hardly ever (2 of 5,064 Li "
        "starts 55-65 deg off in the evaluation), while its variants won the choice at 45 "
        "points that then ended > 5 deg off",
    )
    min_dictionary_score: float = Field(
        0.2,
        ge=-1.0,
        le=1.0,
        description="NCC below which a pixel is called not indexed: the dictionary's best "
        "match, and the refined orientation of neural + refinement",
    )
    min_hough_confidence: float = Field(
        0.3, ge=0.0, le=1.0, description="PyEBSDIndex confidence metric (cm) threshold"
    )
    neural_checkpoint: str | None = Field(
        "shipped",
        description="orientation checkpoint of the 'neural' and 'neural_refined' rows: a "
        "path, 'shipped' (the package's default model) or None (no neural rows); one "
        "whose detector or phases do not fit is skipped with a message in the summary",
    )
    neural_refine: bool = Field(
        True, description="also refine from the network's orientations (no dictionary)"
    )
    neural_batch_size: int = Field(512, ge=1, le=65536, description="patterns per forward pass")

    @model_validator(mode="after")
    def _torch_only(self) -> IndexingConfig:
        if self.backend == "kikuchipy" and self.refine_pc == "map":
            raise ValueError("refine_pc: map needs backend: torch (kikuchipy fits per pattern)")
        return self

    def dictionary_kwargs(self) -> dict:
        """Keyword arguments of :func:`synthebsd.analyze.dictionary_index` from this config."""
        return {
            "backend": self.backend,
            "top_k": self.dictionary_top_k,
            "rerank": self.dictionary_rerank,
            "binning": self.dictionary_binning,
            "pca_components": self.dictionary_pca_components,
            "match_dtype": self.dictionary_match_dtype,
            "device": self.device,
            "memory_budget_gib": self.memory_budget_gib,
        }

    def nlpar_kwargs(self) -> dict:
        """Keyword arguments of :func:`synthebsd.analyze.nlpar_patterns` from this config."""
        return {"search_radius": self.nlpar_search_radius, "lam": self.nlpar_lambda}

    def neural_refine_kwargs(self, detector_shape: tuple[int, int]) -> dict:
        """:meth:`refine_kwargs` of neural + refinement (its own coarse stage), whose
        binning is the largest up to ``neural_refine_coarse_binning`` that divides the
        detector shape (rows, cols) in pixels (2 on a 32 × 32 or 80 × 80 detector)."""
        rows, cols = detector_shape
        binning = max(
            b for b in range(1, self.neural_refine_coarse_binning + 1)
            if rows % b == 0 and cols % b == 0
        )  # fmt: skip
        return self.refine_kwargs() | {
            "coarse_steps": self.neural_refine_coarse_steps,
            "coarse_binning": binning,
        }

    def refine_kwargs(self) -> dict:
        """Keyword arguments of :func:`synthebsd.analyze.refine_orientations` (after the
        positional trust region, initial step and pseudo-symmetry) from this config."""
        return {
            "backend": self.backend,
            "pc": self.refine_pc,
            "coarse_binning": self.refine_coarse_binning,
            "coarse_steps": self.refine_coarse_steps,
            "steps": self.refine_steps,
            "tolerance_deg": self.refine_tolerance_deg,
            "pc_subset": self.refine_pc_subset,
            "device": self.device,
            "memory_budget_gib": self.memory_budget_gib,
        }
