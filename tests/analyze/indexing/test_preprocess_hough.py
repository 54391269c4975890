"""Preprocessing of lazy maps, Hough phase ids, and the resampled indexer model."""

import numpy as np
import pytest
from kikuchipy.signals import EBSD, LazyEBSD
from orix.crystal_map import PhaseList

from synthebsd.analyze import hough_index, preprocess_patterns, smooth_master_pattern
from synthebsd.analyze.indexing._blocks import iter_blocks
from synthebsd.simulate import random_rotations, render_kikuchi


def _lazy(data, rows_per_chunk):
    import dask.array as da

    return LazyEBSD(da.from_array(data, chunks=(rows_per_chunk, -1, -1, -1)))


def test_lazy_preprocessing_equals_eager_and_leaves_the_input(detector):
    rng = np.random.default_rng(0)
    data = rng.poisson(800, (4, 5, *detector.shape)).astype(np.float32)
    before = data.copy()
    eager = preprocess_patterns(EBSD(data))
    lazy = preprocess_patterns(_lazy(data, 1), chunk_patterns=7)
    assert np.array_equal(data, before)  # kikuchipy works in place: on a copy
    assert isinstance(lazy, LazyEBSD) and max(lazy.data.chunks[0]) <= 7
    assert np.allclose(lazy.data.compute(), eager.data, atol=1e-5)
    bg = data.reshape(-1, *detector.shape)[:3].mean(axis=0)
    given = preprocess_patterns(_lazy(data, 2), static_background=bg)
    assert np.allclose(given.data.compute(), preprocess_patterns(EBSD(data), bg).data, atol=1e-6)
    with pytest.raises(ValueError, match="static_background has shape"):
        preprocess_patterns(EBSD(data), static_background=bg[:10])


def test_a_lazy_map_that_fits_is_corrected_once_into_memory(detector):
    rng = np.random.default_rng(1)
    data = rng.poisson(500, (3, 4, *detector.shape)).astype(np.float32)
    eager = preprocess_patterns(EBSD(data))
    nbytes = data.size * 4
    fits = preprocess_patterns(_lazy(data, 1), chunk_patterns=5, in_memory_max_bytes=nbytes)
    assert not isinstance(fits, LazyEBSD) and fits.data.shape == (12, *detector.shape)
    assert np.allclose(fits.data, eager.data, atol=1e-5)
    big = preprocess_patterns(_lazy(data, 1), in_memory_max_bytes=nbytes - 1)
    assert isinstance(big, LazyEBSD)


def test_lazy_nan_patterns_are_named(detector):
    data = np.random.default_rng(1).poisson(500, (3, 4, *detector.shape)).astype(np.float32)
    data[2, 1, 5, 5] = np.nan  # flat index 9
    with pytest.raises(ValueError, match=r"1 pattern\(s\) contain NaN.*\[9\]"):
        preprocess_patterns(_lazy(data, 1))
    bg = np.ones(detector.shape, dtype=np.float32)
    lazy = preprocess_patterns(_lazy(data, 1), static_background=bg)  # no pass over the map
    with pytest.raises(ValueError, match=r"\[9\]"):
        list(iter_blocks(lazy, 5))


def test_blocks_follow_dask_chunks():
    data = np.arange(10 * 2 * 3 * 3, dtype=np.float32).reshape(10, 2, 3, 3)
    lazy = _lazy(data, 3)  # 6 patterns per chunk
    blocks = list(iter_blocks(lazy, 13))
    assert [(a, b) for a, b, _ in blocks] == [(0, 12), (12, 20)]
    assert np.array_equal(np.concatenate([b for _, _, b in blocks]), data.reshape(20, 3, 3))
    assert [(a, b) for a, b, _ in iter_blocks(lazy, 4)] == [
        (0, 4),
        (4, 6),
        (6, 10),
        (10, 12),
        (12, 16),
        (16, 18),
        (18, 20),
    ]


def test_hough_renumbers_phase_ids(master_patterns, detector):
    """A truth map's phase ids [0, 2] (Li, Cu) become 0, 1 in the phase list's order."""
    li, cu = master_patterns["Li"], master_patterns["Cu"]
    rot = random_rotations(6, np.random.default_rng(3))
    clean = [
        render_kikuchi(mp, rot, detector, 20.0).reshape(6, *detector.shape) for mp in (li, cu)
    ]
    data = np.concatenate(clean).reshape(3, 4, *detector.shape)
    truth_phases = PhaseList(phases=[li.phase, cu.phase], ids=[0, 2])
    for signal in (EBSD(data), _lazy(data, 1)):
        res = hough_index(preprocess_patterns(signal), truth_phases, detector, 0.0)
        assert res.xmap.phases.ids[-2:] == [0, 1]
        assert res.xmap.phases.names[-2:] == ["Li", "Cu"]
        assert np.mean(res.xmap.phase_id == [0] * 6 + [1] * 6) >= 11 / 12


def test_resampled_model_renders_the_same_patterns(master_patterns, detector):
    li = master_patterns["Li"]  # half size 500: 1001 pixels per side
    full = smooth_master_pattern(li, detector)
    small = smooth_master_pattern(li, detector, resample_sigma_px=3.0)
    assert full.data.shape[-1] == 1001 and small.data.shape[-1] == 501  # σ ≈ 7 px
    rot = random_rotations(50, np.random.default_rng(4))
    a = render_kikuchi(full, rot, detector, 20.0).reshape(50, -1)
    b = render_kikuchi(small, rot, detector, 20.0).reshape(50, -1)
    a = (a - a.mean(1, keepdims=True)) / a.std(1, keepdims=True)
    b = (b - b.mean(1, keepdims=True)) / b.std(1, keepdims=True)
    assert (a * b).mean(1).min() > 0.999


def test_orientation_sampling_is_cached_on_disk(cache_dir):
    from orix.quaternion.symmetry import Oh
    from orix.sampling import get_sample_fundamental

    from synthebsd.analyze.indexing._dictionary import _SAMPLES, _fundamental_sample, _sample_path

    path = _sample_path(12.0, Oh)
    assert str(path).startswith(str(cache_dir))
    _SAMPLES.clear()
    first = _fundamental_sample(12.0, Oh)
    assert path.is_file()
    assert np.array_equal(first, get_sample_fundamental(resolution=12.0, point_group=Oh).data)
    path.write_bytes(b"truncated")  # a corrupt file is recomputed, never used
    _SAMPLES.clear()
    assert np.array_equal(_fundamental_sample(12.0, Oh), first)
    assert np.array_equal(np.load(path), first)


def test_hough_leaves_numba_cache_dir_alone(tmp_path):
    """PyEBSDIndex sets NUMBA_CACHE_DIR when imported; hough_index keeps the process's
    own value (dask worker processes inherited it, and orix's cached gufuncs crashed
    there). In a fresh interpreter, where PyEBSDIndex is not yet imported."""
    import subprocess
    import sys

    script = """
import os
import numpy as np
from kikuchipy.signals import EBSD
from orix.crystal_map import PhaseList
from synthebsd.analyze import hough_index, preprocess_patterns
from synthebsd.config import DetectorConfig
from synthebsd.phases import get_phase
from synthebsd.simulate import make_detector
os.environ["NUMBA_CACHE_DIR"] = os.environ["SENTINEL"]
data = np.random.default_rng(0).random((2, 60, 60)).astype(np.float32) + 1
hough_index(preprocess_patterns(EBSD(data)), PhaseList(get_phase("Li")),
            make_detector(DetectorConfig()), 0.0)
assert "pyebsdindex.tripletvote" in __import__("sys").modules
print(os.environ["NUMBA_CACHE_DIR"])
"""
    env = {**__import__("os").environ, "SENTINEL": str(tmp_path)}
    env.pop("NUMBA_CACHE_DIR", None)
    out = subprocess.run(
        [sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=600
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == str(tmp_path)
