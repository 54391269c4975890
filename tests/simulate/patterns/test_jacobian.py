"""KikuchiRenderer.project_jacobian: the render_chunk patterns and their derivatives."""

import numpy as np
import pytest
import roma
import torch
from scipy.ndimage import gaussian_filter

from synthebsd.simulate import KikuchiRenderer, detector_direction_cosines, random_rotations


def _ncc_rows(a, b):
    a = a - a.mean(1, keepdim=True)
    b = b - b.mean(1, keepdim=True)
    return (a * b).sum(1) / (a.norm(dim=1) * b.norm(dim=1))


@pytest.mark.parametrize(("oversample", "psf", "hemispheres"), [(1, 0.0, 1), (2, 0.5, 2)])
def test_jacobian_matches_finite_differences(
    oversample, psf, hemispheres, small_master_patterns, detector
):
    # The derivative is that of the image's central differences: exact on a model that
    # is smooth over a Lambert pixel, as the indexer's (smoothed) models are.
    mp = small_master_patterns["Li"].deepcopy()
    mp.data = gaussian_filter(mp.data, (0, 6, 6))
    if hemispheres == 2:  # distinct but continuous at the equator
        mp.data[1] = mp.data[1] * (1 + 1e-6)
    r = KikuchiRenderer(mp, detector, 20.0, oversample=oversample, psf_sigma_px=psf)
    assert r.one_hemisphere == (hemispheres == 1)
    rot = random_rotations(24, np.random.default_rng(0))
    m64 = torch.from_numpy(rot.to_matrix())
    m = m64.float()
    pcs = torch.tensor(
        np.tile(np.asarray(detector.pc).reshape(1, 3), (24, 1)), dtype=torch.float32
    )
    intensity, jac = r.project_jacobian(m, pcs, pc_jacobian=True, num_threads=1)
    reference = torch.from_numpy(r.render(rot, sort=False)).reshape(24, -1)
    assert torch.allclose(intensity, reference, atol=1e-3 * reference.abs().max())
    i0, j0 = r.project_jacobian(m, num_threads=2)  # the detector's PC, two workers
    assert torch.equal(i0, reference) or torch.allclose(i0, reference, atol=1e-6)
    assert torch.allclose(j0, jac[:, :3], atol=1e-2 * j0.abs().max())
    h = 1e-3  # radians
    for k in range(3):  # rotation increment about crystal axis k, radians
        w = torch.zeros(24, 3, dtype=torch.float64)
        w[:, k] = h
        plus = r.project_jacobian((roma.rotvec_to_rotmat(w) @ m64).float())[0]
        minus = r.project_jacobian((roma.rotvec_to_rotmat(-w) @ m64).float())[0]
        assert _ncc_rows((plus - minus) / (2 * h), jac[:, k]).median() > 0.998
    for k in range(3):  # PCx, PCy, PCz
        d = torch.zeros(24, 3)
        d[:, k] = 1e-3
        fd = (r.project_jacobian(m, pcs + d)[0] - r.project_jacobian(m, pcs - d)[0]) / 2e-3
        assert _ncc_rows(fd, jac[:, 3 + k]).median() > 0.998


def test_pc_directions_equal_the_detectors(small_master_patterns, detector):
    r = KikuchiRenderer(small_master_patterns["Na"], detector, 20.0, oversample=2)
    pcs = np.array([[0.45, 0.2, 0.6], [0.52, 0.3, 0.5]])
    det = detector.deepcopy()
    det.pc = pcs
    ref = detector_direction_cosines(det, 2)  # (2, p, 3)
    ours = r.pc_directions(torch.tensor(pcs, dtype=torch.float32)).permute(0, 2, 1).numpy()
    assert np.abs(ours - ref).max() < 1e-6
    with pytest.raises(ValueError, match="pc_jacobian needs"):
        r.project_jacobian(torch.eye(3)[None], pc_jacobian=True)
