"""Turned test-time views: the resampling, the turn's axis, the mean of the views."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from orix.quaternion import Orientation, Rotation
from scipy import ndimage

from synthebsd.analyze import pattern_ncc
from synthebsd.models import (
    InferenceViews,
    class_symmetry_table,
    detector_normal,
    held_out_predictions,
    inference_views,
    load_checkpoint,
    predict_orientations,
    rotate_patterns,
)
from synthebsd.models import _views as views_module
from synthebsd.phases import get_phase


def test_rotate_patterns_matches_scipy():
    x = np.random.default_rng(0).poisson(300, (3, 40, 50)).astype(np.float64)
    centre = (9.5, 24.5)
    a = np.deg2rad(7.0)
    matrix = np.array([[np.cos(a), -np.sin(a)], [np.sin(a), np.cos(a)]])
    offset = np.array(centre) - matrix @ np.array(centre)
    expected = np.stack(
        [ndimage.affine_transform(im, matrix, offset=offset, order=1, mode="nearest") for im in x]
    )
    got = rotate_patterns(torch.from_numpy(x), 7.0, centre).numpy()
    np.testing.assert_allclose(got, expected, rtol=1e-6, atol=1e-6)
    np.testing.assert_allclose(rotate_patterns(torch.from_numpy(x), 0.0, centre).numpy(), x)


def test_a_pattern_turned_about_the_pc_is_the_crystal_turned_about_the_detector_normal(
    master_patterns, detector, random_rotations
):
    """kikuchipy's projection: P(g) turned by φ about the PC ≈ P(g ⊗ R(n, φ))."""
    axis = detector_normal(detector.sample_tilt, detector.tilt)
    np.testing.assert_allclose(
        axis, [np.sin(np.deg2rad(20)), 0, np.cos(np.deg2rad(20))], atol=1e-9
    )
    g = random_rotations(6, 4)
    mp = master_patterns["Li"]

    def project(rotations):
        return np.asarray(mp.get_patterns(rotations, detector, 20, compute=True).data, float)

    pcx, pcy = np.asarray(detector.pc).reshape(-1, 3)[0, :2]
    rows, cols = detector.shape
    centre = (pcy * rows - 0.5, pcx * cols - 0.5)
    plain = project(g)
    turned = rotate_patterns(torch.from_numpy(plain), 5.0, centre).numpy()
    inner = np.s_[:, 5:-5, 5:-5]  # off the corners that leave the detector
    for sign, check in ((1, lambda v: v > 0.9), (-1, lambda v: v < 0.5)):
        truth = project(g * Rotation.from_axes_angles(axis, sign * np.deg2rad(5.0)))
        nccs = pattern_ncc(turned[inner], truth[inner])
        assert check(np.median(nccs)), (sign, nccs)
    untouched = project(g * Rotation.from_axes_angles(axis, np.deg2rad(5.0)))
    assert np.median(pattern_ncc(plain, untouched)) < 0.7


def _fake_pairs(g: Rotation, turns: list[float], axis, off_deg: dict[int, float]):
    """predict_with_flip stand-in: call k returns g ⊗ R(n, φ_k) (call 0: g), tilted by
    ``off_deg[k]`` where given; each with a 2° predicted error."""
    calls = iter(range(1 + len(turns)))

    def fake(model, patterns, ops):
        k = next(calls)
        q = g if k == 0 else g * Rotation.from_axes_angles(axis, np.deg2rad(turns[k - 1]))
        if k in off_deg:
            q = Rotation.from_axes_angles([1, 2, 3], np.deg2rad(off_deg[k])) * q
        logits = torch.full((g.size, 4), -5.0)
        logits[:, 1] = 5.0
        return {
            "quaternion": torch.as_tensor(q.data, dtype=torch.float64),
            "class_logits": torch.log_softmax(logits, 1),
            "uncertainty_deg": torch.full((g.size,), 2.0, dtype=torch.float64),
            "flip_angle_deg": torch.zeros(g.size, dtype=torch.float64),
        }

    return fake


def test_turned_views_are_turned_back_and_averaged(monkeypatch, random_rotations):
    axis = tuple(detector_normal(70.0, 0.0))
    g = random_rotations(20, 5)
    table = torch.as_tensor(class_symmetry_table({0: "Li", 1: "Cu"}))
    views = InferenceViews(table, (5.0, -10.0), axis, (14.5, 29.5))
    monkeypatch.setattr(views_module, "rotate_patterns", lambda x, *_: x)
    li = get_phase("Li").point_group
    patterns = torch.zeros(g.size, 60, 60)
    monkeypatch.setattr(views_module, "predict_with_flip", _fake_pairs(g, [5.0, -10.0], axis, {}))
    out = views(None, patterns)
    back = Orientation(Rotation(out["quaternion"].numpy()), li)
    assert back.angle_with(Orientation(g, li), degrees=True).max() < 1e-4
    np.testing.assert_allclose(out["uncertainty_deg"].numpy(), 2.0 / np.sqrt(3), rtol=1e-6)
    # a view 20° off is left out of the mean, and its disagreement raises the error
    fake = _fake_pairs(g, [5.0, -10.0], axis, {2: 20.0})
    monkeypatch.setattr(views_module, "predict_with_flip", fake)
    out = views(None, patterns)
    back = Orientation(Rotation(out["quaternion"].numpy()), li)
    assert back.angle_with(Orientation(g, li), degrees=True).max() < 1e-4
    expected = np.sqrt((4.0 + (0.0 + 20.0**2) / 2 / 4) / 2)
    np.testing.assert_allclose(out["uncertainty_deg"].numpy(), expected, rtol=1e-4)


def test_predict_and_held_out_predictions_see_the_same_turned_views(trained, pattern_dataset):
    ck = load_checkpoint(trained["checkpoint"])
    patterns = np.stack([it["pattern"][0].numpy() for it in pattern_dataset.items])
    turned = predict_orientations(ck, patterns, flip=True, rotations_deg=(5, -5))
    flipped = predict_orientations(ck, patterns, flip=True, rotations_deg=())
    assert np.abs(turned.rotations.data - flipped.rotations.data).max() > 1e-3
    cols = held_out_predictions(
        ck, pattern_dataset, batch_size=64, progress=False, flip=True, rotations_deg=(5, -5)
    )
    dots = np.abs(np.sum(turned.rotations.data * cols["quaternion"], axis=1))
    assert dots.min() > 1 - 1e-5
    with pytest.raises(ValueError, match="need the flip"):
        inference_views(ck, flip=False, rotations_deg=(5,))
    assert inference_views(ck) is None  # a checkpoint calibrated without views
    meta = {**ck.metadata, "test_time_flip": True, "test_time_rotations_deg": [5.0]}
    turning = type(ck)(ck.model, meta, ck.path)
    assert inference_views(turning).rotations_deg == (5.0,)
    assert inference_views(turning, flip=False) is None  # --no-flip drops the turns too
