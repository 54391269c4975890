"""NLPAR through PyEBSDIndex: the file round trip against its array kernel, noise removed
inside a grain without mixing the grain next door, and clear errors."""

import numpy as np
import pytest
from kikuchipy.signals import EBSD

from synthebsd.analyze import nlpar_patterns
from synthebsd.simulate import random_rotations

ROWS, COLS = 10, 14  # not square: a transposed map would average the wrong neighbours


@pytest.fixture(scope="module")
def two_grains(master_patterns, detector, noisy_patterns):
    """Li at 50 counts/px: grain A in columns 0-5, grain B in 6-13; the clean patterns."""
    li = master_patterns["Li"]
    rot = random_rotations(2, np.random.default_rng(7))
    grain = (np.arange(COLS) >= 6).astype(int)
    index = np.broadcast_to(grain, (ROWS, COLS)).ravel()
    noisy = noisy_patterns(li, rot[index], detector, 50.0, seed=1)
    clean = noisy_patterns(li, rot, detector, 1e7, seed=2)  # Poisson noise ~3e-4
    signal = EBSD(noisy.reshape(ROWS, COLS, *detector.shape).astype(np.uint16))
    for axis, name in zip(signal.axes_manager.navigation_axes, ("x", "y"), strict=True):
        axis.scale, axis.units, axis.name = 0.5, "um", name
    signal.detector = detector.deepcopy()
    return signal, clean.reshape(2, -1), index.reshape(ROWS, COLS)


def test_equals_pyebsdindex_kernel_on_the_arrays(two_grains):
    """The UP2 round trip keeps rows, columns and counts: PyEBSDIndex's own kernel, called
    on the arrays of the whole map, gives the same patterns."""
    from pyebsdindex.nlpar_cpu import NLPAR

    signal, _, _ = two_grains
    out, info = nlpar_patterns(signal, search_radius=2, lam=0.8)
    assert info["lambda"] == 0.8 and info["search_radius"] == 2
    data = signal.data.reshape(ROWS * COLS, -1).astype(np.float32)
    nl = NLPAR()
    h, w = signal.axes_manager.signal_shape[::-1]
    indices = np.flatnonzero(nl.makeautomask(h, w)).astype(np.int64)
    sigma = nl.sigma_numba(data, 1, ROWS, COLS, np.array([0, ROWS]), np.array([0, COLS]),
                           indices, True)[0]  # fmt: skip
    ref = nl.nlpar_nb(data, np.float32(0.8), np.int64(2), np.float32(0.0), sigma,
                      np.int64(ROWS), np.int64(COLS),
                      calclim=np.array([0, 0, COLS, ROWS], dtype=np.int64),
                      indices_in=indices, saturation_protect=True,
                      diff_offset=np.float32(0.0))  # fmt: skip
    # to 1e-4 of the brightest pixel (float32 sums on the scaled counts, PyEBSDIndex's
    # uint16 truncation at 60,000); averaging the wrong neighbours is off by counts
    got = out.data.reshape(ROWS * COLS, -1)
    assert np.abs(got - ref).max() <= 1e-4 * data.max()
    assert np.abs(got - data).mean() > 1.0


def test_averages_inside_a_grain_not_across(two_grains):
    signal, clean, grain = two_grains
    out, info = nlpar_patterns(signal)  # λ fitted on the map
    assert 0.1 < info["lambda"] < 10.0
    raw = signal.data.reshape(ROWS * COLS, -1).astype(float)
    avg = out.data.reshape(ROWS * COLS, -1).astype(float)
    clean = clean * raw.mean() / clean.mean()
    own, other = clean[grain.ravel()], clean[1 - grain.ravel()]
    # a count stays a count (weights sum to 1)
    assert avg.mean() == pytest.approx(raw.mean(), rel=2e-3)
    # noise: the rms difference to the point's clean pattern, down at every point
    before = np.sqrt(((raw - own) ** 2).mean(1))
    after = np.sqrt(((avg - own) ** 2).mean(1))
    assert np.median(after / before) < 0.4 and after.max() < before.min()
    # how much of the point's own grain a pattern holds against the other: 1 own, 0.5
    # an even blend; columns 5 and 6 touch the boundary
    diff = own - other
    share = 0.5 + ((avg - (own + other) / 2) * diff).sum(1) / (diff**2).sum(1)
    edge = np.isin(np.tile(np.arange(COLS), ROWS), (5, 6))
    assert share[edge].min() > 0.9 and share[~edge].min() > 0.95
    # the same map, lazy, gives the same patterns; axes and detector carried over
    lazy, _ = nlpar_patterns(signal.as_lazy())
    assert np.array_equal(lazy.data, out.data)
    assert out.axes_manager.navigation_shape == signal.axes_manager.navigation_shape
    assert [a.scale for a in out.axes_manager.navigation_axes] == [0.5, 0.5]
    assert np.allclose(out.detector.pc, signal.detector.pc)


def test_bad_maps_are_refused(two_grains):
    signal, _, _ = two_grains
    with pytest.raises(ValueError, match="2-D navigation"):
        nlpar_patterns(EBSD(signal.data.reshape(ROWS * COLS, *signal.data.shape[-2:])))
    with pytest.raises(ValueError, match="at least 8 × 8 points, got 6 × 6"):
        nlpar_patterns(signal.inav[:6, :6])
    with pytest.raises(ValueError, match="search_radius must be >= 1"):
        nlpar_patterns(signal, search_radius=0)
    bad = signal.data.astype(np.float32)
    bad[3, 4, 10, 10] = np.nan
    with pytest.raises(ValueError, match="finite, non-negative"):
        nlpar_patterns(EBSD(bad))
