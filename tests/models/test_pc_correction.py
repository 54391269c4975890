"""The held-out PC correction: the sample-frame rotation a PC offset makes a network read."""

from __future__ import annotations

import numpy as np
import pytest
from orix.quaternion import Orientation, Rotation

from synthebsd.models import (
    TooFewPointsError,
    apply_pc_correction,
    fit_pc_correction,
    load_checkpoint,
    predict_orientations,
    sample_frame_errors,
    save_checkpoint,
    symmetry_operators,
)
from synthebsd.phases import get_phase

REFERENCE = (0.5, 0.25, 0.55)


def _rotations(vectors: np.ndarray) -> Rotation:
    angle = np.linalg.norm(vectors, axis=1)
    return Rotation.from_axes_angles(vectors / angle[:, None], angle)


def _network_like(phases: dict[int, str], n: int, rng, noise_rad: float = 0.004):
    """Truth, PCs, and predictions that read a PC offset as a sample-frame rotation
    (A δpc + b), returned as random symmetry equivalents with a little noise."""
    truth = Rotation.random(n)
    pid = rng.integers(0, len(phases), n)
    pc = np.asarray(REFERENCE) + rng.normal(0.0, 0.01, (n, 3))
    a = rng.normal(0.0, 1.8, (3, 3))  # about 1/PCz rad per unit PC, as a shift reads
    b = np.array([0.012, -0.006, 0.004])
    omega = (pc - REFERENCE) @ a.T + b + rng.normal(0.0, noise_rad, (n, 3))
    pred = (truth * _rotations(omega)).data
    for p, name in phases.items():
        ops = symmetry_operators(name)
        sel = np.nonzero(pid == p)[0]
        s = Rotation(ops[rng.integers(0, len(ops), sel.size)])
        pred[sel] = (s * Rotation(pred[sel])).data
    return truth.data, pred, pid, pc, a, b


@pytest.mark.parametrize("phases", [{0: "Li", 1: "Cu"}, {0: "NZSP"}, {0: "LPSCl"}])
def test_the_fit_recovers_a_known_pc_rotation(phases):
    rng = np.random.default_rng(3)
    truth, pred, pid, pc, a, b = _network_like(phases, 1500, rng)
    fit = fit_pc_correction(pred, truth, pid, pc, phases, REFERENCE)
    np.testing.assert_allclose(fit["rad_per_pc"], a, atol=0.06)
    np.testing.assert_allclose(fit["bias_rad"], b, atol=5e-4)
    _, before = sample_frame_errors(pred, truth, pid, phases)
    assert fit["n_points"] == (before <= 8.0).sum() >= 1450  # the cut leaves out the tail
    assert fit["reference_pc_bruker"] == list(REFERENCE)
    # what is left is the noise: median |N(0, 0.004 rad) in 3-D| = 0.35 deg
    assert fit["median_error_deg"] > 1.0
    assert fit["median_error_deg_corrected"] == pytest.approx(0.35, abs=0.05)
    corrected = apply_pc_correction(fit, pred, pc)
    _, angle = sample_frame_errors(corrected, truth, pid, phases)
    again, errors = fit_pc_correction(pred, truth, pid, pc, phases, REFERENCE, return_errors=True)
    assert again == fit and np.array_equal(errors, angle)
    assert np.median(angle[before <= 8.0]) == pytest.approx(fit["median_error_deg_corrected"])
    assert np.max(angle) < 2.0  # the points beyond the cut are corrected too


def test_sample_frame_error_angles_are_orix_disorientations():
    rng = np.random.default_rng(4)
    truth, pred, pid, pc, *_ = _network_like({0: "NZSP"}, 300, rng)
    vectors, angle = sample_frame_errors(pred, truth, pid, {0: "NZSP"})
    pg = get_phase("NZSP").point_group.laue_proper_subgroup
    expected = Orientation(truth, pg).angle_with(Orientation(pred, pg), degrees=True)
    np.testing.assert_allclose(angle, expected, atol=1e-6)
    np.testing.assert_allclose(np.rad2deg(np.linalg.norm(vectors, axis=1)), angle, atol=1e-6)


def test_the_correction_is_the_same_for_every_symmetry_equivalent():
    rng = np.random.default_rng(5)
    truth, pred, pid, pc, *_ = _network_like({0: "Li"}, 400, rng)
    fit = fit_pc_correction(pred, truth, pid, pc, {0: "Li"}, REFERENCE)
    ops = symmetry_operators("Li")
    other = (Rotation(ops[7]) * Rotation(pred)).data
    a, b = (apply_pc_correction(fit, q, pc) for q in (pred, other))
    m = Orientation(a, get_phase("Li").point_group).angle_with(
        Orientation(b, get_phase("Li").point_group), degrees=True
    )
    assert np.max(m) < 1e-6
    # at the reference PC only the bias is removed; without a correction nothing changes
    at_ref = apply_pc_correction(fit, pred, None)
    np.testing.assert_allclose(at_ref, apply_pc_correction(fit, pred, REFERENCE))
    np.testing.assert_array_equal(apply_pc_correction(None, pred, pc), pred)


def test_bad_pc_correction_inputs_are_refused():
    rng = np.random.default_rng(6)
    truth, pred, pid, pc, *_ = _network_like({0: "Li"}, 300, rng)
    with pytest.raises(ValueError, match="one per pattern"):
        fit_pc_correction(pred, truth, pid, pc[:10], {0: "Li"}, REFERENCE)
    with pytest.raises(ValueError, match="NaN"):
        fit_pc_correction(pred, truth, pid, np.full_like(pc, np.nan), {0: "Li"}, REFERENCE)
    with pytest.raises(ValueError, match=r"Phase ids \[0\] have no phase name"):
        fit_pc_correction(pred, truth, pid, pc, {1: "Li"}, REFERENCE)
    with pytest.raises(TooFewPointsError, match="at least 200 held-out points within 8 deg"):
        fit_pc_correction(Rotation.random(300).data, truth, pid, pc, {0: "Li"}, REFERENCE)


def test_predict_applies_a_checkpoints_pc_correction(trained, pattern_dataset, tmp_path):
    ck = load_checkpoint(trained["checkpoint"])
    correction = {
        "reference_pc_bruker": list(REFERENCE),
        "rad_per_pc": (np.eye(3) * 1.8).tolist(),
        "bias_rad": [0.01, 0.0, -0.02],
    }
    meta = {**ck.metadata, "pc_correction": correction}
    again = load_checkpoint(save_checkpoint(tmp_path / "corrected.safetensors", ck.model, meta))
    assert again.pc_correction == correction and ck.pc_correction is None
    patterns = np.stack([it["pattern"][0].numpy() for it in pattern_dataset.items])[:40]
    pc = np.asarray(REFERENCE) + np.random.default_rng(7).normal(0.0, 0.01, (len(patterns), 3))
    raw = predict_orientations(ck, patterns, max_uncertainty_deg=np.inf, pc_bruker=pc)
    fixed = predict_orientations(again, patterns, max_uncertainty_deg=np.inf, pc_bruker=pc)
    np.testing.assert_allclose(
        fixed.rotations.data, apply_pc_correction(correction, raw.rotations.data, pc), atol=1e-6
    )
    # one PC for the whole map, and a map-shaped array of them, are taken too
    one = predict_orientations(again, patterns, max_uncertainty_deg=np.inf, pc_bruker=pc[0])
    expected = apply_pc_correction(correction, raw.rotations.data, pc[0])
    np.testing.assert_allclose(one.rotations.data, expected, atol=1e-6)
    grid = predict_orientations(
        again, patterns.reshape(8, 5, *patterns.shape[1:]), pc_bruker=pc.reshape(8, 5, 3)
    )
    np.testing.assert_allclose(grid.rotations.data, fixed.rotations.data, atol=1e-6)
    np.testing.assert_array_equal(raw.prop["uncertainty_deg"], fixed.prop["uncertainty_deg"])
    with pytest.raises(ValueError, match=r"one per pattern \(40, 3\), got shape \(2, 3\)"):
        predict_orientations(again, patterns, pc_bruker=pc[:2])
