"""Each pattern-physics model changes the patterns in the direction it must, by the amount
its formula says; noise matches Poisson/Gaussian theory; seeds and chunks are harmless."""

import numpy as np
import pytest
from orix.crystal_map import CrystalMap
from orix.quaternion import Rotation
from pydantic import ValidationError
from scipy.ndimage import gaussian_filter

from synthebsd.analyze import pattern_ncc
from synthebsd.config import (
    BeamConfig,
    CameraConfig,
    DamageConfig,
    MixingConfig,
    PatternConfig,
    SurfaceLayerConfig,
)
from synthebsd.conventions import Region
from synthebsd.phases import get_phase_list
from synthebsd.simulate import (
    PatternModel,
    camera_counts,
    camera_moments,
    critical_dose,
    dose_map,
    max_transferred_energy_ev,
    pattern_ground_truth,
    pore_shadow,
    primary_electrons,
    project_kikuchi_signal,
    random_rotations,
    render_patterns,
    simulate_patterns,
)
from synthebsd.simulate.patterns._damage import default_footprints

NO_EXTRAS = {"blur_sigma_px": 0.0, "diffuse_background": 0.0}


def _map(labels: np.ndarray, rotations: Rotation, step_um=0.5, phase="Li", region=None):
    """A one-phase map from grain labels (−1: pore) and one rotation per grain."""
    n_rows, n_cols = labels.shape
    y, x = np.mgrid[0:n_rows, 0:n_cols] * step_um
    phase_id = np.where(labels >= 0, 0, -1)
    if region is None:
        region = np.where(labels >= 0, Region.METAL, Region.PORE)
    return CrystalMap(
        rotations=rotations[np.maximum(labels, 0).ravel()],
        phase_id=phase_id.ravel(),
        x=x.ravel(),
        y=y.ravel(),
        phase_list=get_phase_list([phase]),
        prop={"grain_id": labels.ravel(), "region": np.asarray(region).ravel()},
        scan_unit="um",
    )


@pytest.fixture(scope="module")
def rot2():
    return random_rotations(2, np.random.default_rng(11))


def _band_contrast(model: PatternModel, index: int) -> float:
    """Standard deviation of λ / (S·b·y) over the pattern: the Kikuchi modulation."""
    lam = model.expected(index, index + 1)[0]
    return float((lam / (model.scale * model.background)).std())


# --- camera and dose ---------------------------------------------------------------------


@pytest.mark.parametrize("mode", ["charge", "digital"])
def test_camera_noise_matches_poisson_and_gaussian_theory(mode):
    camera = CameraConfig(
        enabled=True,
        gain_adu_per_electron=2.5,
        read_noise_adu=3.0,
        offset_adu=100.0,
        bit_depth=16,
        binning=2,
        binning_mode=mode,
    )
    lam = np.full((400, 30, 30), 40.0)
    adu = camera_counts(lam, camera, seed=3, index=np.arange(400)).astype(float)
    mean, var = camera_moments(lam[0, 0, 0], camera)
    var += 1 / 12  # rounding to integers
    n = adu.size
    assert abs(adu.mean() - mean) < 4 * np.sqrt(var / n)
    assert adu.var() == pytest.approx(var, rel=0.02)
    # Digital binning reads every sensor pixel: 4 reads, 4× the read-noise variance.
    assert var == pytest.approx(2.5**2 * 40 + 9.0 * (1 if mode == "charge" else 4) + 1 / 12)


def test_camera_saturates_at_its_bit_depth_and_is_seeded():
    lam = np.full((5, 20, 20), 400.0)
    for bits in (8, 12):
        adu = camera_counts(
            lam, CameraConfig(enabled=True, bit_depth=bits), seed=1, index=np.arange(5)
        )
        assert adu.max() == 2**bits - 1 if bits == 8 else adu.max() < 2**bits - 1
    cam = CameraConfig(enabled=True)
    a = camera_counts(lam, cam, 1, np.arange(5))
    assert np.array_equal(a, camera_counts(lam, cam, 1, np.arange(5)))
    assert np.array_equal(a[2:], camera_counts(lam[2:], cam, 1, np.arange(2, 5)))
    assert not np.array_equal(a, camera_counts(lam, cam, 2, np.arange(5)))
    with pytest.raises(ValidationError):
        CameraConfig(bit_depth=10)


@pytest.mark.parametrize("camera", [False, True])
def test_more_dose_gives_higher_pattern_snr(camera, small_master_patterns, detector, rot2):
    xmap = _map(np.zeros((1, 4), int), rot2)
    mps = {0: small_master_patterns["Li"]}
    snr = []
    for current in (0.01, 0.1, 1.0):  # 12-bit camera: no saturation
        beam = BeamConfig(probe_current_na=current)
        cfg = PatternConfig(
            dose_counts=2000 * current, beam=beam, camera=CameraConfig(enabled=camera)
        )
        model = PatternModel(xmap, mps, detector, cfg, 20.0)
        clean = model.expected(0, 4)
        if camera:
            clean = clean * cfg.camera.gain_adu_per_electron
        noisy = render_patterns(xmap, mps, detector, cfg, 20.0, 7, 0, 4, model=model)
        noise = noisy.astype(float) - clean
        snr.append(float(np.std(clean - clean.mean(axis=(1, 2), keepdims=True)) / noise.std()))
        assert pattern_ncc(noisy, clean).min() > 0  # noisy patterns resemble the clean ones
    assert snr[0] < snr[1] < snr[2]
    assert 8 < snr[2] / snr[0] < 14  # √100 = 10; read noise weighs most at low dose


# --- beam damage ---------------------------------------------------------------------------


def test_dose_map_follows_the_scan_order(rot2):
    xmap = _map(np.zeros((6, 8), int), rot2)
    beam = BeamConfig()
    damage = DamageConfig(enabled=True)
    fp = default_footprints(xmap, 20.0, 70.0, beam, MixingConfig())
    dose = dose_map(xmap, fp, 70.0, beam, damage).reshape(6, 8)
    sx, sy = (s * 1e3 for s in fp[0])
    cos70 = np.cos(np.deg2rad(70))
    # Footprint, probe skirt and backscatter halo: peak densities of three 2-D Gaussians.
    p0 = (1 - damage.probe_tail_fraction - damage.halo_fraction) / (2 * np.pi * sx * sy)
    for f, s in (
        (damage.probe_tail_fraction, damage.probe_tail_sigma_um),
        (damage.halo_fraction, damage.halo_sigma_um),
    ):
        p0 += f / (2 * np.pi * (s * 1e3) ** 2 / cos70)
    assert dose[0, 0] == pytest.approx(0.5 * primary_electrons(beam) * p0)  # first point
    assert np.all(np.diff(dose[0]) > 0)  # more earlier neighbours along the first row
    assert dose[3, 4] > dose[0, 4]
    snake = dose_map(xmap, fp, 70.0, beam.model_copy(update={"scan_order": "serpentine"}), damage)
    snake = snake.reshape(6, 8)
    assert snake[1, -1] < dose[1, -1]  # scanned first in its row, right to left
    assert np.allclose(snake[0], dose[0])


def test_cumulative_dose_lowers_band_contrast_as_exp_minus_d_over_dc(
    small_master_patterns, detector, rot2
):
    xmap = _map(np.zeros((3, 3), int), rot2)
    mps = {0: small_master_patterns["Li"]}
    contrast, doses = [], []
    for current in (0.0, 1.0, 4.0, 16.0):
        damage = DamageConfig(enabled=current > 0, **NO_EXTRAS)
        cfg = PatternConfig(damage=damage, beam=BeamConfig(probe_current_na=max(current, 1e-9)))
        model = PatternModel(xmap, mps, detector, cfg, 20.0)
        contrast.append(_band_contrast(model, 4))
        doses.append(0.0 if model.dose is None else model.dose[4])
        truth = pattern_ground_truth(model)
        assert truth["dose_e_per_nm2"][4] == doses[-1]
    assert np.all(np.diff(doses) > 0) and np.all(np.diff(contrast) < 0)
    dc = DamageConfig().critical_dose_e_per_nm2["Li"]
    assert np.allclose(np.array(contrast) / contrast[0], np.exp(-np.array(doses) / dc), rtol=1e-6)
    # Blur and diffuse background of the damaged material lower the contrast further, as
    # an indexer sees it: after dividing by the smooth (dynamic) background.
    measured = []
    for damage in (DamageConfig(enabled=True, **NO_EXTRAS), DamageConfig(enabled=True)):
        cfg = PatternConfig(damage=damage, beam=BeamConfig(probe_current_na=4))
        lam = PatternModel(xmap, mps, detector, cfg, 20.0).expected(4, 5)[0]
        measured.append(float((lam / gaussian_filter(lam, 6.0, mode="nearest")).std()))
    assert measured[1] < 0.9 * measured[0]


def test_knock_on_energy_transfer():
    # E_max = 2E(E + 2m₀c²)/(Mc²) (Egerton, Li & Malac 2004): Li 6.45 eV, Na 1.95 eV at 20 kV.
    assert max_transferred_energy_ev(6.94, 20) == pytest.approx(6.45, abs=0.05)
    assert max_transferred_energy_ev(22.99, 20) == pytest.approx(1.95, abs=0.05)
    assert max_transferred_energy_ev(63.546, 20) < 1


def test_damage_uses_each_phases_critical_dose(small_master_patterns, detector, rot2):
    # Contrast factor exp(−D/D_c) with the D_c of the probed phase (names in any case,
    # others the default), at a known uniform prior dose and a negligible scan dose.
    damage = DamageConfig(
        enabled=True,
        prior_dose_e_per_nm2=1000.0,
        critical_dose_e_per_nm2={"li": 300.0, "NA": 3000.0},
        default_critical_dose_e_per_nm2=7000.0,
    )
    beam = BeamConfig(probe_current_na=1e-9)
    for name, dc in (("Li", 300.0), ("Na", 3000.0), ("Cu", 7000.0)):
        assert critical_dose(damage, name) == dc
        xmap = _map(np.zeros((3, 3), int), rot2, phase=name)
        cfg = PatternConfig(damage=damage, beam=beam)
        model = PatternModel(xmap, {0: small_master_patterns[name]}, detector, cfg, 20.0)
        factor = pattern_ground_truth(model)["contrast_factor"]
        assert np.allclose(factor, np.exp(-model.dose / dc), rtol=1e-9)
        assert np.allclose(model.dose, 1000.0, rtol=1e-6)
    with pytest.raises(ValidationError):
        DamageConfig(critical_dose_e_per_nm2={"Li": 0.0})


# --- boundary mixing and pores --------------------------------------------------------------


@pytest.mark.parametrize("axis", ["rows", "cols"])
def test_pixel_next_to_a_boundary_mixes_both_grains_by_the_footprint(
    axis, small_master_patterns, detector, rot2
):
    labels = np.zeros((12, 12), int)
    if axis == "rows":
        labels[6:] = 1  # boundary between rows 5 and 6
    else:
        labels[:, 6:] = 1
    xmap = _map(labels, rot2)
    cfg = PatternConfig(mixing=MixingConfig(enabled=True))
    model = PatternModel(xmap, {0: small_master_patterns["Li"]}, detector, cfg, 20.0)
    truth = pattern_ground_truth(model)
    assert np.allclose(truth["mixing_weights"].sum(axis=1), 1)
    pure = model.kikuchi(np.array([0, xmap.size - 1])).reshape(2, -1)  # deep in A and B
    i = 5 * 12 + 5  # one step from the boundary, in grain A
    signal = (model.expected(i, i + 1)[0] / (model.scale * model.background) - 1) / 0.3
    fit, *_ = np.linalg.lstsq(pure.T.astype(float), signal.ravel(), rcond=None)
    offsets = truth["mixing_offsets"]
    r, c = divmod(i, 12)
    src_label = labels[r + offsets[:, 0], np.clip(c + offsets[:, 1], 0, 11)]
    w_b = truth["mixing_weights"][i][src_label == 1].sum()
    assert 0.01 < w_b < 0.5
    assert fit == pytest.approx([1 - w_b, w_b], abs=1e-4)
    assert truth["mixing_same_grain_weight"][i] == pytest.approx(1 - w_b)
    far = 2 * 12 + 2
    assert truth["mixing_same_grain_weight"][far] > truth["mixing_same_grain_weight"][i]


def test_footprint_is_elongated_across_the_tilt_axis(small_master_patterns, detector, rot2):
    weights = {}
    for axis in ("rows", "cols"):
        labels = np.zeros((12, 12), int)
        if axis == "rows":
            labels[6:] = 1
        else:
            labels[:, 6:] = 1
        cfg = PatternConfig(mixing=MixingConfig(enabled=True))
        model = PatternModel(
            _map(labels, rot2), {0: small_master_patterns["Li"]}, detector, cfg, 20
        )
        weights[axis] = 1 - pattern_ground_truth(model)["mixing_same_grain_weight"][5 * 12 + 5]
    # σ_y = σ_x / cos(70°): across a row boundary far more of the other grain is seen.
    assert weights["rows"] > 3 * weights["cols"]


def test_pore_shadow_takes_off_low_angles_first(detector):
    shadow = pore_shadow(detector, 0.5)
    assert pore_shadow(detector, 0.0) is None
    assert shadow.shape == detector.shape and 0 <= shadow.min() < shadow.max() <= 1
    assert shadow[-1].mean() < shadow[0].mean()  # low take-off angles at the bottom
    per_pattern = pore_shadow(detector, np.array([0.0, 0.5, 2.0]))
    assert per_pattern.shape == (3, *detector.shape)
    assert np.all(per_pattern[0] == 1) and np.allclose(per_pattern[1], shadow)
    assert np.all(per_pattern[2] <= per_pattern[1])


def _pore_map(rot2, pore_props=True):
    """9 × 9 Li map of two grains (columns < 4: grain 0) with a pore in rows ≥ 4 whose
    floor is the metal point above it in row 3 (0.3 µm deep, 1.2 µm wide)."""
    labels = np.zeros((9, 9), int)
    labels[:, 4:] = 1
    labels[4:, :] = -1
    xmap = _map(labels, rot2)
    if pore_props:
        pore = (labels < 0).ravel()
        floor = np.where(pore, 3 * 9 + np.arange(81) % 9, -1)
        xmap.prop["pore_depth_um"] = np.where(pore, 0.3, 0.0)
        xmap.prop["pore_width_um"] = np.where(pore, 1.2, 0.0)
        xmap.prop["pore_floor_index"] = floor
    return xmap


def test_pores_give_the_shadowed_pattern_of_their_floor(small_master_patterns, detector, rot2):
    mps = {0: small_master_patterns["Li"]}
    cfg = PatternConfig()
    model = PatternModel(_pore_map(rot2), mps, detector, cfg, 20.0)
    shadow = pore_shadow(detector, 0.3 / 1.2)
    for pore, grain in ((6 * 9 + 2, 0), (5 * 9 + 7, 1)):
        k = project_kikuchi_signal(
            mps[0], rot2[grain], detector, 20.0, cfg.oversample, cfg.psf_sigma_px
        )[0]
        expected = cfg.dose_counts * cfg.pore_intensity * model.background * shadow * (1 + 0.3 * k)
        assert np.allclose(model.expected(pore, pore + 1)[0], expected, rtol=1e-5)
    truth = pattern_ground_truth(model)
    assert truth["diffracting_phase_id"][6 * 9 + 2] == 0
    assert truth["diffracting_point"][6 * 9 + 2] == 3 * 9 + 2
    # Without the generator's pore geometry, or when switched off: background only.
    for xmap, c in (
        (_pore_map(rot2, pore_props=False), cfg),
        (_pore_map(rot2), cfg.model_copy(update={"pore_patterns": False})),
    ):
        lam = PatternModel(xmap, mps, detector, c, 20.0).expected(60, 61)[0]
        assert np.allclose(lam, cfg.dose_counts * cfg.pore_intensity * model.background)


def test_background_only_pores_mix_into_their_neighbours(small_master_patterns, detector, rot2):
    labels = np.zeros((9, 9), int)
    labels[4:, :] = -1  # pore below row 3
    mps = {0: small_master_patterns["Li"]}
    cfg = PatternConfig(mixing=MixingConfig(enabled=True))
    mixed = PatternModel(_map(labels, rot2), mps, detector, cfg, 20.0)
    truth = pattern_ground_truth(mixed)
    edge, inner = 3 * 9 + 4, 0 * 9 + 4
    w_pore = 1 - truth["mixing_same_grain_weight"][edge]
    assert w_pore > 0.05
    ratio = mixed.expected(edge, edge + 1).sum() / mixed.expected(inner, inner + 1).sum()
    assert ratio == pytest.approx(1 - w_pore * (1 - cfg.pore_intensity), rel=0.02)


def test_surface_layer_reduces_contrast_uniformly(small_master_patterns, detector, rot2):
    ratios = {}
    for name in ("Li", "Cu"):
        mps = {0: small_master_patterns[name]}
        xm = _map(np.array([[0, 1]]), rot2, phase=name)
        off = PatternModel(xm, mps, detector, PatternConfig(), 20.0)
        on = PatternModel(
            xm, mps, detector, PatternConfig(surface_layer=SurfaceLayerConfig(enabled=True)), 20
        )
        k_off = off.expected(0, 2) / (off.scale * off.background) - 1
        k_on = on.expected(0, 2) / (on.scale * on.background) - 1
        factor = pattern_ground_truth(on)["contrast_factor"]
        assert np.allclose(k_on, factor[:, None, None] * k_off, rtol=1e-6, atol=1e-6)
        ratios[name] = factor[0]
    # Cu's shorter information depth loses more contrast through the same 20 nm layer.
    assert 0 < ratios["Cu"] < ratios["Li"] < 1


# --- defaults, seeds, chunks ----------------------------------------------------------------


def test_defaults_are_the_study_model(small_master_patterns, detector, rot2):
    xmap = _map(np.array([[0, 1, -1]]), rot2)
    mps = {0: small_master_patterns["Li"]}
    cfg = PatternConfig()
    model = PatternModel(xmap, mps, detector, cfg, 20.0)
    assert model.plain
    k = project_kikuchi_signal(mps[0], rot2, detector, 20.0, cfg.oversample, cfg.psf_sigma_px)
    lam = model.expected(0, 3)
    assert np.allclose(lam[:2], cfg.dose_counts * model.background * (1 + 0.3 * k))
    assert np.allclose(lam[2], cfg.dose_counts * cfg.pore_intensity * model.background)


@pytest.fixture(scope="module")
def physics_scene(make_cell):
    return make_cell(
        shape_px=(16, 12),
        collector_um=2,
        metal_um=4,
        porosity=0.1,
        pore_diameter_um=1.4,
        seed=2,
    )


def test_all_models_deterministic_and_chunk_invariant(
    physics_scene, small_master_patterns, detector
):
    mps = {pid: small_master_patterns[ph.name] for pid, ph in physics_scene.phases if pid >= 0}
    cfg = PatternConfig(
        damage=DamageConfig(enabled=True),
        mixing=MixingConfig(enabled=True),
        camera=CameraConfig(enabled=True, binning=2, binning_mode="digital"),
        surface_layer=SurfaceLayerConfig(enabled=True),
    )
    a = simulate_patterns(
        physics_scene, mps, detector, cfg.model_copy(update={"chunk_size": 24}), seed=4
    )
    b = simulate_patterns(physics_scene, mps, detector, cfg, seed=4)
    c = simulate_patterns(physics_scene, mps, detector, cfg, seed=5)
    assert a.data.chunks[0] != b.data.chunks[0]
    da, db, dc = (s.data.compute() for s in (a, b, c))
    assert da.dtype == np.uint16 and da.max() < 2**12
    assert np.array_equal(da, db)
    assert not np.array_equal(da, dc)
    truth = pattern_ground_truth(PatternModel(physics_scene, mps, detector, cfg, 20.0))
    assert truth["dose_e_per_nm2"].shape == (physics_scene.size,)
    assert (truth["mixing_self_weight"] < 1).any()
