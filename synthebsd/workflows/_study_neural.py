"""The study's neural rows: a trained orientation checkpoint beside the classical methods.

:func:`neural_rows` runs the checkpoint of ``IndexingConfig.neural_checkpoint`` on the raw
realistic patterns (the networks normalise counts themselves) and, with
``neural_refine``, refines its orientations on the indexer's model exactly as the
dictionary's are refined (:func:`~synthebsd.analyze.refine_orientations`, no
dictionary). The ``neural`` row calls a point not indexed where the network predicts
more than the checkpoint's ``max_uncertainty_deg`` of error; the refinement starts from
every point the network calls crystalline, as dictionary + refinement refines every
point, since its starting point needs only to lie within the trust region; a refined
point whose NCC stays below ``min_dictionary_score`` is not indexed, as in the
dictionary. Both come back as :class:`~synthebsd.analyze.IndexingResult` maps in the
indexer's phase list, to be scored by the same :func:`~synthebsd.analyze.indexing_summary`.
A checkpoint that is missing, corrupt, of another task, or whose detector or phases do
not fit the study is skipped: the reason goes into the summary, the study goes on.
"""

from __future__ import annotations

import time
import warnings
from typing import TYPE_CHECKING

import numpy as np
from orix.crystal_map import CrystalMap, PhaseList

from synthebsd.analyze import IndexingResult, as_map, crystalline_phases, refine_orientations

if TYPE_CHECKING:
    from synthebsd.config import StudyConfig
    from synthebsd.workflows._forward_models import IndexerModel

__all__ = ["load_study_checkpoint", "neural_rows"]


def load_study_checkpoint(value: str, im: IndexerModel, device: str = "cpu"):
    """Load a checkpoint and check that it fits the indexer's detector and phases.

    Returns
    -------
    checkpoint, warnings
        The :class:`~synthebsd.models.Checkpoint` and the messages of the
        projection-centre range warnings (the indexer's PC outside the trained range).

    Raises
    ------
    FileNotFoundError
        If there is no such checkpoint (or none is shipped).
    ValueError
        If it is corrupt, not an orientation model, or its pattern shape, tilts or
        phases do not fit (every candidate phase must be one of the checkpoint's).
    """
    from synthebsd import models  # lazy: torch

    path = models.resolve_checkpoint(value)
    ck = models.load_checkpoint(path, device=device)
    if ck.task != "orientation":
        raise models.IncompatibleInputError(
            f"{path} is a {ck.task} checkpoint; the study's neural rows need an orientation one"
        )
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", models.OutsideTrainingRangeWarning)
        ck.check_detector(im.detector)
    messages = [
        str(w.message)
        for w in caught
        if issubclass(w.category, models.OutsideTrainingRangeWarning)
    ]
    have = set(ck.phase_names.values())
    missing = [name for name in im.phase_names if name not in have]
    if missing:
        raise models.IncompatibleInputError(
            f"{path} was trained on phases {sorted(have)}, not on the candidate phase(s) {missing}"
        )
    return ck, messages


def _props(xmap: CrystalMap) -> dict[str, np.ndarray]:
    return {k: np.asarray(v) for k, v in xmap.prop.items()}


def in_phase_list(xmap: CrystalMap, phase_list: PhaseList, like: CrystalMap) -> CrystalMap:
    """The network's map with phase ids of ``phase_list`` (e.g. the indexer's; by name);
    points of a phase the list does not have (e.g. the electrolyte) become not indexed."""
    ids = {ph.name: pid for pid, ph in phase_list if pid >= 0}
    names = {pid: ph.name for pid, ph in xmap.phases if pid >= 0}
    phase_id = np.full(xmap.size, -1)
    for pid, name in names.items():
        if name in ids:
            phase_id[xmap.phase_id == pid] = ids[name]
    return as_map(xmap.rotations.data, phase_id, phase_list, _props(xmap), like)


def not_indexed_where(xmap: CrystalMap, mask: np.ndarray) -> CrystalMap:
    """``xmap`` with the points of ``mask`` not indexed (phase id −1)."""
    phase_id = xmap.phase_id.copy()
    phase_id[mask] = -1
    return as_map(
        xmap.rotations.data, phase_id, crystalline_phases(xmap.phases), _props(xmap), xmap
    )


def neural_rows(
    raw_patterns, patterns, im: IndexerModel, config: StudyConfig, truth: CrystalMap
) -> tuple[dict[str, IndexingResult], dict]:
    """The ``neural`` and ``neural_refined`` results, and what the summary says of them.

    Parameters
    ----------
    raw_patterns
        The realistic patterns as rendered (counts; kikuchipy signal, lazy is fine).
    patterns
        The same patterns as the classical methods get them (preprocessed), for the
        refinement.
    im
        The indexer model (candidate phases, master patterns, PC).
    config
        The study configuration (``indexing.neural_*`` and the refinement settings).
    truth
        The ground truth (its grid is the maps').

    Returns
    -------
    results, info
        ``{"neural": ..., "neural_refined": ...}`` (empty when skipped or switched off)
        and ``{"checkpoint", "skipped", "warnings"}`` for ``summary.json``.
    """
    cfg = config.indexing
    info: dict = {"checkpoint": cfg.neural_checkpoint, "skipped": None, "warnings": []}
    if cfg.neural_checkpoint is None:
        info["skipped"] = "indexing.neural_checkpoint is None"
        return {}, info
    from synthebsd import models  # lazy: torch

    try:
        ck, info["warnings"] = load_study_checkpoint(cfg.neural_checkpoint, im, cfg.device)
    except (FileNotFoundError, ValueError) as e:  # CheckpointError, IncompatibleInputError
        info["skipped"] = " ".join(str(e).split())  # the caller reports it, once
        return {}, info
    info["checkpoint"] = str(ck.path)
    info["model"] = ck.metadata["model"]["name"]
    info["weights_sha256"] = ck.metadata.get("weights_sha256")
    info["uncertainty_calibrated"] = ck.uncertainty_calibration is not None
    info["test_time_flip"] = ck.test_time_flip
    info["test_time_rotations_deg"] = list(ck.test_time_rotations_deg)
    print(f"[synthebsd] neural indexing ({info['model']}) ...", flush=True)
    t0 = time.perf_counter()
    # Every point the network calls crystalline, whatever its predicted error: the
    # refinement starts from all of them, and only the neural row is cut at the threshold.
    xmap = models.predict_orientations(
        ck,
        raw_patterns,
        like=truth,
        batch_size=cfg.neural_batch_size,
        device=cfg.device,
        max_uncertainty_deg=np.inf,
        pc_bruker=im.detector.pc,  # the indexer's PC, calibration error and all
    )
    seconds = time.perf_counter() - t0
    start = in_phase_list(xmap, im.phase_list, truth)
    unsure = np.asarray(start.prop["uncertainty_deg"]) > ck.max_uncertainty_deg
    neural = IndexingResult(not_indexed_where(start, unsure), seconds, xmap.size)
    out = {"neural": neural}
    if cfg.neural_refine:
        print(f"[synthebsd] refinement from the network ({cfg.backend}) ...", flush=True)
        refined = refine_orientations(
            patterns,
            start,
            im.master_patterns,
            im.detector,
            config.detector.energy_kv,
            cfg.refine_trust_region_deg,
            cfg.refine_initial_step_deg,
            cfg.neural_refine_pseudo_symmetry,
            **cfg.neural_refine_kwargs(im.detector.shape),
        )
        # as the dictionary calls a point not indexed below this NCC, so does the
        # refinement: a start outside its basin ends at a low NCC (measured on the
        # demo: >= 0.5 where it converged, <= 0.31 for 99 % of those left > 5° off)
        low = np.asarray(refined.xmap.prop["scores"]) < cfg.min_dictionary_score
        refined.xmap = not_indexed_where(refined.xmap, low)
        refined.timings = {"neural_s": seconds, "refine_s": refined.seconds}
        refined.seconds += seconds  # the pipeline's time: network, then refinement
        refined.n_patterns = neural.n_patterns  # its rate: every pattern went through it
        out["neural_refined"] = refined
    return out, info
