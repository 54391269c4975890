"""Torch refinement: known answers, agreement with kikuchipy, PC, memory, devices."""

import numpy as np
import pytest
import torch
from kikuchipy.signals import EBSD, LazyEBSD
from orix.crystal_map import CrystalMap, PhaseList
from orix.quaternion import Rotation

from synthebsd.analyze import preprocess_patterns, refine_orientations
from synthebsd.simulate import MemoryBudgetError, random_rotations


def _start_map(rotations, phase, scores=None):
    return CrystalMap(
        rotations=rotations,
        phase_id=np.zeros(rotations.size, int),
        phase_list=PhaseList(phase),
        prop={} if scores is None else {"scores": scores},
    )


def _perturbed(rot, angle_deg, rng):
    axes = rng.normal(size=(rot.size, 3))
    return Rotation.from_axes_angles(axes, np.deg2rad(angle_deg)) * rot


@pytest.mark.parametrize("angle_deg", [1.0, 2.5])
def test_perturbations_are_refined_back(
    angle_deg, small_models, detector, model_patterns, errors_deg
):
    li = small_models["Li"]
    truth = random_rotations(24, np.random.default_rng(10))
    patterns = EBSD(model_patterns(li, truth, detector))
    start = _perturbed(truth, angle_deg, np.random.default_rng(11))
    assert np.allclose(errors_deg(truth, start, li.phase), angle_deg, atol=1e-6)
    res = refine_orientations(patterns, _start_map(start, li.phase), [li], detector, 20.0)
    err = errors_deg(truth, res.xmap.rotations, li.phase)
    assert err.max() < 0.02
    assert np.all(res.xmap.prop["scores"] > 0.9999)
    assert np.all(res.xmap.prop["num_evals"] > 0)


def test_agrees_with_kikuchipy_refinement(small_models, detector, noisy_patterns, errors_deg):
    li = small_models["Li"]
    truth = random_rotations(16, np.random.default_rng(12))
    patterns = preprocess_patterns(EBSD(noisy_patterns(li, truth, detector, 1000, 4)))
    start = _start_map(_perturbed(truth, 2.0, np.random.default_rng(13)), li.phase)
    ours = refine_orientations(patterns, start, [li], detector, 20.0)
    ref = refine_orientations(patterns, start, [li], detector, 20.0, backend="kikuchipy")
    e_ours = errors_deg(truth, ours.xmap.rotations, li.phase)
    e_ref = errors_deg(truth, ref.xmap.rotations, li.phase)
    assert np.median(e_ours) <= np.median(e_ref) + 0.01
    # The same optimum: solutions within a small fraction of the 3° grid step, NCC as
    # kikuchipy's (the same metric), never worse than it by more than rounding.
    assert errors_deg(ours.xmap.rotations, ref.xmap.rotations, li.phase).max() < 0.1
    assert np.all(ours.xmap.prop["scores"] >= ref.xmap.prop["scores"] - 1e-4)


def test_two_phases_each_against_its_model(small_models, detector, model_patterns, errors_deg):
    li, cu = small_models["Li"], small_models["Cu"]
    truth = random_rotations(10, np.random.default_rng(14))
    data = np.concatenate(
        [model_patterns(li, truth[:5], detector), model_patterns(cu, truth[5:], detector)]
    )
    start = CrystalMap(
        rotations=_perturbed(truth, 1.5, np.random.default_rng(15)),
        phase_id=np.array([0] * 5 + [1] * 5),
        phase_list=PhaseList(phases=[li.phase, cu.phase], ids=[0, 1]),
    )
    res = refine_orientations(EBSD(data), start, [li, cu], detector, 20.0)
    assert errors_deg(truth[:5], res.xmap[:5].rotations, li.phase).max() < 0.02
    assert errors_deg(truth[5:], res.xmap[5:].rotations, cu.phase).max() < 0.02


@pytest.mark.parametrize("mode", ["map", "pattern"])
def test_pc_offset_is_recovered(mode, small_models, detector, model_patterns):
    li = small_models["Li"]
    truth = random_rotations(40 if mode == "map" else 12, np.random.default_rng(16))
    true_det = detector.deepcopy()
    true_det.pc = np.asarray(detector.pc).reshape(3) + [0.005, -0.005, 0.005]
    patterns = EBSD(model_patterns(li, truth, true_det))
    start = _start_map(_perturbed(truth, 1.0, np.random.default_rng(17)), li.phase)
    res = refine_orientations(patterns, start, [li], detector, 20.0, pc=mode)
    found = np.column_stack([res.xmap.prop[k] for k in ("pcx", "pcy", "pcz")])
    err = np.abs(found - np.asarray(true_det.pc).reshape(1, 3))
    assert err.max() < 0.001
    assert np.asarray(res.detector.pc).reshape(-1, 3).shape[0] == (1 if mode == "map" else 12)


def test_lazy_signal_and_memory_budget(small_models, detector, model_patterns, errors_deg):
    import dask.array as da

    li = small_models["Li"]
    truth = random_rotations(20, np.random.default_rng(18))
    data = model_patterns(li, truth, detector).reshape(4, 5, *detector.shape)
    start = _start_map(_perturbed(truth, 1.0, np.random.default_rng(19)), li.phase)
    lazy = LazyEBSD(da.from_array(data, chunks=(1, 5, -1, -1)))
    res = refine_orientations(lazy, start, [li], detector, 20.0, memory_budget_gib=0.05)
    assert errors_deg(truth, res.xmap.rotations, li.phase).max() < 0.02
    with pytest.raises(MemoryBudgetError, match="cannot hold one chunk of orientation"):
        refine_orientations(lazy, start, [li], detector, 20.0, memory_budget_gib=0.001)


def test_bad_input_is_refused(small_models, detector, model_patterns):
    li = small_models["Li"]
    truth = random_rotations(4, np.random.default_rng(20))
    patterns = EBSD(model_patterns(li, truth, detector))
    start = _start_map(truth, li.phase)
    with pytest.raises(ValueError, match="5 points but there are 4 patterns"):
        refine_orientations(
            patterns,
            _start_map(random_rotations(5, np.random.default_rng(0)), li.phase),
            [li],
            detector,
            20,
        )
    with pytest.raises(ValueError, match="only 0 master patterns"):
        refine_orientations(patterns, start, [], detector, 20.0)
    with pytest.raises(ValueError, match="pc must be"):
        refine_orientations(patterns, start, [li], detector, 20.0, pc="both")
    with pytest.raises(ValueError, match="torch-backend option"):
        refine_orientations(patterns, start, [li], detector, 20.0, backend="kikuchipy", pc="map")
    nan = patterns.data.copy()
    nan[1, 0, 0] = np.inf
    with pytest.raises(ValueError, match=r"1 pattern\(s\) contain NaN or infinite.*\[1\]"):
        refine_orientations(EBSD(nan), start, [li], detector, 20.0)


@pytest.mark.parametrize("fit_pc", [False, True])
def test_a_step_stays_on_the_device(small_models, detector, fit_pc):
    """torch's meta device fails on any CPU/device mix, as a GPU would."""
    from synthebsd.analyze.indexing._lm import LMState, ncc_terms, rotation_angle, step
    from synthebsd.simulate import KikuchiRenderer

    renderer = KikuchiRenderer(small_models["Li"], detector, 20.0, "meta")
    n, q = 7, 6 if fit_pc else 3
    rot = torch.eye(3, device="meta").expand(n, 3, 3)
    pcs = torch.empty((n, 3), device="meta") if fit_pc else None
    intensity, jac = renderer.project_jacobian(rot, pcs, fit_pc, num_threads=1)
    assert intensity.shape == (n, 3600) and jac.shape == (n, q, 3600)
    ncc, grad, hess = ncc_terms(intensity, jac, torch.empty((n, 3600), device="meta"))
    state = LMState(rot, pcs, ncc, grad, hess, torch.zeros(n, dtype=torch.long, device="meta"))
    new_rot, new_pc = step(state, torch.full((n,), 1e-3, device="meta"))
    for t in (ncc, grad, hess, new_rot, rotation_angle(new_rot, rot)):
        assert t.device.type == "meta"
    assert (new_pc is None) == (not fit_pc)
