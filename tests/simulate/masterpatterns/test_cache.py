from pathlib import Path

import h5py
import kikuchipy as kp
import numpy as np
import pytest

from synthebsd.config import MasterPatternConfig
from synthebsd.phases import get_phase
from synthebsd.simulate import get_master_pattern, lambert_half_size, master_pattern_key
from synthebsd.simulate.masterpatterns._cache import _cache_path


def test_master_pattern_is_lambert_both_hemispheres(master_patterns, mp_config):
    for name, mp in master_patterns.items():
        n = 2 * lambert_half_size(mp.phase, mp_config) + 1
        assert mp.projection == "lambert" and mp.hemisphere == "both"
        assert mp.phase.name == name
        assert mp.data.shape == (2, n, n)
        assert np.isfinite(mp.data).all() and mp.data.std() > 0


@pytest.mark.parametrize("engine", ["kinematical", "dynamical"])
def test_cache_hit_and_corruption_rebuild(tmp_path, engine):
    cfg = MasterPatternConfig(
        engine=engine,
        half_size_px=40,
        n_electrons=5000,
        min_dspacing_angstrom=1.0,
        energy_weighting="incident",
    )
    phase = get_phase("Cu")
    first = get_master_pattern(phase, 20.0, cfg, tmp_path)
    path = _cache_path(tmp_path, master_pattern_key(phase, 20.0, cfg))
    assert path.is_file()
    # The cache file is an EMsoft master-pattern file kikuchipy reads on its own.
    loaded = kp.load(path, projection="lambert", hemisphere="both")
    assert np.allclose(loaded.data, first.data)
    mtime = path.stat().st_mtime_ns
    second = get_master_pattern(phase, 20.0, cfg, tmp_path)
    assert path.stat().st_mtime_ns == mtime  # read, not recomputed
    assert np.array_equal(first.data, second.data)

    # Change values inside the stored array: the checksum no longer matches.
    with h5py.File(path, "r+") as f:
        f["EMData/EBSDmaster/mLPNH"][..., 10, :] = 123.0
    rebuilt = get_master_pattern(phase, 20.0, cfg, tmp_path)
    assert np.array_equal(rebuilt.data, first.data)
    assert path.stat().st_mtime_ns != mtime

    # Truncate the file: unreadable, so rebuilt too.
    raw = path.read_bytes()
    path.write_bytes(raw[: len(raw) // 3])
    rebuilt = get_master_pattern(phase, 20.0, cfg, tmp_path)
    assert np.array_equal(rebuilt.data, first.data)
    assert not list(tmp_path.glob("*partial*"))


def test_cache_key_changes_with_every_parameter():
    li = get_phase("Li")
    base = MasterPatternConfig(engine="dynamical")
    keys = {
        _cache_path(Path("."), master_pattern_key(phase, energy, cfg, tilt))
        for phase, energy, cfg, tilt in [
            (li, 20.0, base, 70.0),
            (li, 20.0, base, 60.0),  # sample tilt of the Monte Carlo
            (li, 20.0, base.model_copy(update={"energy_weighting": "incident"}), 70.0),
            (li, 15.0, base, 70.0),
            (get_phase("Li", temperature_k=100.0), 20.0, base, 70.0),  # Debye–Waller factor
            (li, 20.0, base.model_copy(update={"engine": "kinematical"}), 70.0),
            (li, 20.0, base.model_copy(update={"half_size_px": 250}), 70.0),
            (li, 20.0, base.model_copy(update={"n_electrons": 10_000}), 70.0),
            (li, 20.0, base.model_copy(update={"min_dspacing_angstrom": 0.7}), 70.0),
        ]
    }
    assert len(keys) == 9
    key = master_pattern_key(li, 20.0, base)
    assert "de_ebsd" in key and key["engine"] == "dynamical"


def test_kinematical_master_pattern_symmetry(master_patterns):
    # Looking down [001] (the Lambert centre) cubic patterns have a 4-fold axis and mirrors.
    upper = np.asarray(master_patterns["Li"].data[0])
    assert np.allclose(upper, np.rot90(upper), atol=1e-3 * upper.max())
    assert np.allclose(upper, upper[::-1], atol=1e-3 * upper.max())


def test_kinematical_master_pattern_is_deterministic():
    # kikuchipy's parallel kinematical loop races on several cores; ours runs it serially.
    from synthebsd.simulate import kinematical_master_pattern

    runs = [
        np.asarray(kinematical_master_pattern(get_phase("Li"), 20.0, 120).data) for _ in range(3)
    ]
    assert np.array_equal(runs[0], runs[1]) and np.array_equal(runs[0], runs[2])
    upper = runs[0][0]
    assert np.array_equal(upper, np.rot90(upper))


def test_kinematical_engine_refuses_non_orthogonal_cells():
    """orix re-aligns a hexagonal lattice keeping Cartesian atom positions, so the
    fractional positions diffsims would use are wrong; the kinematical engine refuses."""
    from diffpy.structure import Atom, Lattice, Structure
    from orix.crystal_map import Phase

    from synthebsd.simulate import kinematical_master_pattern

    hcp = Structure(
        atoms=[Atom("Mg", (1 / 3, 2 / 3, 0.25)), Atom("Mg", (2 / 3, 1 / 3, 0.75))],
        lattice=Lattice(3.21, 3.21, 5.21, 90, 90, 120),
    )
    moved = Phase(space_group=194, structure=hcp).expand_asymmetric_unit().structure.xyz
    # The reason for the guard (if orix fixes this, the guard can go).
    assert not np.allclose(moved[0], [1 / 3, 2 / 3, 0.25], atol=1e-3)
    with pytest.raises(ValueError, match="NZSP.*not orthogonal.*dynamical"):
        kinematical_master_pattern(get_phase("NZSP"), half_size=30)
