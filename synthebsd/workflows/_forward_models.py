"""The two sides of a method-validation study: what makes the patterns, what indexes them.

The **truth** (``realistic``) forward model renders a map from the study's master
patterns (energy-weighted dynamical by default) with a projection centre per map point
(:func:`~synthebsd.simulate.map_detector`), pores and crystalline electrolytes that give
patterns, and every configured physics model. The **indexer** model is what a user has
(:class:`~synthebsd.config.IndexerModelConfig`): single-energy master patterns at half the
truth's Lambert resolution, smoothed to the detector's angular resolution, and one
projection centre from a calibration with an error. The ``matched`` forward model
renders from the indexer's own (unsmoothed) master patterns at its exact projection centre,
the inverse crime whose flattering numbers the study reports beside the realistic ones.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
from orix.crystal_map import CrystalMap, PhaseList

from synthebsd.analyze import smooth_master_pattern
from synthebsd.config import MasterPatternConfig, StudyConfig
from synthebsd.conventions import CALIBRATION_STREAM, PHASE_IDS, stream_rng
from synthebsd.simulate import (
    get_master_pattern,
    lambert_half_size,
    make_detector,
    map_detector,
    master_pattern_key,
)

if TYPE_CHECKING:
    from kikuchipy.detectors import EBSDDetector
    from kikuchipy.signals import EBSDMasterPattern

__all__ = ["ForwardModel", "IndexerModel", "forward_model", "indexer_model"]


@dataclass
class IndexerModel:
    """What an indexing method is given: candidate phases, their master patterns, one PC.

    ``master_patterns`` are smoothed when the study says so (the indexer's model), in the
    order of ``phase_list``; ``raw`` holds the unsmoothed ones of every phase of the map
    (the matched forward model renders from them).
    """

    name: str
    phase_list: PhaseList
    master_patterns: list[EBSDMasterPattern]
    raw: dict[int, EBSDMasterPattern]
    detector: EBSDDetector
    pc_error: np.ndarray
    keys: dict[str, dict] = field(default_factory=dict)

    @property
    def phase_names(self) -> list[str]:
        return [ph.name for _, ph in self.phase_list]


@dataclass
class ForwardModel:
    """What makes the patterns: master pattern per phase id and the detector."""

    name: str
    master_patterns: dict[int, EBSDMasterPattern]
    detector: EBSDDetector
    keys: dict[str, dict]


def _crystalline(truth: CrystalMap) -> dict[int, object]:
    return {pid: ph for pid, ph in truth.phases if pid >= 0}


def _indexer_master_pattern_config(config: StudyConfig, phase, engine: str) -> MasterPatternConfig:
    """The indexer's master pattern: single (top) energy, half the truth's resolution."""
    half = config.indexer.half_size_px
    if half is None:
        half = max(25, lambert_half_size(phase, config.master_pattern) // 2)
    return config.master_pattern.model_copy(
        update={"engine": engine, "half_size_px": half, "energy_weighting": "incident"}
    )


def indexer_model(
    config: StudyConfig,
    truth: CrystalMap,
    engine: str | None = None,
    exact_pc: bool = False,
    cache_dir: str | Path | None = None,
    candidates_only: bool = False,
) -> IndexerModel:
    """The indexer's model for a study's map.

    Parameters
    ----------
    config
        The study configuration (its ``indexer``, ``detector``, ``indexing``).
    truth
        The ground-truth map (its phases; the electrolyte is a candidate only with
        ``indexing.electrolyte_candidate``).
    engine
        Master-pattern engine; default ``config.indexer.engine``.
    exact_pc
        Use the nominal projection centre without calibration error (matched model).
    cache_dir
        Master-pattern cache folder.
    candidates_only
        Make master patterns of the candidate phases only (``raw`` then lacks the other
        phases of the map, so the model cannot serve as the matched forward model).
    """
    engine = engine or config.indexer.engine or config.master_pattern.engine
    energy = config.detector.energy_kv
    tilt = config.detector.sample_tilt_deg
    phases = _crystalline(truth)
    candidates = [PHASE_IDS["metal"], PHASE_IDS["collector"]]
    if config.indexing.electrolyte_candidate:
        candidates.append(PHASE_IDS["electrolyte"])
    raw, keys = {}, {}
    for pid, phase in phases.items():
        if candidates_only and pid not in candidates:
            continue
        mp_config = _indexer_master_pattern_config(config, phase, engine)
        raw[pid] = get_master_pattern(phase, energy, mp_config, cache_dir, tilt)
        keys[phase.name] = master_pattern_key(phase, energy, mp_config, tilt)
    ids = [pid for pid in candidates if pid in phases]
    detector = make_detector(config.detector)
    if config.indexing.smooth_master_pattern:
        mps = [
            smooth_master_pattern(
                raw[pid],
                detector,
                config.patterns.psf_sigma_px,
                config.indexing.model_resample_sigma_px,
            )
            for pid in ids
        ]
    else:
        mps = [raw[pid] for pid in ids]
    error = np.zeros(3)
    if not exact_pc and config.indexer.pc_error > 0:
        direction = stream_rng(config.seed, CALIBRATION_STREAM).standard_normal(3)
        error = config.indexer.pc_error * direction / np.linalg.norm(direction)
        detector.pc = detector.pc + error
    return IndexerModel(
        name=f"{engine}{'' if exact_pc else ', calibrated PC'}",
        phase_list=PhaseList(phases=[phases[pid].deepcopy() for pid in ids], ids=ids),
        master_patterns=mps,
        raw=raw,
        detector=detector,
        pc_error=error,
        keys=keys,
    )


def forward_model(
    name: str,
    config: StudyConfig,
    truth: CrystalMap,
    indexer: IndexerModel,
    cache_dir: str | Path | None = None,
) -> ForwardModel:
    """The ``realistic`` (truth) or ``matched`` forward model of a study's map."""
    energy = config.detector.energy_kv
    if name == "matched":
        keys = {
            truth.phases[pid].name: indexer.keys[truth.phases[pid].name] for pid in indexer.raw
        }
        return ForwardModel(name, dict(indexer.raw), make_detector(config.detector), keys)
    if name != "realistic":
        raise ValueError(f"Unknown forward model {name!r}; use 'realistic' or 'matched'")
    tilt = config.detector.sample_tilt_deg
    mps, keys = {}, {}
    for pid, phase in _crystalline(truth).items():
        mps[pid] = get_master_pattern(phase, energy, config.master_pattern, cache_dir, tilt)
        keys[phase.name] = master_pattern_key(phase, energy, config.master_pattern, tilt)
    detector = map_detector(config.detector, truth.shape, (truth.dy, truth.dx))
    return ForwardModel(name, mps, detector, keys)
