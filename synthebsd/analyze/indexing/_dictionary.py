"""Dictionary indexing (normalised cross-correlation): torch renderer or kikuchipy."""

from __future__ import annotations

import time
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Literal

import numpy as np
from orix.crystal_map import CrystalMap, PhaseList
from orix.quaternion import Rotation
from orix.sampling import get_sample_fundamental

from synthebsd.analyze.indexing._blocks import (
    check_detector,
    is_lazy,
    iter_blocks,
    navigation_size,
    plan_block,
)
from synthebsd.analyze.indexing._result import IndexingResult, as_map
from synthebsd.io import atomic_path

if TYPE_CHECKING:
    from kikuchipy.detectors import EBSDDetector
    from kikuchipy.signals import EBSD, EBSDMasterPattern

__all__ = ["dictionary_index", "dictionary_rotations"]


_SAMPLES: dict[tuple[float, str], np.ndarray] = {}


def _sample_path(resolution_deg: float, point_group) -> Path:
    from importlib.metadata import version

    from synthebsd.simulate import default_cache_dir

    name = f"{point_group.name.replace('/', '_')}-{resolution_deg:g}deg-orix{version('orix')}"
    return default_cache_dir().parent / "orientation_samples" / f"{name}.npy"


def _fundamental_sample(resolution_deg: float, point_group) -> np.ndarray:
    """orix's cubochoric sampling of a fundamental zone, cached in memory and on disk.

    orix takes ~1.4 s for a 3° m-3m sampling (30,443 orientations) on these machines:
    as long as matching itself. The result depends only on the resolution, the point
    group and orix's version, so it is kept like the master patterns (next to them,
    written atomically; a file that does not read back as unit quaternions is
    recomputed).
    """
    key = (float(resolution_deg), point_group.name)
    if key in _SAMPLES:
        return _SAMPLES[key]
    path = _sample_path(resolution_deg, point_group)
    data = None
    if path.is_file():
        try:
            data = np.load(path, allow_pickle=False)
            if (
                data.ndim != 2
                or data.shape[1] != 4
                or not np.allclose(np.linalg.norm(data, axis=1), 1.0, atol=1e-6)
            ):
                data = None
        except (OSError, ValueError):
            data = None
    if data is None:
        rot = get_sample_fundamental(resolution=resolution_deg, point_group=point_group)
        data = np.ascontiguousarray(rot.data)
        with atomic_path(path) as tmp:
            np.save(tmp, data)
    if len(_SAMPLES) >= 8:
        _SAMPLES.pop(next(iter(_SAMPLES)))
    _SAMPLES[key] = data
    return data


def dictionary_rotations(
    master_patterns: Sequence[EBSDMasterPattern],
    resolution_deg: float,
    rotations: Sequence[Rotation] | None = None,
) -> list[Rotation]:
    """Each phase's dictionary orientations: given, or cubochoric in its fundamental zone.

    Raises
    ------
    ValueError
        If there is no master pattern, or a dictionary is empty.
    """
    if len(master_patterns) == 0:
        raise ValueError("No master patterns given: the dictionary would be empty")
    if rotations is None:
        rotations = [
            Rotation(_fundamental_sample(resolution_deg, mp.phase.point_group))
            for mp in master_patterns
        ]
    if len(rotations) != len(master_patterns):
        raise ValueError(
            f"{len(rotations)} dictionaries of rotations for {len(master_patterns)} phases"
        )
    out = []
    for mp, rot in zip(master_patterns, rotations, strict=True):
        rot = Rotation(rot).flatten()
        if rot.size == 0:
            raise ValueError(f"The dictionary of phase {mp.phase.name!r} is empty")
        out.append(rot)
    return out


def dictionary_index(
    patterns: EBSD,
    master_patterns: Sequence[EBSDMasterPattern],
    detector: EBSDDetector,
    energy_kv: float,
    resolution_deg: float = 3.0,
    min_score: float = 0.2,
    like: CrystalMap | None = None,
    *,
    backend: Literal["torch", "kikuchipy"] = "torch",
    rotations: Sequence[Rotation] | None = None,
    top_k: int = 1,
    rerank: int = 8,
    binning: int = 2,
    pca_components: int = 0,
    match_dtype: Literal["float32", "bfloat16"] = "bfloat16",
    device: str = "cpu",
    memory_budget_gib: float = 1.0,
    num_threads: int | None = None,
) -> IndexingResult:
    """Dictionary indexing (normalised cross-correlation) over each phase's fundamental zone.

    For each master pattern a dictionary is projected (Bruker projection centre of
    ``detector``) from orientations sampled uniformly in the phase's fundamental zone
    (orix cubochoric sampling at ``resolution_deg``) or from ``rotations``; each
    pattern takes the phase and orientation of its best match over all dictionaries.
    Phase ids of the result are 0..n−1 in the order of ``master_patterns``. Patterns
    are read in blocks of the navigation axis (:func:`iter_blocks`), so a lazy signal is
    never loaded whole.

    Parameters
    ----------
    patterns
        Preprocessed patterns (``EBSD`` or lazy ``LazyEBSD``), 1-D navigation or any.
    master_patterns
        One Lambert master pattern per candidate phase, each with its phase attached
        (the indexer's model, e.g. :func:`smooth_master_pattern`).
    detector
        Detector geometry (its shape must be the patterns').
    energy_kv
        Beam energy in kV.
    resolution_deg
        Orientation sampling resolution in degrees.
    min_score
        NCC below which a point is not indexed.
    like
        Map whose geometry the result copies.
    backend
        ``"torch"``: :mod:`~synthebsd.analyze.indexing._dictionary_torch` on the torch
        renderer (coarse match on binned, optionally PCA-compressed patterns, exact NCC
        of the ``rerank`` best per phase); ``"kikuchipy"``:
        ``EBSD.dictionary_indexing`` (the reference; ``binning``, ``rerank``,
        ``pca_components`` and ``device`` are not used).
    rotations
        Optional dictionary orientations per phase instead of the sampling.
    top_k
        Best matches kept per phase (:attr:`IndexingResult.candidates`).
    rerank
        Coarse candidates per phase scored again at full resolution (torch).
    binning
        Binning of the coarse match (1 with ``pca_components=0``: exact in one pass).
    pca_components
        Principal directions the coarse dictionary is compressed to (0: none).
    match_dtype
        Precision of the coarse matrix products (torch): ``"bfloat16"`` (3× faster on
        CPUs with AVX-512 BF16; the candidates are re-scored in float32) or
        ``"float32"`` (with ``binning=1`` and no PCA: exact in one pass).
    device
        torch device (``"cpu"``, ``"cuda"``, ...).
    memory_budget_gib
        Working memory in GiB: blocks of patterns, the cached coarse dictionary, models.
    num_threads
        CPU worker threads of the renderer; default torch's thread count.

    Returns
    -------
    result
        Map with the best match per point and properties ``scores`` (NCC), candidates
        per phase, and timings (``build_s``, ``match_s``).

    Raises
    ------
    ValueError
        For an empty dictionary, patterns whose shape is not the detector's, NaN
        patterns, or an unknown backend.
    synthebsd.simulate.MemoryBudgetError
        If the memory budget cannot hold one block.
    """
    if backend not in ("torch", "kikuchipy"):
        raise ValueError(f"backend must be 'torch' or 'kikuchipy', got {backend!r}")
    if match_dtype not in ("float32", "bfloat16"):
        raise ValueError(f"match_dtype must be 'float32' or 'bfloat16', got {match_dtype!r}")
    if top_k < 1:
        raise ValueError(f"top_k must be ≥ 1, got {top_k}")
    check_detector(patterns, detector)
    t0 = time.perf_counter()
    dicts = dictionary_rotations(master_patterns, resolution_deg, rotations)
    n = navigation_size(patterns)
    budget = memory_budget_gib * 2**30
    if backend == "torch":
        from synthebsd.analyze.indexing._dictionary_torch import torch_match
        from synthebsd.analyze.indexing._torch_model import IndexerModel

        models = [IndexerModel(mp, detector, energy_kv, device, binning) for mp in master_patterns]
        scores, indices, timings = torch_match(
            patterns,
            models,
            dicts,
            top_k,
            rerank,
            pca_components,
            budget,
            num_threads,
            build_seconds=time.perf_counter() - t0,
            match_dtype=match_dtype,
        )
    else:
        scores, indices = _kikuchipy_match(
            patterns, master_patterns, detector, energy_kv, dicts, top_k, budget
        )
        timings = {}
    seconds = time.perf_counter() - t0
    timings["total_s"] = seconds
    best_phase = np.argmax(scores[:, :, 0], axis=1)
    best_score = scores[np.arange(n), best_phase, 0]
    best_index = indices[np.arange(n), best_phase, 0]
    best_rot = np.empty((n, 4))
    for pid, rot in enumerate(dicts):
        sel = best_phase == pid
        best_rot[sel] = rot.data[best_index[sel]]
    phase_id = np.where(best_score >= min_score, best_phase, -1)
    phase_list = PhaseList(
        phases=[mp.phase for mp in master_patterns], ids=list(range(len(master_patterns)))
    )
    out = as_map(best_rot, phase_id, phase_list, {"scores": best_score}, like)
    candidates = {
        pid: (Rotation(rot.data[indices[:, pid]]), scores[:, pid].copy())
        for pid, rot in enumerate(dicts)
    }
    return IndexingResult(out, seconds, n, candidates=candidates, timings=timings)


def _kikuchipy_match(
    patterns: EBSD,
    master_patterns: Sequence[EBSDMasterPattern],
    detector: EBSDDetector,
    energy_kv: float,
    dicts: Sequence[Rotation],
    top_k: int,
    budget_bytes: float,
) -> tuple[np.ndarray, np.ndarray]:
    """kikuchipy's ``EBSD.dictionary_indexing``, block by block for a lazy signal."""
    import kikuchipy as kp  # lazy: importing kikuchipy takes seconds

    n = navigation_size(patterns)
    n_px = int(np.prod(detector.shape))
    scores = np.full((n, len(dicts), top_k), -np.inf, dtype=np.float32)
    indices = np.zeros((n, len(dicts), top_k), dtype=np.int64)
    # kikuchipy matches a block against dictionary chunks of its own size (float32).
    block = n
    if is_lazy(patterns):
        chunk = max(r.size for r in dicts)
        block = plan_block(
            budget_bytes,
            8 * n_px * 1024,
            8 * n_px + 16 * chunk,
            "kikuchipy dictionary indexing",
            n,
        )
    for start, stop, data in iter_blocks(patterns, block):
        signal = kp.signals.EBSD(data)
        for pid, (mp, rot) in enumerate(zip(master_patterns, dicts, strict=True)):
            dictionary = mp.get_patterns(
                rot, detector, energy=energy_kv, compute=False, show_progressbar=False
            )
            k = min(top_k, rot.size)
            xmap = signal.dictionary_indexing(dictionary, metric="ncc", keep_n=k)
            sc = np.asarray(xmap.prop["scores"]).reshape(stop - start, -1)
            si = np.asarray(xmap.prop["simulation_indices"]).reshape(stop - start, -1)
            scores[start:stop, pid, :k] = sc[:, :k]
            indices[start:stop, pid, :k] = si[:, :k]
    return scores, indices
