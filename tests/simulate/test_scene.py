import numpy as np
import pytest

from synthebsd.config import SceneConfig
from synthebsd.simulate import Region, cross_section_scene, random_rotations


def test_scene_layers_and_properties():
    cfg = SceneConfig()
    xmap = cross_section_scene(cfg, seed=3)
    assert xmap.shape == cfg.shape_px
    assert xmap.dx == xmap.dy == cfg.step_size_um
    region = xmap.prop["region"].reshape(xmap.shape)
    # Collector at the bottom row, electrolyte in the top row.
    assert np.all(region[-1] == Region.COLLECTOR)
    assert np.all(region[0] == Region.ELECTROLYTE)
    # Phase ids follow the regions; pores and electrolyte are not indexable.
    pid = xmap.phase_id.reshape(xmap.shape)
    assert np.all(pid[region == Region.METAL] == 0)
    assert np.all(pid[region == Region.COLLECTOR] == 1)
    assert np.all(pid[(region == Region.PORE) | (region == Region.ELECTROLYTE)] == -1)
    assert xmap.phases[0].name == "Li" and xmap.phases[1].name == "Cu"
    # Pores are marked and touch the metal|electrolyte side, not the collector.
    pore = xmap.prop["pore"].reshape(xmap.shape).astype(bool)
    assert pore.sum() > 0
    assert np.array_equal(pore, region == Region.PORE)
    assert pore[: xmap.shape[0] // 2].sum() == pore.sum()


def test_grains_have_one_orientation_and_unique_ids():
    xmap = cross_section_scene(seed=1)
    gid = xmap.prop["grain_id"]
    assert np.all((gid >= 0) == (xmap.phase_id >= 0))
    for g in np.unique(gid[gid >= 0]):
        q = xmap.rotations.data[gid == g]
        assert np.allclose(q, q[0])
        assert len(np.unique(xmap.phase_id[gid == g])) == 1
    # Metal grain size: mean equivalent-circle diameter within a factor 1.5 of the request.
    cfg = SceneConfig()
    metal_ids = np.unique(gid[xmap.phase_id == 0])
    areas = np.array([np.sum(gid == g) for g in metal_ids]) * cfg.step_size_um**2
    ecd = np.sqrt(4 * areas / np.pi)
    assert cfg.metal_grain_size_um / 1.5 < ecd.mean() < cfg.metal_grain_size_um * 1.5


def test_scene_seed_determinism():
    a, b, c = (cross_section_scene(seed=s) for s in (7, 7, 8))
    assert np.array_equal(a.rotations.data, b.rotations.data)
    assert np.array_equal(a.prop["region"], b.prop["region"])
    assert not np.array_equal(a.prop["region"], c.prop["region"])


def test_random_rotations_are_uniform():
    # Uniform (Haar) rotations have rotation angles with mean π/2 + 2/π ≈ 2.207 rad.
    rot = random_rotations(20000, np.random.default_rng(0))
    assert np.isclose(rot.angle.mean(), np.pi / 2 + 2 / np.pi, atol=0.02)
    assert np.allclose(np.linalg.norm(rot.data, axis=1), 1)


def test_no_pores_when_none_requested():
    xmap = cross_section_scene(SceneConfig(pore_count=0), seed=0)
    assert xmap.prop["pore"].sum() == 0


@pytest.mark.parametrize("seed", [0, 1])
def test_grain_ids_unique_across_phases(seed):
    xmap = cross_section_scene(seed=seed)
    gid = xmap.prop["grain_id"]
    metal = set(gid[xmap.phase_id == 0])
    collector = set(gid[xmap.phase_id == 1])
    assert not metal & collector
