import numpy as np
import pytest
from orix.quaternion import Orientation, Rotation

from synthebsd.analyze import pattern_ncc as ncc
from synthebsd.config import PatternConfig
from synthebsd.conventions import Region
from synthebsd.simulate import (
    backscatter_background,
    project_kikuchi_signal,
    random_rotations,
    render_patterns,
    simulate_patterns,
)


@pytest.fixture(scope="module")
def small_scene(make_cell):
    return make_cell(
        shape_px=(16, 12),
        step_size_um=1.0,
        collector_um=4,
        metal_um=8,
        porosity=0.1,
        pore_diameter_um=3.0,
        metal_ecd_um=3.0,
        collector_ecd_um=2.0,
        electrolyte_ecd_um=2.0,
        seed=2,
    )


@pytest.fixture(scope="module")
def scene_mps(small_scene, master_patterns):
    return {pid: master_patterns[ph.name] for pid, ph in small_scene.phases if pid >= 0}


@pytest.mark.parametrize("phase", ["Li", "Cu"])
def test_symmetry_equivalent_orientations_give_identical_patterns(
    phase, master_patterns, detector
):
    mp = master_patterns[phase]
    rot = random_rotations(5, np.random.default_rng(1))
    ops = Rotation(mp.phase.point_group.proper_subgroup.data)
    p1 = project_kikuchi_signal(mp, rot, detector, 20.0)
    # Operations that map the square Lambert grid onto itself (rotations about [001], and
    # 2-folds in the (001) plane) give identical patterns; the others need interpolation
    # between Lambert pixels, which costs a little at a finite master-pattern resolution.
    axis_z = np.abs(ops.axis.data[:, 2])
    on_grid = np.isclose(ops.angle, 0) | np.isclose(axis_z, 1)
    on_grid |= np.isclose(ops.angle, np.pi) & np.isclose(axis_z, 0)
    o1 = Orientation(rot, symmetry=mp.phase.point_group)
    for op, exact in zip(ops, on_grid, strict=True):
        equivalent = op * rot
        # orix agrees these are the same crystal orientation...
        o2 = Orientation(equivalent, symmetry=mp.phase.point_group)
        assert np.allclose(o1.angle_with(o2, degrees=True), 0, atol=1e-4)
        # ...and the projected patterns agree.
        p2 = project_kikuchi_signal(mp, equivalent, detector, 20.0)
        assert ncc(p1, p2).min() > (0.99999 if exact else 0.99)
    assert on_grid.sum() == 8  # identity, 3 about [001], 2-folds [100], [010], [110], [1-10]


def test_different_orientations_give_different_patterns(master_patterns, detector):
    rot = random_rotations(10, np.random.default_rng(2))
    p = project_kikuchi_signal(master_patterns["Li"], rot, detector, 20.0)
    assert ncc(p[:5], p[5:]).max() < 0.9


def test_background_peaks_towards_the_sample(detector):
    bg = backscatter_background(detector, 35.0)
    assert bg.shape == detector.shape
    assert 0 < bg.min() and bg.max() <= 1
    # At 70° tilt the specular direction lies below the detector: bottom rows brighter.
    assert bg[-1].mean() > 2 * bg[0].mean()
    # Symmetric left-right for PCx = 0.5 and no camera tilt.
    assert np.allclose(bg, bg[:, ::-1])


def test_amorphous_electrolyte_is_background_only(small_scene, scene_mps, detector):
    cfg = PatternConfig(dose_counts=20000)
    n = small_scene.size
    patterns = render_patterns(small_scene, scene_mps, detector, cfg, 20.0, 0, 0, n).astype(float)
    region = small_scene.prop["region"]
    bg = backscatter_background(detector, cfg.background_sigma_deg)

    def reduced_chi2(i, level):
        lam = cfg.dose_counts * level * bg
        return np.mean((patterns[i] - lam) ** 2 / lam)

    electrolyte = np.nonzero(region == Region.ELECTROLYTE)[0]
    metal = np.nonzero(region == Region.METAL)[0]
    assert electrolyte.size and metal.size
    # Background only: residuals are pure Poisson noise (χ²/N ≈ 1 ± a few / sqrt(3600)).
    for i in electrolyte[:10]:
        assert abs(reduced_chi2(i, cfg.electrolyte_intensity) - 1) < 0.15
    # Crystal points carry Kikuchi bands: far more variance than Poisson around the background.
    for i in metal[:10]:
        assert reduced_chi2(i, 1.0) > 10


def test_pores_show_the_grain_beneath(small_scene, scene_mps, detector):
    """Pore patterns are not blank: after background removal they correlate with the
    grain at the pore's floor, projected at the pore's own (lowered) PC, far better than
    with a random orientation."""
    from synthebsd.config import DetectorConfig
    from synthebsd.simulate import PatternModel, map_detector, pattern_ground_truth, pore_shadow

    cfg = PatternConfig(dose_counts=1000)
    det = map_detector(DetectorConfig(), small_scene.shape, (small_scene.dy, small_scene.dx))
    model = PatternModel(small_scene, scene_mps, det, cfg, 20.0)
    pores = np.nonzero(small_scene.prop["region"] == Region.PORE)[0]
    assert pores.size >= 3
    noisy = render_patterns(small_scene, scene_mps, det, cfg, 20.0, 0, 0, small_scene.size, model)
    truth = pattern_ground_truth(model)
    floor = truth["diffracting_point"][pores]
    assert np.all(small_scene.prop["region"][floor] == Region.METAL)
    mp = scene_mps[0]
    nominal = det.deepcopy()
    rng = np.random.default_rng(3)
    for i, j in zip(pores, floor, strict=True):
        one = nominal.deepcopy()
        one.pc = truth["pc_bruker"][i]
        beneath = project_kikuchi_signal(mp, small_scene.rotations[j], one, 20.0, 2, 0.5)[0]
        others = project_kikuchi_signal(mp, random_rotations(20, rng), one, 20.0, 2, 0.5)
        # The smooth background and rim shadow divided out, where the rim lets through.
        shadow = pore_shadow(det, model.diffracting.shadow_ratio[i])
        lit = shadow > 0.5
        assert lit.mean() > 0.3
        bands = noisy[i][lit] / (model.backgrounds(np.array([i]))[0] * shadow)[lit]
        own = ncc(bands, beneath[lit])
        assert own > 0.5
        assert own > ncc(bands[None, None], others[:, None, lit]).max() + 0.3


def test_poisson_statistics(master_patterns, detector, make_cell):
    # Many noisy copies of one background-only pattern (the electrolyte is not indexable
    # here): mean = variance = expected counts per pixel.
    xmap = make_cell(shape_px=(20, 20), collector_um=0.5, metal_um=4.0, seed=0)
    mps = {0: master_patterns["Li"], 1: master_patterns["Cu"]}
    cfg = PatternConfig(dose_counts=50)
    rows = np.nonzero(xmap.prop["region"] == Region.ELECTROLYTE)[0]
    p = render_patterns(xmap, mps, detector, cfg, 20.0, 5, 0, xmap.size)[rows].astype(float)
    lam = 50 * backscatter_background(detector, cfg.background_sigma_deg)
    mean, var = p.mean(0), p.var(0, ddof=1)
    n = p.shape[0]
    assert np.abs(mean - lam).mean() < 3 * np.sqrt(lam / n).mean()
    assert np.isclose(var.mean() / lam.mean(), 1.0, atol=0.05)


def test_seed_determinism_and_chunk_invariance(small_scene, scene_mps, detector):
    a = simulate_patterns(small_scene, scene_mps, detector, PatternConfig(chunk_size=24), seed=4)
    b = simulate_patterns(small_scene, scene_mps, detector, PatternConfig(chunk_size=1000), seed=4)
    c = simulate_patterns(small_scene, scene_mps, detector, PatternConfig(chunk_size=24), seed=5)
    assert a.data.chunks[0] != b.data.chunks[0]
    da, db, dc = (s.data.compute() for s in (a, b, c))
    assert da.dtype == np.uint16 and da.shape == (16, 12, 60, 60)
    assert np.array_equal(da, db)
    assert not np.array_equal(da, dc)


def test_a_map_builds_one_renderer_per_phase(small_scene, scene_mps, detector, monkeypatch):
    # Master-pattern images go to the device once per map, not once per chunk (on a GPU
    # that would re-upload them for every block).
    from synthebsd.simulate.patterns import _renderer

    built = []
    original = _renderer.KikuchiRenderer.__init__

    def counting(self, *args, **kwargs):
        built.append(1)
        original(self, *args, **kwargs)

    monkeypatch.setattr(_renderer.KikuchiRenderer, "__init__", counting)
    s = simulate_patterns(small_scene, scene_mps, detector, PatternConfig(chunk_size=24), seed=4)
    assert len(s.data.chunks[0]) == 8
    s.data.compute()
    assert len(built) == len(scene_mps)


def test_signal_axes_and_detector(small_scene, scene_mps, detector):
    s = simulate_patterns(small_scene, scene_mps, detector, seed=0)
    x_axis, y_axis = s.axes_manager.navigation_axes
    assert (x_axis.name, y_axis.name) == ("x", "y")
    assert x_axis.size == 12 and y_axis.size == 16
    assert x_axis.scale == small_scene.dx and x_axis.units == "um"
    assert np.allclose(s.detector.pc, detector.pc)


def test_missing_master_pattern_is_an_error(small_scene, master_patterns, detector):
    with pytest.raises(ValueError, match="No master pattern given for phase id"):
        render_patterns(
            small_scene,
            {0: master_patterns["Li"]},
            detector,
            PatternConfig(),
            20.0,
            0,
            0,
            small_scene.size,
        )
