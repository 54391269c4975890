"""The validated indexing pipeline applied to any pattern map ``kikuchipy.load`` opens.

:func:`index_map` runs the same preprocessing, Hough/Radon indexing (PyEBSDIndex),
dictionary indexing and refinement (kikuchipy) that the synthetic benchmarks validate
(:mod:`synthebsd.analyze.indexing`) on a user's own map, and writes an orix crystal map,
an IPF map, a score map and a JSON summary. Projection centres are in the Bruker
convention (PCx, PCy as fractions of the detector width and height from its left and top
edges, PCz as a fraction of its height), as kikuchipy uses them.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Literal

import numpy as np
from orix.crystal_map import CrystalMap
from orix.quaternion import Rotation

from synthebsd.analyze import (
    crystalline_phases,
    dictionary_index,
    hough_index,
    nlpar_patterns,
    preprocess_patterns,
    refine_orientations,
    smooth_master_pattern,
)
from synthebsd.config import MasterPatternConfig
from synthebsd.io import load_patterns, save_crystal_map, save_json
from synthebsd.phases import get_phase_list
from synthebsd.simulate import get_master_pattern, lambert_half_size
from synthebsd.viz import plot_ipf_map, plot_score_map

if TYPE_CHECKING:
    from kikuchipy.detectors import EBSDDetector
    from kikuchipy.signals import EBSD, EBSDMasterPattern
    from orix.crystal_map import PhaseList

__all__ = ["detector_for_signal", "index_map", "indexer_master_patterns", "map_geometry"]


def map_geometry(signal: EBSD) -> CrystalMap:
    """Empty crystal map, shape (rows, cols) or (n,), with the steps and unit (``"um"`` for
    µm) of the signal's navigation axes (x along columns, y down rows): ``like`` for the
    indexing functions."""
    axes = signal.axes_manager.navigation_axes
    if len(axes) not in (1, 2):
        raise ValueError(f"Expected a 1-D or 2-D pattern map, got {len(axes)} navigation axes")
    shape = tuple(a.size for a in axes[::-1])
    steps = tuple(float(a.scale) if a.scale > 0 else 1.0 for a in axes[::-1])
    like = CrystalMap.empty(shape=shape, step_sizes=steps)
    unit = str(axes[0].units) if axes[0].units and str(axes[0].units) != "<undefined>" else "px"
    like.scan_unit = unit.replace("µm", "um")
    return like


def _with_geometry(xmap: CrystalMap, like: CrystalMap) -> CrystalMap:
    """Copy of ``xmap`` (rotations, phases, properties) on the grid of ``like``."""
    return CrystalMap(
        rotations=Rotation(xmap.rotations.data.reshape(-1, 4)),
        phase_id=xmap.phase_id.copy(),
        x=like.x,
        y=like.y,
        phase_list=crystalline_phases(xmap.phases),
        prop={k: np.asarray(v).copy() for k, v in xmap.prop.items()},
        scan_unit=like.scan_unit,
    )


def detector_for_signal(
    signal: EBSD,
    pc_bruker: tuple[float, float, float] | None = None,
    sample_tilt_deg: float | None = None,
) -> tuple[EBSDDetector, dict]:
    """The detector to index with: the file's, with command-line values overriding it.

    The signal's detector (kikuchipy reads the projection centre, sample and camera tilts
    and binning from the file) must have the pattern shape. A per-pattern projection centre
    is averaged over the map (the dictionary and the refinement use one detector); its
    spread is reported.

    Parameters
    ----------
    signal
        Patterns with their detector.
    pc_bruker
        (PCx, PCy, PCz) in the Bruker convention, replacing the file's.
    sample_tilt_deg
        Sample tilt about the detector's x axis in degrees, replacing the file's.

    Returns
    -------
    detector, info
        One-PC detector, and a JSON-ready description of it (``pc_convention`` is
        ``"bruker"``).

    Raises
    ------
    ValueError
        If the file's detector shape differs from the pattern shape, or the values given
        are out of range.
    """
    from kikuchipy.detectors import EBSDDetector  # lazy: kikuchipy takes seconds

    pattern_shape = tuple(int(n) for n in signal.axes_manager.signal_shape[::-1])
    file_det = signal.detector
    if tuple(file_det.shape) != pattern_shape:
        raise ValueError(
            f"The detector has shape {tuple(file_det.shape)} (rows, cols) but the patterns "
            f"are {pattern_shape}: the detector does not fit these patterns"
        )
    pcs = np.asarray(file_det.pc, dtype=float).reshape(-1, 3)
    pc = pcs.mean(axis=0)
    spread = float(np.abs(pcs - pc).max())
    if pc_bruker is not None:
        pc = np.asarray(pc_bruker, dtype=float)
        if pc.shape != (3,) or not (np.all(pc[:2] > -1) and np.all(pc[:2] < 2) and pc[2] > 0):
            raise ValueError(f"--pc takes PCx PCy PCz (Bruker), PCz > 0; got {pc_bruker}")
        spread = 0.0
    tilt = file_det.sample_tilt if sample_tilt_deg is None else float(sample_tilt_deg)
    if not 0.0 <= tilt <= 90.0:
        raise ValueError(f"Sample tilt must be within 0-90°, got {tilt}")
    det = EBSDDetector(
        shape=pattern_shape,
        px_size=file_det.px_size,
        binning=file_det.binning,
        tilt=file_det.tilt,
        azimuthal=file_det.azimuthal,
        twist=file_det.twist,
        sample_tilt=tilt,
        pc=pc,
    )
    info = {
        "shape_px": list(pattern_shape),
        "pc": [float(v) for v in pc],
        "pc_convention": "bruker",
        "pc_source": "command line" if pc_bruker is not None else "file",
        "pc_spread_in_file": spread,
        "sample_tilt_deg": float(tilt),
        "sample_tilt_source": "command line" if sample_tilt_deg is not None else "file",
        "camera_tilt_deg": float(file_det.tilt),
        "binning": int(file_det.binning),
    }
    return det, info


def preprocess_file_map(signal: EBSD) -> tuple[EBSD, str]:
    """Background-corrected patterns, 1-D navigation, and the static background's source.

    :func:`preprocess_patterns` with the background recorded in the file if there is one,
    else the map mean. A map of a few grains has bands in its mean pattern: on
    kikuchipy's 3 × 3 Ni map (three grains) dividing by it halves the patterns' NCC with
    the simulated ones and leaves Hough 4 of 9 points, so a recorded background is used.
    """
    shape = tuple(signal.axes_manager.signal_shape[::-1])
    bg = signal.static_background
    if bg is None or np.shape(bg) != shape:
        return preprocess_patterns(signal), "map mean"
    return preprocess_patterns(signal, static_background=bg), "file"


def _stage_summary(xmap: CrystalMap, score: str, seconds: float, pps: float) -> dict:
    indexed = xmap.phase_id >= 0
    values = np.asarray(xmap.prop[score], dtype=float)[indexed]
    per_phase = {
        ph.name: float((xmap.phase_id == pid).mean()) for pid, ph in xmap.phases if pid >= 0
    }
    return {
        "n_indexed": int(indexed.sum()),
        "fraction_indexed": float(indexed.mean()),
        "fraction_per_phase": per_phase,
        "score": score,
        "mean_score": float(np.nanmean(values)) if values.size else None,
        "seconds": float(seconds),
        "patterns_per_second": float(pps),
    }


def indexer_master_patterns(
    phase_list: PhaseList,
    detector: EBSDDetector,
    energy_kv: float,
    engine: Literal["dynamical", "kinematical"] = "dynamical",
    half_size_px: int | None = None,
    cache_dir: str | Path | None = None,
    smooth: bool = True,
) -> list[EBSDMasterPattern]:
    """The indexer's master pattern of every phase of ``phase_list``, in its order.

    Single (top) energy, as kikuchipy's dictionaries, from the cache or computed
    (:func:`~synthebsd.simulate.get_master_pattern`) at the detector's sample tilt; with
    ``smooth``, smoothed to the detector's resolution
    (:func:`~synthebsd.analyze.smooth_master_pattern`). Parameters as in
    :func:`index_map`.
    """
    config = MasterPatternConfig(
        engine=engine, half_size_px=half_size_px, energy_weighting="incident"
    )
    tilt = float(detector.sample_tilt)
    mps = []
    for _, phase in phase_list:
        mp = get_master_pattern(phase, energy_kv, config, cache_dir, tilt)
        mps.append(smooth_master_pattern(mp, detector) if smooth else mp)
    return mps


def fitted_pc_summary(detector: EBSDDetector | None, mode: str) -> dict | None:
    """What a summary says of a refinement's fitted projection centre(s), Bruker: the PC
    (``mode="map"``) or the mean and s.d. over the points (``"pattern"``)."""
    if detector is None or mode == "none":
        return None
    pcs = np.asarray(detector.pc, dtype=float).reshape(-1, 3)
    out = {"mode": mode, "pc_convention": "bruker", "pc": pcs.mean(axis=0).tolist()}
    if mode == "pattern":
        out["pc_std"] = pcs.std(axis=0).tolist()
    return out


def master_pattern_summary(phase_list, engine, half_size_px, smooth) -> dict:
    """What a summary says of :func:`indexer_master_patterns` made with these settings."""
    config = MasterPatternConfig(engine=engine, half_size_px=half_size_px)
    return {
        "engine": engine,
        "half_size_px": {ph.name: lambert_half_size(ph, config) for _, ph in phase_list},
        "smoothed": smooth,
    }


def index_map(
    path: str | Path,
    phase_names: list[str] | tuple[str, ...],
    method: Literal["dictionary", "hough"] = "dictionary",
    refine: bool = False,
    out_dir: str | Path = "index-output",
    pc_bruker: tuple[float, float, float] | None = None,
    sample_tilt_deg: float | None = None,
    energy_kv: float = 20.0,
    engine: Literal["dynamical", "kinematical"] = "dynamical",
    dictionary_resolution_deg: float = 3.0,
    cache_dir: str | Path | None = None,
    half_size_px: int | None = None,
    min_score: float = 0.2,
    min_confidence: float = 0.3,
    smooth: bool = True,
    backend: Literal["torch", "kikuchipy"] = "torch",
    nlpar_search_radius: int | None = None,
    refine_pc: Literal["none", "map", "pattern"] = "none",
) -> dict:
    """Index a pattern map with the validated pipeline and write the results.

    Parameters
    ----------
    path
        Any pattern file :func:`kikuchipy.load` reads (h5ebsd, EDAX/Bruker/Oxford formats,
        ...), with a 1-D or 2-D navigation.
    phase_names
        Candidate phases, names from :data:`synthebsd.phases.PHASE_NAMES`.
    method
        ``"dictionary"`` (NCC against a dictionary of the indexer's model) or
        ``"hough"`` (PyEBSDIndex).
    refine
        Refine the indexed points' orientations (NCC; Σ3 variants tried for cubic
        phases).
    refine_pc
        With ``refine``, also fit the projection centre: ``"map"`` one for the whole map
        (from up to 1,000 indexed points, then every point refined at it; torch backend),
        ``"pattern"`` one per pattern; ``"none"`` keeps the detector's. The fitted PC
        (Bruker) is in the summary's ``refined_pc`` and, per point, in ``refined.h5``.
    backend
        Dictionary indexing and refinement: ``"torch"`` (synthebsd's matrix-product
        matching and Levenberg-Marquardt) or ``"kikuchipy"`` (its dictionary indexing and
        Nelder-Mead, ±8° per Euler angle).
    out_dir
        Output folder (created if missing).
    pc_bruker
        Projection centre (PCx, PCy, PCz), Bruker convention, replacing the file's.
    sample_tilt_deg
        Sample tilt in degrees, replacing the file's.
    energy_kv
        Beam energy in kV of the master patterns.
    engine
        Master-pattern engine, ``"dynamical"`` (de-ebsd) or ``"kinematical"`` (kikuchipy).
    dictionary_resolution_deg
        Dictionary orientation sampling in degrees.
    cache_dir
        Master-pattern cache folder; default ``$SYNTHEBSD_CACHE`` or ``~/.cache/synthebsd``.
    half_size_px
        Lambert half width of the master patterns in pixels; None: each phase's default
        (:func:`~synthebsd.simulate.lambert_half_size`).
    min_score
        Dictionary NCC below which a point is not indexed (refinement keeps the
        dictionary's decision).
    min_confidence
        Hough confidence metric (``cm``, 0-1) below which a point is not indexed.
    smooth
        Smooth the master patterns to the detector resolution, as the synthetic study
        does (:func:`~synthebsd.analyze.smooth_master_pattern`). On kikuchipy's real Ni
        map with dynamical master patterns it lifts the 3° dictionary from 7 to 9 of 9
        points above NCC 0.2; with kinematical ones it lowers the right solution's NCC by
        a fifth (turn it off there).
    nlpar_search_radius
        Average every pattern with its similar neighbours within this many map points
        first (NLPAR, :func:`~synthebsd.analyze.nlpar_patterns`, λ fitted on the map), as
        for low-dose maps; None: no averaging. Needs a 2-D map.

    Returns
    -------
    summary
        The dictionary written to ``summary.json``: method, phases, map shape, number of
        patterns, fraction indexed, mean score, patterns per second (per stage and for the
        final result), the detector used (PC convention ``"bruker"``) and the settings.

    Raises
    ------
    FileNotFoundError
        If ``path`` does not exist.
    ValueError
        If the file cannot be read, holds no EBSD map, the detector does not fit the
        patterns, or an argument is invalid (no phase, an unknown method).
    synthebsd.phases.UnknownPhaseError
        If a phase name is unknown (the message lists the known ones).
    """
    if method not in ("dictionary", "hough") or not phase_names:
        raise ValueError(f"Need method 'dictionary' or 'hough' (got {method!r}) and a phase")
    if backend not in ("torch", "kikuchipy"):
        raise ValueError(f"backend must be 'torch' or 'kikuchipy', got {backend!r}")
    if refine_pc not in ("none", "map", "pattern"):
        raise ValueError(f"refine_pc must be 'none', 'map' or 'pattern', got {refine_pc!r}")
    phase_list = get_phase_list(list(phase_names))
    path = Path(path)
    signal = load_patterns(path)
    like = map_geometry(signal)
    detector, det_info = detector_for_signal(signal, pc_bruker, sample_tilt_deg)
    nlpar_info = None
    if nlpar_search_radius is not None:
        averaged, nlpar_info = nlpar_patterns(signal, nlpar_search_radius)
        averaged.static_background = signal.static_background
        signal = averaged
    patterns, static_bg = preprocess_file_map(signal)

    mps = []
    if method == "dictionary" or refine:
        mps = indexer_master_patterns(
            phase_list, detector, energy_kv, engine, half_size_px, cache_dir, smooth
        )

    stages = {}
    refined_pc = None
    if method == "hough":
        res = hough_index(patterns, phase_list, detector, min_confidence, like)
    else:
        res = dictionary_index(
            patterns,
            mps,
            detector,
            energy_kv,
            dictionary_resolution_deg,
            min_score,
            like,
            backend=backend,
        )
    xmap = _with_geometry(res.xmap, like)
    score = "cm" if method == "hough" else "scores"
    stages[method] = (xmap, score, res.seconds, res.patterns_per_second)
    if refine and (xmap.phase_id >= 0).any():
        ref = refine_orientations(
            patterns, xmap, mps, detector, energy_kv, backend=backend, pc=refine_pc
        )
        stages["refined"] = (ref.xmap, "scores", ref.seconds, ref.patterns_per_second)
        refined_pc = fitted_pc_summary(ref.detector, refine_pc)

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    results = {}
    for name, (m, sc, seconds, pps) in stages.items():
        save_crystal_map(m, out / f"{name}.h5")
        label = f"{name}, {path.name}"
        plot_ipf_map(m, out / f"{name}_ipf.png", f"{label} (IPF-Z)")
        plot_score_map(m, sc, out / f"{name}_score.png", f"{label}: {sc}")
        results[name] = _stage_summary(m, sc, seconds, pps)
    final = list(stages)[-1]
    summary = {
        "file": str(path.resolve()),
        "method": method,
        "refine": bool(refine),
        "refine_pc": refine_pc if refine else None,
        "refined_pc": refined_pc,
        "backend": backend if (method == "dictionary" or refine) else None,
        "final": final,
        "phases": [ph.name for _, ph in phase_list],
        "n_patterns": int(xmap.size),
        "map_shape": list(like.shape),
        "step_sizes": [float(like.dy), float(like.dx)] if like.ndim == 2 else [float(like.dx)],
        "scan_unit": like.scan_unit,
        "fraction_indexed": results[final]["fraction_indexed"],
        "mean_score": results[final]["mean_score"],
        "score": results[final]["score"],
        "patterns_per_second": results[method]["patterns_per_second"],
        "results": results,
        "detector": det_info,
        "static_background": static_bg,
        "nlpar": nlpar_info,
        "energy_kv": float(energy_kv),
        "master_patterns": master_pattern_summary(phase_list, engine, half_size_px, smooth)
        if mps
        else None,
        "dictionary_resolution_deg": dictionary_resolution_deg if method == "dictionary" else None,
        "min_score": min_score if method == "dictionary" else None,
        "min_confidence": min_confidence if method == "hough" else None,
    }
    if refine and "refined" not in stages:
        summary["refine_skipped"] = "no point was indexed"
    beam = signal.metadata.get_item("Acquisition_instrument.SEM.beam_energy")
    summary["file_beam_energy_kv"] = None if beam is None else float(beam)
    save_json(summary, out / "summary.json")
    return summary
