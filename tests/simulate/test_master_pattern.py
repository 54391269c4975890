import h5py
import numpy as np

from synthebsd.config import MasterPatternConfig
from synthebsd.phases import get_phase
from synthebsd.simulate import get_master_pattern
from synthebsd.simulate._master_pattern import _cache_key, _cache_path


def test_master_pattern_is_lambert_both_hemispheres(master_patterns):
    n = 2 * MasterPatternConfig().half_size_px + 1
    for name, mp in master_patterns.items():
        assert mp.projection == "lambert" and mp.hemisphere == "both"
        assert mp.phase.name == name
        assert mp.data.shape == (2, n, n)
        assert np.isfinite(mp.data).all() and mp.data.std() > 0


def test_cache_hit_and_corruption_rebuild(tmp_path):
    cfg = MasterPatternConfig(half_size_px=60)
    phase = get_phase("Cu")
    first = get_master_pattern(phase, 20.0, cfg, tmp_path)
    path = _cache_path(tmp_path, _cache_key(phase, 20.0, cfg))
    assert path.is_file()
    mtime = path.stat().st_mtime_ns
    second = get_master_pattern(phase, 20.0, cfg, tmp_path)
    assert path.stat().st_mtime_ns == mtime  # read, not recomputed
    assert np.array_equal(first.data, second.data)

    # Flip values inside the stored array: the checksum no longer matches.
    with h5py.File(path, "r+") as f:
        f["lambert"][0, 10, :] = 123.0
    rebuilt = get_master_pattern(phase, 20.0, cfg, tmp_path)
    assert np.array_equal(rebuilt.data, first.data)

    # Truncate the file: unreadable, so rebuilt too.
    raw = path.read_bytes()
    path.write_bytes(raw[: len(raw) // 3])
    rebuilt = get_master_pattern(phase, 20.0, cfg, tmp_path)
    assert np.array_equal(rebuilt.data, first.data)
    with h5py.File(path, "r") as f:
        assert f["lambert"].shape == (2, 121, 121)


def test_cache_key_changes_with_parameters():
    phase = get_phase("Li")
    keys = {
        _cache_path(
            __import__("pathlib").Path("."),
            _cache_key(phase, e, MasterPatternConfig(half_size_px=h)),
        )
        for e in (15.0, 20.0)
        for h in (100, 250)
    }
    assert len(keys) == 4


def test_master_pattern_bands_follow_structure_factor(master_patterns):
    # BCC Li: {100} is kinematically forbidden, {110} allowed. Along [100] the master
    # pattern centre is a 4-fold zone axis, so the upper hemisphere is symmetric under a
    # 90° rotation about the projection centre and mirror lines.
    upper = np.asarray(master_patterns["Li"].data[0])
    assert np.allclose(upper, np.rot90(upper), atol=1e-3 * upper.max())
    assert np.allclose(upper, upper[::-1], atol=1e-3 * upper.max())
