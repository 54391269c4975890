"""Measurement functions on maps whose answers are known by construction."""

import numpy as np
import pytest
from orix.crystal_map import CrystalMap, PhaseList
from orix.quaternion import Rotation
from orix.vector import Vector3d

from synthebsd.analyze import (
    fibre_texture_spread,
    grain_mean_rotations,
    grain_reference_misorientation,
    grain_size_distribution,
    microstructure_statistics,
    pore_statistics,
)
from synthebsd.phases import get_phase


def _map(grain_id, region, pore=None, rotations=None, step=0.5):
    shape = grain_id.shape
    n = grain_id.size
    y, x = np.meshgrid(np.arange(shape[0]) * step, np.arange(shape[1]) * step, indexing="ij")
    rot = rotations if rotations is not None else Rotation.identity((n,))
    return CrystalMap(
        rotations=rot,
        phase_id=np.where(grain_id.ravel() >= 0, 0, -1),
        x=x.ravel(),
        y=y.ravel(),
        phase_list=PhaseList(phases=[get_phase("Li")], ids=[0]),
        prop={
            "grain_id": grain_id.ravel(),
            "region": region.ravel(),
            "pore": (pore if pore is not None else np.zeros(shape, int)).ravel(),
        },
    )


def test_grain_size_of_square_grains():
    # 3 x 4 blocks of 10 x 10 px at 0.5 µm: every grain is 25 µm², ECD √(100/π) µm.
    gid = np.kron(np.arange(12).reshape(3, 4), np.ones((10, 10), int))
    xmap = _map(gid, np.ones_like(gid))
    stats = grain_size_distribution(xmap)
    assert stats["n_grains"] == 12
    assert np.allclose(stats["ecd_um"], np.sqrt(100 / np.pi))
    assert stats["log_sigma"] == pytest.approx(0.0, abs=1e-12)
    inner = grain_size_distribution(xmap, exclude_edge_grains=True)
    assert inner["n_grains"] == 2 and inner["n_excluded_edge"] == 10
    # Region filter: grains mostly in another region are left out.
    region = np.ones_like(gid)
    region[:10] = 0
    assert grain_size_distribution(_map(gid, region), region=1)["n_grains"] == 8


def test_pore_statistics():
    region = np.ones((20, 20), int)  # metal
    region[:5] = 3  # electrolyte
    pore = np.zeros((20, 20), int)
    pore[5:8, 2:5] = 1  # 9 px
    pore[5:7, 10:12] = 1  # 4 px
    region[pore == 1] = 2
    gid = np.where(pore == 1, -1, 0)
    stats = pore_statistics(_map(gid, region, pore))
    assert stats["porosity"] == pytest.approx(13 / (13 + 15 * 20 - 13))
    assert stats["n_pores"] == 2
    assert sorted(stats["pore_ecd_um"]) == pytest.approx(
        sorted(np.sqrt(4 * np.array([9, 4]) * 0.25 / np.pi))
    )
    assert stats["area_fraction"] == pytest.approx(13 / 400)


def test_fibre_spread_known_angles():
    li = get_phase("Li")
    # g·(0,-1,0) = [110]/√2 exactly, then tilted about x by known angles.
    from orix.quaternion import Orientation
    from orix.vector import Miller

    g0 = Orientation.from_align_vectors(Miller(uvw=[1, 1, 0], phase=li), Vector3d([0, -1, 0]))
    angles = np.array([0.0, 2.0, 4.0, 6.0])
    tilt = Rotation.from_axes_angles(Vector3d.xvector(), np.deg2rad(angles))
    rot = Rotation(g0.data) * tilt
    out = fibre_texture_spread(rot, li, (1, 1, 0), (0, -1, 0))
    assert np.allclose(out["angles_deg"], angles, atol=1e-6)
    assert out["spread_deg"] == pytest.approx(np.sqrt(np.mean(angles**2) / 2))
    # A symmetry-equivalent description of the same orientations measures the same.
    sym = Rotation(li.point_group[5].data) * rot
    again = fibre_texture_spread(sym, li, (1, 1, 0), (0, -1, 0))
    assert np.allclose(again["angles_deg"], angles, atol=1e-6)


def test_grain_mean_rotation_is_the_centre_of_a_symmetric_spread():
    g = Rotation.from_axes_angles([1, 2, 3], 0.7)
    spread = Rotation.from_axes_angles(
        [[0, 0, 1], [0, 0, 1], [0, 1, 0], [0, 1, 0]], 0.05 * np.array([1, -1, 1, -1])
    )
    pixels = g * spread
    data = pixels.data.copy()
    data[1] *= -1  # the same rotation, other hemisphere
    gid = np.zeros((2, 2), int)
    xmap = _map(gid, np.ones_like(gid), rotations=Rotation(data))
    mean = grain_mean_rotations(xmap)
    assert np.degrees((~g * mean).angle[0]) < 1e-6


def test_grain_reference_misorientation_of_a_known_spread():
    # Grain 0: its orientation g turned by ±2° about [001] (mean g): GROD 2° everywhere,
    # whatever the quaternion signs or a symmetry-equivalent copy of a pixel; grain 1: one
    # orientation, GROD 0.
    g = Rotation.from_axes_angles([1, 2, 3], 0.7)
    turns = Rotation.from_axes_angles([0, 0, 1], np.deg2rad([2, -2, 2, -2]))
    pixels = (g * turns).data
    pixels[1] *= -1
    ops = get_phase("Li").point_group
    pixels[2] = (Rotation(ops[5].data) * Rotation(pixels[2])).data
    other = np.tile(Rotation.from_axes_angles([0, 1, 0], 0.3).data, (4, 1))
    gid = np.array([[0, 0, 1, 1], [0, 0, 1, 1]])
    order = [0, 1, 4, 5, 2, 3, 6, 7]  # flat positions of grain 0, then grain 1
    data = np.empty((8, 4))
    data[order] = np.vstack([pixels, other])
    xmap = _map(gid, np.ones_like(gid), rotations=Rotation(data))
    grod = grain_reference_misorientation(xmap).reshape(gid.shape)
    assert np.allclose(grod[gid == 0], 2.0, atol=1e-6)
    assert np.allclose(grod[gid == 1], 0.0, atol=1e-6)
    gid_with_pore = gid.copy()
    gid_with_pore[0, 0] = -1
    xmap = _map(gid_with_pore, np.ones_like(gid), rotations=Rotation(data))
    assert np.isnan(grain_reference_misorientation(xmap)[0])


def test_statistics_of_a_generated_map_are_json_ready():
    import json

    from synthebsd.config import load_microstructure_config
    from synthebsd.simulate import generate_microstructure

    cfg = load_microstructure_config("cu_li_llzto").model_copy(update={"shape_px": (96, 128)})
    cfg = cfg.model_copy(update={"metal": cfg.metal.model_copy(update={"thickness_um": 10.0})})
    xmap = generate_microstructure(cfg, 0)
    stats = microstructure_statistics(xmap, cfg)
    assert json.loads(json.dumps(stats)) == stats
    assert set(stats["layers"]) == {"collector", "metal", "electrolyte"}
    metal = stats["layers"]["metal"]
    # Measured, not echoed: the metal's grain count is that of its distinct grain ids,
    # the pores those of the map's mask.
    region = np.asarray(xmap.prop["region"])
    gid = np.asarray(xmap.prop["grain_id"])
    ids = np.unique(gid[region == 1])
    assert metal["grains"]["measured"]["n_grains"] == ids.size
    pore = int(xmap.prop["pore"].sum())
    assert stats["pores"]["measured"]["porosity"] == pore / (pore + int((region == 1).sum()))
    # The preset's intragranular spread (2° gradient, 1° sub-grains) is measured back from
    # the orientations as a GROD of the order of a degree, not zero.
    assert 0.3 < metal["intragranular"]["measured"]["mean_grod_deg"] < 3.0
