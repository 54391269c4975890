"""Test-time flip: the mirrored pattern's orientation, the mean of two views, its paths."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from orix.quaternion import Orientation, Rotation

from synthebsd.analyze import pattern_ncc
from synthebsd.models import (
    FLIP_QUATERNION,
    InferenceViews,
    OutsideTrainingRangeWarning,
    check_flip_pc,
    class_symmetry_table,
    create_model,
    fuse_batch_norm,
    held_out_predictions,
    load_checkpoint,
    predict_orientations,
    predict_tensors,
    symmetry_operators,
)
from synthebsd.models._flip import _combine
from synthebsd.phases import get_phase


def test_a_mirrored_pattern_is_the_pattern_of_the_flipped_orientation(
    master_patterns, detector, random_rotations
):
    """kikuchipy's own projection: fliplr(P(g)) = P(g ⊗ r) at PCx 0.5, and not off it."""
    g = random_rotations(12, 3)
    r = Rotation(FLIP_QUATERNION)
    mp = master_patterns["Li"]

    def project(rotations, det):
        return np.asarray(mp.get_patterns(rotations, det, 20, compute=True).data, dtype=float)

    assert detector.pc.reshape(-1, 3)[0, 0] == 0.5
    plain, turned = project(g, detector), project(g * r, detector)
    assert pattern_ncc(plain[..., ::-1], turned).min() > 0.99
    assert pattern_ncc(plain, turned).max() < 0.9  # the views differ: the test can fail
    off = detector.deepcopy()
    off.pc = (0.42, 0.25, 0.55)
    plain, turned = project(g, off), project(g * r, off)
    assert np.median(pattern_ncc(plain[..., ::-1], turned)) < 0.9


def _outputs(q: np.ndarray, classes: np.ndarray, uncertainty: float) -> dict[str, torch.Tensor]:
    logits = torch.full((len(q), 4), -5.0)
    logits[torch.arange(len(q)), torch.as_tensor(classes)] = 5.0
    return {
        "quaternion": torch.as_tensor(q, dtype=torch.float64),
        "class_logits": logits,
        "uncertainty_deg": torch.full((len(q),), uncertainty),
    }


def test_two_views_of_one_orientation_average_to_it_whatever_equivalent_comes_back(
    random_rotations,
):
    """The flipped view returned as any symmetry equivalent, either quaternion sign."""
    rng = np.random.default_rng(0)
    n = 50
    g = random_rotations(n, 1)
    ops = symmetry_operators("Li")
    s = Rotation(ops[rng.integers(0, len(ops), n)])
    sign = rng.choice([-1.0, 1.0], (n, 1))
    flipped_view = (s * g * Rotation(FLIP_QUATERNION)).data * sign  # r = r⁻¹ as a rotation
    metal = np.ones(n, dtype=int)  # class 1: metal, phase 0 (Li)
    table = torch.as_tensor(class_symmetry_table({0: "Li", 1: "Cu"}))
    out = _combine(_outputs(g.data, metal, 2.0), _outputs(flipped_view, metal, 2.0), table)
    back = Orientation(Rotation(out["quaternion"].numpy()), get_phase("Li").point_group)
    angle = back.angle_with(Orientation(g, get_phase("Li").point_group), degrees=True)
    assert angle.max() < 1e-4 and out["flip_angle_deg"].max() < 1e-3
    # the expected error of two agreeing views with a 2° head each: 2/√2
    np.testing.assert_allclose(out["uncertainty_deg"].numpy(), np.sqrt(2.0), rtol=1e-5)
    # a view 4° away: the mean sits halfway, the angle between the views is 4°
    tilt = Rotation.from_axes_angles(rng.normal(size=(n, 3)), np.deg2rad(4.0))
    out = _combine(
        _outputs(g.data, metal, 2.0),
        _outputs((tilt * s * g * Rotation(FLIP_QUATERNION)).data, metal, 2.0),
        table,
    )
    np.testing.assert_allclose(out["flip_angle_deg"].numpy(), 4.0, atol=1e-3)
    mean = Orientation(Rotation(out["quaternion"].numpy()), get_phase("Li").point_group)
    halfway = mean.angle_with(Orientation(g, get_phase("Li").point_group), degrees=True)
    np.testing.assert_allclose(halfway, 2.0, atol=0.05)
    np.testing.assert_allclose(out["uncertainty_deg"].numpy(), np.sqrt(2.0 + 4.0), rtol=1e-4)
    # views 20° apart are not averaged: the one with the smaller predicted error is kept
    tilt = Rotation.from_axes_angles(rng.normal(size=(n, 3)), np.deg2rad(20.0))
    far = (tilt * s * g * Rotation(FLIP_QUATERNION)).data
    li = get_phase("Li").point_group
    for u_plain, u_flipped, expected in ((2.0, 3.0, g), (3.0, 2.0, tilt * s * g)):
        out = _combine(_outputs(g.data, metal, u_plain), _outputs(far, metal, u_flipped), table)
        kept = Orientation(Rotation(out["quaternion"].numpy()), li)
        assert kept.angle_with(Orientation(expected, li), degrees=True).max() < 1e-3
        np.testing.assert_allclose(out["flip_angle_deg"].numpy(), 20.0, atol=1e-3)


def test_classes_without_a_phase_take_the_identity():
    table = class_symmetry_table({0: "Li", 1: "Cu"})
    assert table.shape == (4, 24, 4)
    assert np.allclose(table[2], [1, 0, 0, 0]) and np.allclose(table[3], [1, 0, 0, 0])
    np.testing.assert_allclose(table[1], symmetry_operators("Li"))


def test_the_flip_follows_the_device():
    """The CUDA path on the meta device."""
    model = fuse_batch_norm(create_model("orientation_cnn_tiny")).to("meta")
    table = torch.as_tensor(class_symmetry_table({0: "Li", 1: "Cu"}), device="meta")
    views = InferenceViews(table, (5.0,), (0.34, 0.0, 0.94), (14.5, 29.5))
    out = predict_tensors(model, torch.empty(10, 60, 60, device="meta"), 4, views)
    assert set(out) == {"quaternion", "class_probability", "uncertainty_deg", "flip_angle_deg"}
    assert out["quaternion"].shape == (10, 4) and out["flip_angle_deg"].shape == (10,)
    assert all(v.device.type == "meta" for v in out.values())


def test_predict_and_held_out_predictions_flip_alike(trained, pattern_dataset):
    ck = load_checkpoint(trained["checkpoint"])
    assert ck.test_time_flip is False
    patterns = np.stack([it["pattern"][0].numpy() for it in pattern_dataset.items])
    flipped = predict_orientations(ck, patterns, max_uncertainty_deg=np.inf, flip=True)
    plain = predict_orientations(ck, patterns, max_uncertainty_deg=np.inf)
    assert "flip_angle_deg" in flipped.prop and "flip_angle_deg" not in plain.prop
    assert np.abs(flipped.rotations.data - plain.rotations.data).max() > 1e-3
    cols = held_out_predictions(ck, pattern_dataset, batch_size=64, progress=False, flip=True)
    # the same quaternions and raw predicted errors (predict fuses batch norm: float noise)
    dots = np.abs(np.sum(flipped.rotations.data * cols["quaternion"], axis=1))
    assert dots.min() > 1 - 1e-5
    np.testing.assert_allclose(flipped.prop["uncertainty_deg"], cols["uncertainty_deg"], rtol=1e-3)


def test_a_pattern_centre_off_the_middle_column_is_warned_about():
    check_flip_pc(np.array([0.5, 0.25, 0.55]))
    check_flip_pc(np.array([[0.51, 0.2, 0.5], [0.49, 0.3, 0.6]]))
    with pytest.warns(OutsideTrainingRangeWarning, match="PCx is up to 0.080"):
        check_flip_pc(np.array([0.42, 0.25, 0.55]))
