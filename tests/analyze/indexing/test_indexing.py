"""Indexing round trips: patterns simulated for known orientations are indexed back."""

import numpy as np
import pytest
from kikuchipy.signals import EBSD
from orix.crystal_map import CrystalMap, Phase, PhaseList
from orix.quaternion import Orientation, Rotation

from synthebsd.analyze import (
    dictionary_index,
    hough_index,
    preprocess_patterns,
    refine_orientations,
)
from synthebsd.config import IndexingConfig
from synthebsd.simulate import backscatter_background, project_kikuchi_signal, random_rotations


def _noisy_patterns(mp, rotations, detector, dose, seed):
    """Background × (1 + 0.3 k̃), Poisson noise: the same model as the renderer."""
    kikuchi = project_kikuchi_signal(mp, rotations, detector, 20.0)
    lam = dose * backscatter_background(detector) * (1 + 0.3 * kikuchi)
    return np.random.default_rng(seed).poisson(lam).astype(np.float32)


def _errors(truth_rot, xmap, phase):
    o_true = Orientation(truth_rot, symmetry=phase.point_group)
    o_found = Orientation(xmap.rotations, symmetry=phase.point_group)
    return o_true.angle_with(o_found, degrees=True)


@pytest.fixture(scope="module")
def li_case(master_patterns, detector):
    mp = master_patterns["Li"]
    rot = random_rotations(24, np.random.default_rng(11))
    data = _noisy_patterns(mp, rot, detector, dose=1000, seed=3)
    return mp, rot, preprocess_patterns(EBSD(data))


def test_dictionary_indexing_and_refinement_recover_orientation(li_case, detector):
    mp, rot, patterns = li_case
    cfg = IndexingConfig()  # the study's defaults: 3° dictionary, then refinement
    di = dictionary_index(
        patterns, [mp], detector, 20.0, cfg.dictionary_resolution_deg, cfg.min_dictionary_score
    )
    err_di = _errors(rot, di.xmap, mp.phase)
    assert np.all(di.xmap.phase_id == 0)
    # A cubochoric grid of spacing 3° reaches any orientation within about √3/2 × 3° ≈ 2.6°.
    assert np.max(err_di) < 3.5
    assert np.median(err_di) < 2.0
    refined = refine_orientations(patterns, di.xmap, [mp], detector, 20.0)
    err = _errors(rot, refined.xmap, mp.phase)
    assert np.max(err) < 1.0
    assert np.median(err) < 0.2
    assert np.all(refined.xmap.prop["scores"] >= di.xmap.prop["scores"] - 1e-6)
    assert refined.n_patterns == rot.size  # every indexed point refined


def test_dictionary_indexing_picks_the_right_phase(master_patterns, detector):
    li, cu = master_patterns["Li"], master_patterns["Cu"]
    rot = random_rotations(6, np.random.default_rng(4))
    data = np.concatenate(
        [_noisy_patterns(li, rot, detector, 1000, 1), _noisy_patterns(cu, rot, detector, 1000, 2)]
    )
    patterns = preprocess_patterns(EBSD(data))
    di = dictionary_index(
        patterns, [li, cu], detector, 20.0, IndexingConfig().dictionary_resolution_deg
    )
    assert di.xmap.phases.names[:2] == ["Li", "Cu"]
    assert np.array_equal(di.xmap.phase_id, [0] * 6 + [1] * 6)


def test_background_only_patterns_are_not_indexed(master_patterns, detector):
    rng = np.random.default_rng(0)
    bg = rng.poisson(1000 * backscatter_background(detector), (8, *detector.shape)).astype(
        np.float32
    )
    li = _noisy_patterns(master_patterns["Li"], random_rotations(8, rng), detector, 1000, 5)
    patterns = preprocess_patterns(EBSD(np.concatenate([bg, li])))
    di = dictionary_index(
        patterns, [master_patterns["Li"]], detector, 20.0, resolution_deg=6.0, min_score=0.2
    )
    assert np.all(di.xmap.phase_id[:8] == -1)
    assert np.all(di.xmap.phase_id[8:] == 0)


def test_hough_indexing_with_bcc_families(master_patterns, detector):
    """Hough (PyEBSDIndex) with {110}, {200}, {211} finds clean Li orientations within 2°."""
    mp = master_patterns["Li"]
    rot = random_rotations(30, np.random.default_rng(8))
    patterns = preprocess_patterns(EBSD(_noisy_patterns(mp, rot, detector, dose=1e6, seed=0)))
    result = hough_index(patterns, PhaseList(mp.phase), detector, min_confidence=0.0)
    err = _errors(rot, result.xmap, mp.phase)
    assert np.mean(err < 2.0) >= 0.95
    assert {"fit", "cm", "pq", "nmatch"} <= set(result.xmap.prop)


def test_nan_patterns_are_rejected():
    data = np.ones((3, 20, 20), dtype=np.float32)
    data[1, 5, 5] = np.nan
    with pytest.raises(ValueError, match=r"1 pattern\(s\) contain NaN"):
        preprocess_patterns(EBSD(data))


def test_result_map_copies_geometry(li_case, detector):
    mp, rot, patterns = li_case
    like = CrystalMap.empty(shape=(4, 6), step_sizes=(0.5, 0.5))
    di = dictionary_index(
        patterns, [mp], detector, 20.0, resolution_deg=8.0, min_score=-1, like=like
    )
    assert di.xmap.shape == (4, 6) and di.xmap.dx == 0.5


def test_refinement_escapes_sigma3_pseudo_symmetry(li_case, detector):
    """Started 60° about [111] from the truth, refinement finds the truth only when it also
    tries the pseudo-symmetric variants."""
    from synthebsd.analyze import pseudo_symmetry_operators

    mp, rot, patterns = li_case
    sigma3 = Rotation.from_axes_angles([1, 1, 1], np.deg2rad(60))
    start = CrystalMap(
        rotations=sigma3 * rot,
        phase_id=np.zeros(rot.size, int),
        phase_list=PhaseList(mp.phase),
        prop={"scores": np.zeros(rot.size)},
    )
    with_ops = refine_orientations(patterns, start, [mp], detector, 20.0, pseudo_symmetry=True)
    without = refine_orientations(patterns, start, [mp], detector, 20.0, pseudo_symmetry=False)
    assert np.median(_errors(rot, with_ops.xmap, mp.phase)) < 0.3
    assert np.median(_errors(rot, without.xmap, mp.phase)) > 55
    assert pseudo_symmetry_operators(mp.phase).size == 4
    assert pseudo_symmetry_operators(Phase(point_group="6/mmm")) is None


def test_refinement_with_one_phase_and_unindexed_points(li_case, detector):
    """A map with one phase and not-indexed points (orix adds id -1) refines."""
    mp, rot, patterns = li_case
    phase_id = np.zeros(rot.size, int)
    phase_id[:3] = -1
    start = CrystalMap(
        rotations=rot,
        phase_id=phase_id,
        phase_list=PhaseList(mp.phase),
        prop={"scores": np.zeros(rot.size)},
    )
    out = refine_orientations(patterns, start, [mp], detector, 20.0, pseudo_symmetry=False)
    assert np.array_equal(out.xmap.phase_id, phase_id)
    assert out.xmap.phases.names[-1] == "Li"
    assert np.median(_errors(rot[3:], out.xmap[3:], mp.phase)) < 0.2
