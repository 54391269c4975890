"""The forward model's geometry and its checks: a projection centre per point, crystalline
electrolytes that give their own patterns, and configurations it must refuse."""

import numpy as np
import pytest
from pydantic import ValidationError

from synthebsd.analyze import pattern_ncc
from synthebsd.config import DetectorConfig, MasterPatternConfig, MixingConfig, PatternConfig
from synthebsd.conventions import Region
from synthebsd.phases import get_phase
from synthebsd.simulate import (
    PatternModel,
    backscatter_background,
    get_master_pattern,
    make_detector,
    map_detector,
    mixing_kernel,
    pattern_ground_truth,
    pc_shift_along_beam,
    project_kikuchi_signal,
)


@pytest.fixture(scope="module")
def two_phase_scene(make_cell):
    return make_cell(
        shape_px=(12, 10),
        step_size_um=1.0,
        collector_um=3,
        metal_um=6,
        metal_ecd_um=3.0,
        collector_ecd_um=2.0,
        electrolyte_ecd_um=2.0,
        seed=5,
    )


def test_map_detector_pcs_are_extrapolate_pcs(two_phase_scene):
    config = DetectorConfig(px_size_um=40.0)  # a small screen: PC steps large enough to see
    shape, steps = two_phase_scene.shape, (two_phase_scene.dy, two_phase_scene.dx)
    det = map_detector(config, shape, steps)
    reference = make_detector(config).extrapolate_pc(
        pc_indices=[shape[0] // 2, shape[1] // 2], navigation_shape=shape, step_sizes=steps
    )
    assert det.navigation_shape == shape
    assert np.allclose(det.pc, reference.pc)
    assert np.allclose(det.pc[shape[0] // 2, shape[1] // 2], config.pc_bruker)
    # PCx changes along x by the step over the screen width.
    assert np.allclose(np.diff(det.pc[..., 0], axis=1), -1.0 / (60 * 40.0))


def test_each_point_of_a_two_phase_map_is_rendered_with_its_own_pc(
    two_phase_scene, master_patterns
):
    xmap = two_phase_scene
    assert set(xmap.phase_id[xmap.phase_id >= 0]) == {0, 1}
    det = map_detector(DetectorConfig(px_size_um=40.0), xmap.shape, (xmap.dy, xmap.dx))
    mps = {pid: master_patterns[ph.name] for pid, ph in xmap.phases if pid >= 0}
    cfg = PatternConfig(pore_patterns=False)
    model = PatternModel(xmap, mps, det, cfg, 20.0)
    truth = pattern_ground_truth(model)
    assert np.allclose(truth["pc_bruker"], det.pc_flattened)
    lam = model.expected(0, xmap.size)
    nominal = make_detector(DetectorConfig(px_size_um=40.0))
    rng = np.random.default_rng(0)
    for pid in (0, 1):
        for i in rng.choice(np.flatnonzero(xmap.phase_id == pid), 3, replace=False):
            one = nominal.deepcopy()
            one.pc = det.pc_flattened[i]
            k = project_kikuchi_signal(mps[pid], xmap.rotations[i], one, 20.0, 2, 0.5)[0]
            b = backscatter_background(one, cfg.background_sigma_deg)
            assert np.allclose(lam[i], cfg.dose_counts * b * (1 + 0.3 * k), rtol=1e-5)
            # and not with the PC of the map's far corner
            corner = one.deepcopy()
            corner.pc = det.pc_flattened[-1 if i < xmap.size // 2 else 0]
            k_far = project_kikuchi_signal(mps[pid], xmap.rotations[i], corner, 20.0, 2, 0.5)[0]
            assert np.abs(k_far - k).max() > 1e-3


def test_pc_shift_along_the_beam():
    det = make_detector(DetectorConfig(px_size_um=100.0))
    height = 60 * 100.0
    shift = pc_shift_along_beam(det, np.array([0.0, 2.0]))
    # A vertical screen: the source drops by s = d / cos(70°), PCy grows by s / H.
    assert np.allclose(shift[0], 0)
    assert shift[1, 1] == pytest.approx(2.0 / np.cos(np.deg2rad(70)) / height)
    assert shift[1, 0] == 0 and shift[1, 2] == pytest.approx(0, abs=1e-15)
    tilted = make_detector(DetectorConfig(px_size_um=100.0, camera_tilt_deg=10))
    assert pc_shift_along_beam(tilted, np.array([2.0]))[0, 2] != 0


def test_crystalline_electrolyte_gives_its_own_patterns(make_cell, cache_dir, master_patterns):
    cfg_mp = MasterPatternConfig(engine="kinematical", half_size_px=100, min_dspacing_angstrom=1.0)
    llzto = get_master_pattern(get_phase("LLZTO"), 20.0, cfg_mp, cache_dir)
    xmap = make_cell(
        shape_px=(10, 8), collector_um=1.0, metal_um=2.0, amorphous_electrolyte=False, seed=1
    )
    electrolyte = np.asarray(xmap.prop["region"]) == Region.ELECTROLYTE
    assert np.all(xmap.phase_id[electrolyte] == 2) and xmap.phases[2].name == "LLZTO"
    det = make_detector()
    mps = {0: master_patterns["Li"], 1: master_patterns["Cu"], 2: llzto}
    model = PatternModel(xmap, mps, det, PatternConfig(), 20.0)
    i = int(np.flatnonzero(electrolyte)[0])
    k = model.kikuchi(np.array([i]))[0]
    own = project_kikuchi_signal(llzto, xmap.rotations[i], det, 20.0, 2, 0.5)[0]
    li = project_kikuchi_signal(master_patterns["Li"], xmap.rotations[i], det, 20.0, 2, 0.5)[0]
    assert pattern_ncc(k, own) > 0.9999
    assert pattern_ncc(k, li) < 0.5


def test_master_pattern_of_another_phase_or_energy_is_refused(make_cell, master_patterns):
    xmap = make_cell(seed=0)
    det = make_detector()
    swapped = {0: master_patterns["Cu"], 1: master_patterns["Li"]}
    with pytest.raises(ValueError, match="'Cu'.*'Li'"):
        PatternModel(xmap, swapped, det, PatternConfig(), 20.0)
    mps = {0: master_patterns["Li"], 1: master_patterns["Cu"]}
    with pytest.raises(ValueError, match="20 kV.*15 kV"):
        PatternModel(xmap, mps, det, PatternConfig(), 15.0)
    with pytest.raises(ValueError, match="projection centres"):
        wrong = det.deepcopy()
        wrong.pc = np.full((3, 3), 0.5)
        PatternModel(xmap, mps, wrong, PatternConfig(), 20.0)


def test_saturating_dose_and_short_mixing_reach_are_refused():
    with pytest.raises(ValidationError, match="16-bit"):
        PatternConfig(dose_counts=60_000)
    PatternConfig(dose_counts=50_000)  # 50,000 × 1.3 = 65,000 fits
    with pytest.raises(ValidationError, match="16-bit"):
        PatternConfig(dose_counts=40_000, electrolyte_intensity=1.5)
    with pytest.raises(ValueError, match="below 3σ"):
        mixing_kernel(0.2, 0.6, 0.1, 0.1, max_offset_px=8)
    offsets, w = mixing_kernel(0.2, 0.6, 0.1, 0.1)  # reach derived from σ: 18 rows, 6 cols
    assert np.abs(offsets[:, 0]).max() <= 18 and np.abs(offsets[:, 1]).max() <= 6
    # Beyond 3σ no cell reaches min_weight: the derived reach loses nothing.
    wide_offsets, wide_w = mixing_kernel(0.2, 0.6, 0.1, 0.1, max_offset_px=30)
    assert len(wide_w) == len(w) and np.isclose(wide_w.sum(), w.sum())
    MixingConfig(max_offset_px=None)
