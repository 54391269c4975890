"""The microstructure generator against what was asked of it: grain sizes, porosity,
texture, determinism, sequences, and maps the pattern pipeline accepts."""

import numpy as np
import pytest
from orix.quaternion import Rotation

from synthebsd.analyze import (
    fibre_texture_spread,
    grain_mean_rotations,
    grain_size_distribution,
    pore_statistics,
)
from synthebsd.config import (
    GrainConfig,
    IntragranularConfig,
    LayerConfig,
    MicrostructureConfig,
    PoreConfig,
    SequenceConfig,
    TextureConfig,
)
from synthebsd.conventions import PHASE_IDS, Region
from synthebsd.phases import get_phase
from synthebsd.simulate import (
    generate_microstructure,
    plating_sequence,
    random_rotations,
    stripping_sequence,
)
from synthebsd.simulate.microstructure._interfaces import rough_profile
from synthebsd.simulate.microstructure._tessellation import (
    power_labels,
    prescribed_area_tessellation,
)


def _config(
    shape_px=(256, 256),
    metal_grains=None,
    metal_texture=None,
    porosity=0.0,
    step_size_um=0.25,
    **kw,
):
    """A cell whose metal fills 70 % of the map height, the collector 10 %."""
    height_um = shape_px[0] * step_size_um
    return MicrostructureConfig(
        shape_px=shape_px,
        step_size_um=step_size_um,
        collector=LayerConfig(
            phase="Cu",
            thickness_um=0.1 * height_um,
            grains=GrainConfig(mean_ecd_um=1.5, ecd_log_sigma=0.3),
        ),
        metal=LayerConfig(
            phase="Li",
            thickness_um=0.7 * height_um,
            grains=metal_grains or GrainConfig(mean_ecd_um=3.0, ecd_log_sigma=0.35),
            texture=metal_texture or TextureConfig(),
            intragranular=kw.pop("intragranular", IntragranularConfig()),
        ),
        electrolyte=LayerConfig(
            phase="LLZTO", grains=GrainConfig(mean_ecd_um=2.0, ecd_log_sigma=0.3), amorphous=True
        ),
        pores=PoreConfig(porosity=porosity, mean_diameter_um=2.0, diameter_log_sigma=0.3),
        **kw,
    )


def test_power_labels_are_the_power_diagram():
    rng = np.random.default_rng(0)
    points = rng.uniform(0, 50, (2000, 2))
    seeds = rng.uniform(0, 50, (40, 2))
    weights = rng.uniform(-30, 30, 40)
    power = np.sum((points[:, None] - seeds[None]) ** 2, axis=-1) - weights[None]
    assert np.array_equal(power_labels(points, seeds, weights), power.argmin(axis=1))


def test_prescribed_areas_are_met():
    rng = np.random.default_rng(1)
    yy, xx = np.mgrid[0:120, 0:120]
    points = np.column_stack([xx.ravel(), yy.ravel()]).astype(float)
    target = rng.lognormal(np.log(150), 0.4, 80)
    target *= len(points) / target.sum()
    labels, _, _ = prescribed_area_tessellation(points, target, rng)
    area = np.bincount(labels, minlength=len(target))
    assert np.median(np.abs(area - target) / target) < 0.15
    # Large and small cells stay large and small.
    assert np.corrcoef(area, target)[0, 1] > 0.9


@pytest.mark.parametrize(
    "grains",
    [
        GrainConfig(mean_ecd_um=3.0, ecd_log_sigma=0.35),
        GrainConfig(mean_ecd_um=2.5, ecd_log_sigma=0.5),
        GrainConfig(mean_ecd_um=3.0, ecd_log_sigma=0.35, shape="columnar", aspect_ratio=3.0),
    ],
    ids=["equiaxed", "wide", "columnar"],
)
def test_grain_size_distribution_matches_request(grains):
    xmap = generate_microstructure(_config(metal_grains=grains), seed=4)
    measured = grain_size_distribution(xmap, region=Region.METAL)
    assert measured["n_grains"] > 200
    assert measured["mean_ecd_um"] == pytest.approx(grains.mean_ecd_um, rel=0.10)
    assert measured["log_sigma"] == pytest.approx(grains.ecd_log_sigma, abs=0.1)
    collector = grain_size_distribution(xmap, region=Region.COLLECTOR)
    assert collector["mean_ecd_um"] == pytest.approx(1.5, rel=0.10)
    # Electrolyte grains are cut by the top of the map (the layer extends above it for
    # sequences), so their sections are a little smaller.
    electrolyte = grain_size_distribution(xmap, region=Region.ELECTROLYTE)
    assert electrolyte["mean_ecd_um"] == pytest.approx(2.0, rel=0.15)


def test_columnar_grains_are_elongated_along_growth():
    from skimage.measure import regionprops

    grains = GrainConfig(mean_ecd_um=3.0, ecd_log_sigma=0.3, shape="columnar", aspect_ratio=3.0)
    xmap = generate_microstructure(_config(metal_grains=grains), seed=2)
    gid = xmap.prop["grain_id"].reshape(xmap.shape)
    region = xmap.prop["region"].reshape(xmap.shape)
    ratios = []
    for p in regionprops(np.where(region == Region.METAL, gid + 1, 0)):
        if p.area > 50:
            rr, cc = p.coords[:, 0], p.coords[:, 1]
            ratios.append(rr.std() / max(cc.std(), 1e-9))
    # Height/width of a 3:1 ellipse; the layer's bounds cut some grains short.
    assert 2.0 < np.median(ratios) < 3.5


@pytest.mark.parametrize("porosity", [0.05, 0.2])
def test_porosity_matches_request(porosity):
    xmap = generate_microstructure(_config(shape_px=(128, 256), porosity=porosity), seed=3)
    stats = pore_statistics(xmap)
    # Voids open until the last one's radius brings the count to the nearest pixel.
    n = int(np.isin(xmap.prop["region"], [Region.METAL, Region.PORE]).sum())
    assert abs(stats["porosity"] - porosity) * n <= 0.5 + 1e-9
    pore = xmap.prop["pore"].astype(bool)
    assert np.all(xmap.prop["region"][pore] == Region.PORE)
    assert np.all(xmap.phase_id[pore] == -1) and np.all(xmap.prop["grain_id"][pore] == -1)
    # Voids open at the metal|electrolyte interface: every pore piece touches electrolyte.
    region = xmap.prop["region"].reshape(xmap.shape)
    from skimage.measure import label

    pieces = label(region == Region.PORE, connectivity=2)
    above = np.zeros_like(region, dtype=bool)
    above[:-1] = region[1:] == Region.PORE  # pixel directly above a pore pixel
    for k in range(1, pieces.max() + 1):
        piece = pieces == k
        top = np.zeros_like(piece)
        top[:-1] = piece[1:]
        assert np.any(region[top & ~piece] == Region.ELECTROLYTE), k


@pytest.mark.parametrize(("uvw", "spread_deg"), [((1, 1, 0), 5.0), ((1, 0, 0), 12.0)])
def test_fibre_texture_spread_is_measured_back(uvw, spread_deg):
    texture = TextureConfig(
        kind="fibre",
        crystal_direction_uvw=uvw,
        sample_direction_xyz=(0, -1, 0),
        spread_deg=spread_deg,
    )
    intra = IntragranularConfig(
        gradient_deg=1.0, subgrain_size_um=1.0, subgrain_misorientation_deg=0.5
    )
    xmap = generate_microstructure(_config(metal_texture=texture, intragranular=intra), seed=5)
    gid, region = xmap.prop["grain_id"], xmap.prop["region"]
    ids = np.unique(gid[region == Region.METAL])
    rot = grain_mean_rotations(xmap, ids)
    spread = fibre_texture_spread(rot, get_phase("Li"), uvw, (0, -1, 0))
    assert len(ids) > 200
    assert spread["spread_deg"] == pytest.approx(spread_deg, rel=0.20)
    # A uniform texture measured the same way is far from the fibre (17° for <110>,
    # 24° for <100>: symmetry caps the angle to the nearest equivalent axis).
    uniform = generate_microstructure(_config(), seed=5)
    ids = np.unique(uniform.prop["grain_id"][uniform.prop["region"] == Region.METAL])
    far = fibre_texture_spread(
        grain_mean_rotations(uniform, ids), get_phase("Li"), uvw, (0, -1, 0)
    )
    assert far["spread_deg"] > 1.6 * spread["spread_deg"]


def test_same_seed_same_scene_other_seed_other_scene():
    cfg = _config(shape_px=(96, 128), porosity=0.1)
    a, b, c = (generate_microstructure(cfg, seed=s) for s in (11, 11, 12))
    for name in ("grain_id", "region", "pore", "misorientation_deg"):
        assert np.array_equal(a.prop[name], b.prop[name])
    assert np.array_equal(a.rotations.data, b.rotations.data)
    assert np.array_equal(a.phase_id, b.phase_id)
    assert not np.array_equal(a.prop["grain_id"], c.prop["grain_id"])
    assert not np.allclose(a.rotations.data, c.rotations.data)
    # A generator works as a seed too, and equals the integer seed's stream.
    d = generate_microstructure(cfg, seed=np.random.default_rng(11))
    assert np.array_equal(a.rotations.data, d.rotations.data)


def test_map_layout_phases_and_grains():
    intra = IntragranularConfig(
        gradient_deg=3.0, subgrain_size_um=1.0, subgrain_misorientation_deg=1.0
    )
    cfg = _config(shape_px=(128, 160), porosity=0.05, intragranular=intra)
    xmap = generate_microstructure(cfg, seed=0)
    region = xmap.prop["region"].reshape(xmap.shape)
    assert np.all(region[-1] == Region.COLLECTOR) and np.all(region[0] == Region.ELECTROLYTE)
    assert xmap.phases[PHASE_IDS["metal"]].name == "Li"
    assert xmap.phases[PHASE_IDS["collector"]].name == "Cu"
    assert PHASE_IDS["electrolyte"] not in xmap.phases.ids  # amorphous here
    pid = xmap.phase_id
    reg = xmap.prop["region"]
    assert np.all(pid[reg == Region.METAL] == 0) and np.all(pid[reg == Region.COLLECTOR] == 1)
    assert np.all(pid[(reg == Region.PORE) | (reg == Region.ELECTROLYTE)] == -1)
    gid = xmap.prop["grain_id"]
    assert np.all(gid[reg != Region.PORE] >= 0)
    for code in (Region.COLLECTOR, Region.METAL, Region.ELECTROLYTE):
        others = set(gid[(reg != code) & (gid >= 0)])
        assert not set(gid[reg == code]) & others
    assert np.allclose(np.linalg.norm(xmap.rotations.data, axis=1), 1)
    mis = xmap.prop["misorientation_deg"]
    assert np.all(mis[reg != Region.METAL] == 0)
    assert 0.3 < mis[reg == Region.METAL].mean() < 5.0
    # Within a grain the orientations spread by the intragranular misorientation only:
    # low-angle everywhere.
    assert mis.max() < 15.0


def test_no_intragranular_misorientation_means_one_orientation_per_grain():
    xmap = generate_microstructure(_config(shape_px=(64, 96)), seed=1)
    gid = xmap.prop["grain_id"]
    q = xmap.rotations.data
    for g in np.unique(gid[gid >= 0])[::7]:
        assert np.allclose(q[gid == g], q[gid == g][0])
    assert np.all(xmap.prop["misorientation_deg"] == 0)


def test_crystalline_electrolyte_has_its_phase_id():
    cfg = _config(shape_px=(64, 64))
    cfg = cfg.model_copy(
        update={"electrolyte": cfg.electrolyte.model_copy(update={"amorphous": False})}
    )
    xmap = generate_microstructure(cfg, seed=0)
    assert xmap.phases[PHASE_IDS["electrolyte"]].name == "LLZTO"
    assert np.all(xmap.phase_id[xmap.prop["region"] == Region.ELECTROLYTE] == 2)


def test_rough_interface_amplitude_and_correlation_length():
    rng = np.random.default_rng(0)
    profile = rough_profile(20000, 3.0, 40.0, rng)
    assert profile.std() == pytest.approx(3.0, rel=1e-6)
    f = np.fft.rfft(profile - profile.mean())
    acf = np.fft.irfft(np.abs(f) ** 2, n=profile.size)
    acf /= acf[0]
    assert acf[40] == pytest.approx(np.exp(-1), abs=0.08)
    assert rough_profile(100, 0.0, 10.0, rng).max() == 0.0


def _shared_pixels_agree(a, b):
    ga, gb = a.prop["grain_id"], b.prop["grain_id"]
    both = (ga == gb) & (ga >= 0)
    return both.sum() > 0 and np.allclose(a.rotations.data[both], b.rotations.data[both])


def test_plating_sequence():
    cfg = _config(
        shape_px=(128, 128),
        metal_grains=GrainConfig(mean_ecd_um=3.0, shape="columnar", aspect_ratio=2.0),
        intragranular=IntragranularConfig(gradient_deg=2.0),
        sequence=SequenceConfig(initial_thickness_fraction=0.2, consumed_fraction=0.5),
    )
    frames = plating_sequence(cfg, 4, seed=2)
    assert [f.frame for f in frames] == [0, 1, 2, 3]
    metal_area = [np.sum(f.prop["region"] == Region.METAL) for f in frames]
    assert np.all(np.diff(metal_area) > 0)
    top_electrolyte_rows = [
        np.argmax(f.prop["region"].reshape(f.shape)[:, 0] != Region.ELECTROLYTE) for f in frames
    ]
    assert np.all(np.diff(top_electrolyte_rows) < 0)  # the electrolyte is lifted
    for a, b in zip(frames[:-1], frames[1:], strict=True):
        assert _shared_pixels_agree(a, b)
    # Coarsening: some early metal grains are consumed, and the last frame is the scene.
    early = set(frames[0].prop["grain_id"][frames[0].prop["region"] == Region.METAL])
    late = set(frames[-1].prop["grain_id"][frames[-1].prop["region"] == Region.METAL])
    assert early - late
    scene = generate_microstructure(cfg, seed=2)
    assert np.array_equal(scene.prop["grain_id"], frames[-1].prop["grain_id"])
    assert np.array_equal(scene.rotations.data, frames[-1].rotations.data)


def test_stripping_sequence():
    cfg = _config(
        shape_px=(128, 128),
        porosity=0.12,
        intragranular=IntragranularConfig(gradient_deg=2.0, subgrain_size_um=1.0),
        sequence=SequenceConfig(stripped_thickness_um=6.0),
    )
    frames = stripping_sequence(cfg, 4, seed=6)
    assert [f.frame for f in frames] == [0, 1, 2, 3]
    metal_area = [np.sum(f.prop["region"] == Region.METAL) for f in frames]
    porosity = [pore_statistics(f)["porosity"] for f in frames]
    assert np.all(np.diff(metal_area) < 0)
    assert porosity[0] == 0 and np.all(np.diff(porosity) > 0)
    last = frames[-1].prop["region"]
    n = int(np.isin(last, [Region.METAL, Region.PORE]).sum())
    assert abs(porosity[-1] - 0.12) * n <= 0.5 + 1e-9
    for a, b in zip(frames[:-1], frames[1:], strict=True):
        assert _shared_pixels_agree(a, b)
    # Grain ids of the collector and of the surviving metal are kept.
    c0 = frames[0].prop["grain_id"][frames[0].prop["region"] == Region.COLLECTOR]
    c3 = frames[-1].prop["grain_id"][frames[-1].prop["region"] == Region.COLLECTOR]
    assert np.array_equal(c0, c3)


def test_sampled_texture_from_set_and_file(tmp_path):
    euler = np.array([[10.0, 20.0, 30.0], [100.0, 40.0, 5.0]])
    path = tmp_path / "euler.txt"
    np.savetxt(path, euler, header="phi1 Phi phi2 (degrees)")
    texture = TextureConfig(kind="sampled", orientations_file=path)
    xmap = generate_microstructure(_config(shape_px=(64, 64), metal_texture=texture), seed=0)
    allowed = Rotation.from_euler(np.deg2rad(euler)).data
    q = xmap.rotations.data[xmap.prop["region"] == Region.METAL]
    dist = np.min(np.abs(np.abs(q @ allowed.T) - 1), axis=1)
    assert np.all(dist < 1e-9)

    given = Rotation.from_axes_angles([0, 0, 1], [0.3])
    xmap = generate_microstructure(
        _config(shape_px=(64, 64), metal_texture=TextureConfig(kind="sampled")),
        seed=0,
        orientation_sets={"metal": given},
    )
    q = xmap.rotations.data[xmap.prop["region"] == Region.METAL]
    assert np.allclose(np.abs(q @ given.data.T), 1)
    # From an orix HDF5 map: the orientations of its Li points.
    from synthebsd.io import save_crystal_map

    source = generate_microstructure(_config(shape_px=(48, 48)), seed=9)
    save_crystal_map(source, tmp_path / "source.h5")
    texture = TextureConfig(kind="sampled", orientations_file=tmp_path / "source.h5")
    xmap = generate_microstructure(_config(shape_px=(64, 64), metal_texture=texture), seed=0)
    allowed = source.rotations.data[source.phase_id == 0]
    q = xmap.rotations.data[xmap.prop["region"] == Region.METAL]
    assert np.all(np.min(np.abs(np.abs(q @ allowed.T) - 1), axis=1) < 1e-9)
    with pytest.raises(ValueError, match="orientations_file"):
        generate_microstructure(
            _config(shape_px=(64, 64), metal_texture=TextureConfig(kind="sampled")), seed=0
        )


def test_generated_map_feeds_the_pattern_renderer(master_patterns, detector):
    from synthebsd.config import PatternConfig
    from synthebsd.simulate import simulate_patterns

    cfg = _config(shape_px=(24, 16), porosity=0.1, step_size_um=0.5)
    xmap = generate_microstructure(cfg, seed=0)
    assert set(np.unique(xmap.phase_id)) <= {-1, 0, 1}
    mps = {0: master_patterns["Li"], 1: master_patterns["Cu"]}
    signal = simulate_patterns(xmap, mps, detector, PatternConfig(dose_counts=100), seed=0)
    data = np.asarray(signal.data.compute())
    assert data.shape[:2] == xmap.shape
    assert np.all(np.isfinite(data))
    # Patterns of two metal grains differ (their orientations differ).
    gid = xmap.prop["grain_id"].reshape(xmap.shape)
    metal = xmap.phase_id.reshape(xmap.shape) == 0
    grains = np.unique(gid[metal])
    assert grains.size >= 2
    a = data[gid == grains[0]][0].astype(float).ravel()
    b = data[gid == grains[1]][0].astype(float).ravel()
    assert np.corrcoef(a, b)[0, 1] < 0.95


def test_pristine_cell_without_metal():
    cfg = _config(shape_px=(64, 64), porosity=0.1)
    cfg = cfg.model_copy(update={"metal": cfg.metal.model_copy(update={"thickness_um": 0.0})})
    xmap = generate_microstructure(cfg, seed=0)
    assert set(np.unique(xmap.prop["region"])) == {Region.COLLECTOR, Region.ELECTROLYTE}
    assert xmap.prop["pore"].sum() == 0
    with pytest.raises(ValueError, match="exceeds the metal thickness"):
        stripping_sequence(cfg, 3, seed=0)


def test_random_rotations_are_uniform():
    # Uniform (Haar) rotations have rotation angles with mean π/2 + 2/π ≈ 2.207 rad.
    rot = random_rotations(20000, np.random.default_rng(0))
    assert np.isclose(rot.angle.mean(), np.pi / 2 + 2 / np.pi, atol=0.02)
    assert np.allclose(np.linalg.norm(rot.data, axis=1), 1)
