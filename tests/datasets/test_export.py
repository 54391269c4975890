"""Exports open in kikuchipy and orix with the store's values; .ang Euler angles round-trip."""

import numpy as np
import pytest
import zarr
from orix import io as orix_io
from orix.crystal_map import CrystalMap, PhaseList
from orix.quaternion import Rotation

from synthebsd.datasets import (
    ANG_CONVENTIONS,
    export_scene,
    generate_store,
    write_ang,
)
from synthebsd.io import save_crystal_map
from synthebsd.phases import get_phase
from synthebsd.simulate import make_detector


@pytest.fixture(scope="module")
def store(make_dataset_config, dataset_cache, tmp_path_factory):
    path = tmp_path_factory.mktemp("export") / "store.zarr"
    generate_store(
        make_dataset_config(n_scenes=2),
        9,
        path,
        scheduler="synchronous",
        cache_dir=dataset_cache,
        progress=False,
    )
    return path


def test_h5ebsd_opens_in_kikuchipy(store, tmp_path):
    import kikuchipy as kp

    path = export_scene(store, 1, "h5ebsd", tmp_path)
    signal = kp.load(path)
    root = zarr.open_group(store, mode="r")
    np.testing.assert_array_equal(signal.data, root["patterns"][1])
    axes = signal.axes_manager.navigation_axes
    assert [a.scale for a in axes] == [0.5, 0.5] and axes[0].units == "um"
    pc = root["labels/pc"][1, 0, 0].astype(np.float64)
    np.testing.assert_allclose(np.asarray(signal.detector.pc).reshape(-1, 3)[0], pc)
    assert signal.detector.shape == (32, 32) and signal.detector.sample_tilt == 70.0


def test_orix_truth_has_the_stored_labels(store, tmp_path):
    path = export_scene(store, 0, "orix", tmp_path)
    xmap = orix_io.load(path)
    root = zarr.open_group(store, mode="r")
    q = root["labels/quaternion"][0].reshape(-1, 4)
    np.testing.assert_allclose(xmap.rotations.data, q, atol=1e-7)
    np.testing.assert_array_equal(xmap.phase_id, root["labels/phase_id"][0].ravel())
    np.testing.assert_array_equal(xmap.prop["region"], root["labels/region"][0].ravel())
    np.testing.assert_array_equal(xmap.prop["grain_id"], root["labels/grain_id"][0].ravel())
    assert xmap.shape == (16, 20) and xmap.dx == 0.5
    assert xmap.phases[0].name == "Li" and xmap.phases[1].name == "Cu"


def test_ang_round_trips_through_orix(store, tmp_path):
    path = export_scene(store, 1, "ang", tmp_path)
    text = path.read_text()
    for line in ANG_CONVENTIONS:
        assert f"# {line}" in text
    xmap = orix_io.load(path)
    root = zarr.open_group(store, mode="r")
    phase_id = root["labels/phase_id"][1].ravel()
    indexed = phase_id >= 0
    truth = Rotation(root["labels/quaternion"][1].reshape(-1, 4).astype(np.float64))
    angle = truth[indexed].angle_with(xmap.rotations[indexed])
    assert angle.max() < 2e-5  # .ang holds 5 decimals of radians
    assert np.array_equal(xmap.phase_id == -1, ~indexed)
    region = root["labels/region"][1].ravel()
    np.testing.assert_array_equal(xmap.prop["region"][indexed], region[indexed])
    # Bruker (0.5, 0.25, 0.55) on a square detector is TSL (0.5, 0.75, 0.55), plus jitter;
    # the header holds the scene's mean PC (it moves with the beam).
    lines = [ln.split() for ln in text.splitlines()]
    star = {w[1]: float(w[2]) for w in lines if len(w) == 3 and w[1].endswith("-star")}
    pc = np.asarray(root["labels/pc"][1], dtype=np.float64).reshape(-1, 3).mean(axis=0)
    np.testing.assert_allclose(
        [star["x-star"], star["y-star"], star["z-star"]], [pc[0], 1 - pc[1], pc[2]], atol=1e-6
    )


def test_euler_round_trips_at_singular_angles(tmp_path):
    """Φ = 0 and Φ = π: orix 0.15.0's to_euler is 1-2 rad off at Φ = π (found here)."""
    euler = np.array(
        [[0.3, 0.0, 0.2], [1.0, np.pi, 0.5], [2.0, np.pi / 2, 6.0], [5.9, 0.7, 0.0], [0, 0, 0]]
    )
    rot = Rotation.from_euler(euler)
    xmap = CrystalMap(
        rotations=rot,
        phase_id=np.zeros(5, int),
        x=np.arange(5.0),
        y=np.zeros(5),
        phase_list=PhaseList(get_phase("Li")),
        prop={"region": np.ones(5), "grain_id": np.arange(5)},
    )
    assert Rotation.from_euler(rot.to_euler()).angle_with(rot).max() > 0.5  # the orix error
    path = tmp_path / "singular.ang"
    write_ang(xmap, make_detector(), path)
    assert rot.angle_with(orix_io.load(path).rotations).max() < 2e-5
    h5 = tmp_path / "singular.h5"
    save_crystal_map(xmap, h5)
    assert rot.angle_with(orix_io.load(h5).rotations).max() < 1e-12


def test_bad_requests_are_refused(store, tmp_path):
    with pytest.raises(ValueError, match="format"):
        export_scene(store, 0, "ctf", tmp_path)
    with pytest.raises(ValueError, match="Scene 7 is not in"):
        export_scene(store, 7, "orix", tmp_path)
