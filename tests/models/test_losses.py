"""The symmetry-aware loss against orix, for every point group the phases need."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from orix.quaternion import Orientation, Rotation

from synthebsd.models import disorientation, symmetry_operators, symmetry_table, uncertainty_nll
from synthebsd.phases import get_phase

# Phases of the cells, by point group: m-3m (Li, Na, Cu, LLZTO), -43m (LPSCl), -3m (NZSP).
PHASES = ["Li", "Na", "Cu", "LLZTO", "LPSCl", "NZSP"]


def _rng_rotations(n, seed):
    q = np.random.default_rng(seed).normal(size=(n, 4))
    return q / np.linalg.norm(q, axis=1, keepdims=True)


@pytest.mark.parametrize("phase", PHASES)
@pytest.mark.parametrize("friedel", [True, False])
def test_loss_equals_orix_disorientation(phase, friedel):
    pg = get_phase(phase).point_group
    group = pg.laue if friedel else pg  # orix uses the proper rotations of this group
    ops = symmetry_operators(phase, friedel)
    assert len(ops) == group.proper_subgroup.size
    a, b = _rng_rotations(500, 1), _rng_rotations(500, 2)
    # Half the pairs close together (the loss's small-angle branch matters most).
    close = Rotation.from_axes_angles(
        _rng_rotations(250, 3)[:, 1:], np.deg2rad(np.linspace(1e-3, 5, 250))
    )
    b[:250] = (Rotation(close) * Rotation(a[:250])).data
    want = Orientation(b, symmetry=group).angle_with(Orientation(a, symmetry=group))
    got = disorientation(torch.from_numpy(b), torch.from_numpy(a), torch.from_numpy(ops))
    assert np.allclose(got.numpy(), want, atol=1e-9)
    assert want.max() > np.deg2rad(30)  # far pairs are included


@pytest.mark.parametrize("phase", PHASES)
def test_loss_is_zero_for_equivalent_orientations_and_sign(phase):
    ops = symmetry_operators(phase)
    q = Rotation(_rng_rotations(len(ops), 4))
    equivalent = Rotation(ops) * q  # one equivalent per operator, half of them sign-flipped
    data = equivalent.data.copy()
    data[::2] *= -1
    got = disorientation(torch.from_numpy(data), torch.from_numpy(q.data), torch.from_numpy(ops))
    assert got.max().item() < 1e-7


def test_lower_symmetry_is_not_zero():
    """90° about [001] is in 432, not in 23 (-43m without Friedel); 32 (-3m) has 3-fold z."""
    q = torch.tensor([[1.0, 0, 0, 0]], dtype=torch.float64)
    turn = torch.tensor([[np.cos(np.pi / 4), 0, 0, np.sin(np.pi / 4)]], dtype=torch.float64)
    ang = {
        (p, f): disorientation(turn, q, torch.from_numpy(symmetry_operators(p, f))).item()
        for p, f in [("LPSCl", True), ("LPSCl", False), ("NZSP", True), ("Li", True)]
    }
    assert ang[("LPSCl", True)] < 1e-7 and ang[("Li", True)] < 1e-7
    assert np.isclose(ang[("LPSCl", False)], np.pi / 2)
    assert np.isclose(ang[("NZSP", True)], np.pi / 6)  # 90° − 120°


def test_gradient_is_bounded_near_zero():
    ops = torch.from_numpy(symmetry_operators("Li"))
    q = torch.from_numpy(_rng_rotations(3, 5))
    for angle in (0.0, 1e-9, 1e-5, 1e-2):
        turn = Rotation.from_axes_angles([[0, 0, 1]], angle).data
        pred = torch.from_numpy((Rotation(turn) * Rotation(q.numpy())).data).requires_grad_(True)
        disorientation(pred, q, ops).sum().backward()
        norm = torch.linalg.vector_norm(pred.grad, dim=1)
        assert torch.isfinite(norm).all() and norm.max() <= 2 * np.sqrt(2) + 1e-9
    # The naive acos has an unbounded slope there.
    x = torch.tensor(1 - 1e-12, dtype=torch.float64, requires_grad=True)
    (2 * torch.acos(x)).backward()
    assert abs(x.grad.item()) > 1e5


def test_symmetry_table_pads_with_identity():
    table = symmetry_table({0: "Li", 1: "Cu", 2: "NZSP"})
    assert table.shape == (3, 24, 4)
    assert np.allclose(table[2, 6:], [1, 0, 0, 0])
    with pytest.raises(ValueError, match="phase ids"):
        symmetry_table({-1: "Li"})


def test_uncertainty_nll_is_minimal_at_the_mean_error():
    errors = torch.from_numpy(np.random.default_rng(0).exponential(2.0, 10_000))
    mus = torch.linspace(0.5, 6, 111, dtype=torch.float64)
    nll = torch.stack([uncertainty_nll(m.expand_as(errors), errors, 0.01).mean() for m in mus])
    assert abs(mus[nll.argmin()].item() - errors.mean().item()) < 0.06
