"""The sample stream: PatternModel's intensities on the device, labels from the truth,
patterns independent of chunking, threads and data-set size, every tensor on its device."""

import numpy as np
import pytest
import torch
from orix.quaternion import Orientation

from synthebsd.config import PatternConfig
from synthebsd.conventions import Region
from synthebsd.datasets import PatternStream, expected_on_device


def _stream(config, cache, **kwargs):
    return PatternStream(config, seed=3, cache_dir=cache, **kwargs)


def _all(stream, scenes=None):
    chunks = list(stream.chunks(scenes))
    patterns = torch.cat([c.patterns for c in chunks])
    labels = {k: torch.cat([c.labels[k] for c in chunks]) for k in chunks[0].labels}
    return patterns, labels


@pytest.mark.parametrize("scene", [0, 1, 2])
def test_device_path_equals_pattern_model(make_dataset_config, dataset_cache, scene):
    """The stream's own λ (float32, on the device) is PatternModel.expected to rounding."""
    built = _stream(make_dataset_config(), dataset_cache).scene(scene)
    region = built.xmap.prop["region"]
    assert {Region.METAL, Region.COLLECTOR, Region.ELECTROLYTE} <= set(region.tolist())
    n = built.xmap.size
    ours = expected_on_device(built, 0, n).numpy()
    reference = built.model.expected(0, n)
    assert ours.dtype == np.float32
    np.testing.assert_allclose(ours, reference, rtol=2e-6)


def test_models_beyond_plain_go_through_pattern_model(make_dataset_config, dataset_cache):
    patterns = PatternConfig(damage={"enabled": True}, mixing={"enabled": True})
    built = _stream(make_dataset_config(patterns=patterns), dataset_cache).scene(0)
    assert not built.model.plain
    ours = expected_on_device(built, 20, 60).numpy()
    np.testing.assert_allclose(ours, built.model.expected(20, 60), rtol=1e-6)


def test_labels_are_the_ground_truth(make_dataset_config, dataset_cache):
    stream = _stream(make_dataset_config(), dataset_cache)
    built = stream.scene(1)
    _, labels = _all(stream, [1])
    xmap = built.xmap
    np.testing.assert_array_equal(labels["phase_id"].numpy(), xmap.phase_id)
    np.testing.assert_array_equal(labels["region"].numpy(), xmap.prop["region"])
    np.testing.assert_array_equal(labels["pore"].numpy(), xmap.prop["pore"] == 1)
    np.testing.assert_array_equal(labels["grain_id"].numpy(), xmap.prop["grain_id"])
    assert labels["pore"].any() and labels["phase_id"].dtype == torch.int64
    q = labels["quaternion"].numpy().astype(np.float64)
    np.testing.assert_allclose(q, xmap.rotations.data, atol=1e-7)
    # The FZ quaternion is the same orientation, inside the fundamental zone.
    for pid, phase in xmap.phases:
        sel = xmap.phase_id == pid
        if pid < 0 or not sel.any():
            continue
        sym = phase.point_group
        ori = Orientation(q[sel], symmetry=sym)
        fz = labels["quaternion_fz"].numpy()[sel].astype(np.float64)
        assert np.degrees(ori.angle_with(Orientation(fz, symmetry=sym))).max() < 1e-3
        # orix's reduce(), up to the sign of the quaternion (ours has w >= 0).
        reduced = ori.reduce().data * np.sign(ori.reduce().data[:, :1])
        np.testing.assert_allclose(fz, reduced, atol=1e-6)
        assert np.all(fz[:, 0] >= 0)
    pc = labels["pc"].numpy()
    # The PC each pattern was rendered with: its beam position's, a pore's lowered.
    rendered = np.asarray(built.model.render_detector.pc, dtype=np.float64).reshape(-1, 3)
    np.testing.assert_allclose(pc, rendered, rtol=1e-6)
    assert np.ptp(pc[:, 0]) > 0  # the PC moves with the beam
    np.testing.assert_array_equal(labels["dose_e_per_nm2"].numpy(), 0)
    np.testing.assert_array_equal(labels["mixing_self_weight"].numpy(), 1)
    rows, cols = np.divmod(np.arange(xmap.size), xmap.shape[1])
    np.testing.assert_array_equal(labels["row"].numpy(), rows)
    np.testing.assert_array_equal(labels["col"].numpy(), cols)
    np.testing.assert_array_equal(labels["scene"].numpy(), 1)


def test_patterns_independent_of_chunking_threads_and_size(make_dataset_config, dataset_cache):
    base = _all(_stream(make_dataset_config(rows_per_chunk=4), dataset_cache, num_threads=1))
    others = [
        _stream(make_dataset_config(rows_per_chunk=16), dataset_cache, num_threads=2),
        _stream(make_dataset_config(rows_per_chunk=3), dataset_cache, num_threads=2),
    ]
    for stream in others:
        patterns, labels = _all(stream)
        assert torch.equal(patterns, base[0])
        for key, values in labels.items():
            assert torch.equal(values, base[1][key]), key
    # Scene 2 of a larger data set is the same scene, noise included.
    larger = _stream(make_dataset_config(n_scenes=5), dataset_cache, num_threads=1)
    patterns, _ = _all(larger, [2])
    assert torch.equal(patterns, base[0][base[1]["scene"] == 2])
    assert not torch.equal(patterns, base[0][base[1]["scene"] == 1])


def test_noise_is_poisson_about_the_model(make_dataset_config, dataset_cache):
    stream = _stream(make_dataset_config(), dataset_cache)
    built = stream.scene(0)
    lam = built.model.expected(0, built.xmap.size)
    patterns, _ = _all(stream, [0])
    lit = lam > 0  # fully rim-shadowed pore pixels receive nothing
    assert np.all(patterns.numpy()[~lit] == 0)
    z = (patterns.numpy().astype(np.float64)[lit] - lam[lit]) / np.sqrt(lam[lit])
    assert abs(z.mean()) < 0.01 and abs(z.var() - 1) < 0.02
    assert np.all(patterns.numpy() == np.round(patterns.numpy()))


def test_every_tensor_follows_the_device(make_dataset_config, dataset_cache):
    """On torch's meta device (which fails on any CPU/device mix, as a GPU would)."""
    stream = _stream(make_dataset_config(n_scenes=1), dataset_cache, device="meta")
    chunk = next(iter(stream.chunks()))
    assert chunk.patterns.device.type == "meta"
    assert chunk.patterns.shape == (4 * 20, 32, 32)
    assert all(v.device.type == "meta" for v in chunk.labels.values())


@pytest.mark.parametrize("name", ["Li", "LPSCl", "NZSP"])
def test_fundamental_zone_is_orix_reduce(name):
    from synthebsd.datasets import fundamental_zone
    from synthebsd.phases import get_phase
    from synthebsd.simulate import random_rotations

    q = random_rotations(500, np.random.default_rng(2)).data
    pg = get_phase(name).point_group
    reduced = Orientation(q, symmetry=pg).reduce().data
    ours = fundamental_zone(q, pg)
    np.testing.assert_allclose(ours, reduced * np.sign(reduced[:, :1]), atol=1e-12)
