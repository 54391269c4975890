import json

import kikuchipy as kp
import numpy as np
import pytest

from synthebsd.io import (
    atomic_path,
    load_crystal_map,
    load_patterns,
    save_crystal_map,
    save_json,
    save_patterns,
)
from synthebsd.simulate import simulate_patterns


@pytest.fixture(scope="module")
def scene_and_signal(master_patterns, detector, make_cell):
    xmap = make_cell(
        shape_px=(10, 8),
        step_size_um=0.25,
        collector_um=0.5,
        metal_um=1.5,
        metal_ecd_um=0.5,
        collector_ecd_um=0.5,
        electrolyte_ecd_um=0.5,
        seed=1,
    )
    mps = {pid: master_patterns[ph.name] for pid, ph in xmap.phases if pid >= 0}
    return xmap, simulate_patterns(xmap, mps, detector, seed=2)


def test_patterns_round_trip_through_kikuchipy(tmp_path, scene_and_signal, detector):
    xmap, lazy = scene_and_signal
    path = tmp_path / "patterns.h5"
    save_patterns(lazy, path)
    s = kp.load(path)  # the reference reader, not ours
    assert isinstance(s, kp.signals.EBSD)
    assert s.axes_manager.navigation_shape == (8, 10)
    assert s.axes_manager.signal_shape == (60, 60)
    assert [a.scale for a in s.axes_manager.navigation_axes] == [0.25, 0.25]
    assert np.allclose(s.detector.pc, detector.pc)
    assert s.detector.sample_tilt == 70
    assert np.array_equal(s.data, lazy.data.compute())
    assert not list(tmp_path.glob(".*partial*"))


def test_truncated_pattern_file_gives_clear_error(tmp_path, scene_and_signal):
    path = tmp_path / "patterns.h5"
    save_patterns(scene_and_signal[1], path)
    raw = path.read_bytes()
    path.write_bytes(raw[: len(raw) // 2])
    with pytest.raises(ValueError, match="Cannot read patterns"):
        load_patterns(path)
    with pytest.raises(FileNotFoundError):
        load_patterns(tmp_path / "nope.h5")
    with pytest.raises(ValueError, match="h5ebsd"):
        save_patterns(scene_and_signal[1], tmp_path / "patterns.hspy")


def test_crystal_map_round_trip_keeps_properties(tmp_path, scene_and_signal):
    xmap = scene_and_signal[0]
    path = tmp_path / "truth.h5"
    save_crystal_map(xmap, path)
    back = load_crystal_map(path)
    assert back.shape == xmap.shape
    assert np.array_equal(back.phase_id, xmap.phase_id)
    assert np.allclose(back.rotations.data, xmap.rotations.data)
    for key in ("grain_id", "pore", "region"):
        assert np.array_equal(back.prop[key], xmap.prop[key])
    path.write_bytes(b"not an hdf5 file")
    with pytest.raises(ValueError, match="Cannot read crystal map"):
        load_crystal_map(path)


def test_failed_write_keeps_the_old_file(tmp_path):
    path = tmp_path / "summary.json"
    save_json({"a": np.float32(1.5), "b": np.arange(3)}, path)
    assert json.loads(path.read_text()) == {"a": 1.5, "b": [0, 1, 2]}
    with pytest.raises(RuntimeError), atomic_path(path) as tmp:
        tmp.write_text("half")
        raise RuntimeError("disk full")
    assert json.loads(path.read_text())["a"] == 1.5
    assert list(tmp_path.iterdir()) == [path]


def test_crystal_map_round_trip_at_the_euler_singularity(tmp_path):
    # orix 0.15.0's to_euler gets φ1 wrong at Φ = π; our writer corrects those rows.
    from orix.crystal_map import CrystalMap, PhaseList
    from orix.quaternion import Rotation

    from synthebsd.phases import get_phase

    rot = Rotation.from_euler([[1.0, np.pi, 0.0], [0.3, np.pi, 0.7], [0.2, 0.5, 0.9]])
    assert Rotation.from_euler(rot.to_euler()).angle_with(rot).max() > 0.5
    xmap = CrystalMap(rotations=rot, phase_list=PhaseList(get_phase("Li")))
    save_crystal_map(xmap, tmp_path / "m.h5")
    assert rot.angle_with(load_crystal_map(tmp_path / "m.h5").rotations).max() < 1e-12
