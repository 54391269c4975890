"""The torch renderer against kikuchipy's get_patterns (the reference), chunking, memory."""

import numpy as np
import pytest
import torch
from kikuchipy.detectors import EBSDDetector
from kikuchipy.signals.util._master_pattern import _get_direction_cosines_from_detector

from synthebsd.analyze import pattern_ncc
from synthebsd.config import PatternConfig
from synthebsd.simulate import (
    KikuchiRenderer,
    MemoryBudgetError,
    PatternModel,
    detector_direction_cosines,
    plan_chunks,
    project_kikuchi_signal,
    random_rotations,
    render_kikuchi,
    simulate_patterns,
)

DEVICES = ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])


@pytest.fixture(scope="module")
def rotations_1000():
    return random_rotations(1000, np.random.default_rng(1000))


def _kikuchipy(mp, rotations, detector):
    sim = mp.get_patterns(rotations, detector, energy=20.0, compute=True, show_progressbar=False)
    return np.asarray(sim.data).reshape(-1, *detector.shape)


def _varying_pc_detector(n, rng):
    pc = np.column_stack(
        [rng.uniform(0.4, 0.6, n), rng.uniform(0.15, 0.4, n), rng.uniform(0.45, 0.75, n)]
    )
    return EBSDDetector(
        shape=(48, 64), pc=pc, sample_tilt=68.0, tilt=6.0, binning=2, convention="bruker"
    )


def test_direction_cosines_equal_kikuchipys(detector):
    assert np.allclose(
        detector_direction_cosines(detector),
        _get_direction_cosines_from_detector(detector),
        rtol=0,
        atol=1e-12,
    )
    varying = _varying_pc_detector(7, np.random.default_rng(0))
    ours = detector_direction_cosines(varying)
    assert ours.shape == (7, 48 * 64, 3)
    assert np.allclose(ours, _get_direction_cosines_from_detector(varying), atol=1e-12)


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("phase", ["Li", "Na", "Cu"])
def test_every_pattern_agrees_with_kikuchipy(
    phase, device, small_master_patterns, detector, rotations_1000
):
    mp = small_master_patterns[phase]
    ref = _kikuchipy(mp, rotations_1000, detector)
    ours = render_kikuchi(mp, rotations_1000, detector, 20.0, device=device)
    assert ours.shape == ref.shape and ours.dtype == np.float32
    ncc = pattern_ncc(ours, ref)
    assert ncc.min() >= 0.999  # the issue asks ≥ 0.99 for every pattern
    assert np.abs(ours - ref).max() < 1e-3 * np.abs(ref).max()


def test_distinct_hemispheres_agree_with_kikuchipy(small_master_patterns, detector):
    # m-3m phases have identical hemispheres and take the one-image path; a crystal
    # without a mirror normal to z does not: make the lower hemisphere differ (mirrored,
    # rescaled) and compare every pattern, half of whose pixels come from each hemisphere.
    mp = small_master_patterns["Cu"].deepcopy()
    assert KikuchiRenderer(mp, detector, 20.0).one_hemisphere
    mp.data[1] = 0.5 * mp.data[1][:, ::-1] + 0.25 * mp.data[1].max()
    rot = random_rotations(1000, np.random.default_rng(11))
    renderer = KikuchiRenderer(mp, detector, 20.0)
    assert not renderer.one_hemisphere
    ref = _kikuchipy(mp, rot, detector)
    ours = renderer.render(rot)
    assert pattern_ncc(ours, ref).min() >= 0.999
    assert np.abs(ours - ref).max() < 1e-3 * np.abs(ref).max()


@pytest.mark.parametrize(
    ("oversample", "psf", "hemispheres", "varying_pc"),
    [(1, 0.0, 1, False), (2, 0.5, 1, False), (1, 0.0, 2, False), (2, 0.5, 2, True)],
)
def test_every_tensor_stays_on_the_device(
    oversample, psf, hemispheres, varying_pc, small_master_patterns, detector
):
    # No GPU here: torch's "meta" device carries shapes and no data, and any operation
    # mixing it with a CPU tensor fails, as it would on a GPU. This checks that the
    # renderer puts everything on its device and copies nothing back per chunk.
    mp = small_master_patterns["Cu"].deepcopy()
    if hemispheres == 2:
        mp.data[1] = 0.5 * mp.data[1][:, ::-1] + 0.25 * mp.data[1].max()
    rot = random_rotations(40, np.random.default_rng(12))
    det = _varying_pc_detector(40, np.random.default_rng(13)) if varying_pc else detector
    renderer = KikuchiRenderer(mp, det, 20.0, "meta", oversample, psf)
    assert renderer.one_hemisphere == (hemispheres == 1)
    chunks = list(renderer.iter_chunks(rot, 16))
    assert [(a, b) for a, b, _ in chunks] == [(0, 16), (16, 32), (32, 40)]
    for _, _, patterns in chunks:
        assert patterns.device.type == "meta" and patterns.dtype == torch.float32
        assert tuple(patterns.shape[1:]) == tuple(det.shape)
    assert sorted(renderer.cache_order(rot)) == list(range(40))


def test_the_comparison_detects_a_small_geometry_error(small_master_patterns, detector):
    # A 1 % shift of the projection centre is a geometry error of ~0.6 px: it must fail.
    mp = small_master_patterns["Li"]
    rot = random_rotations(200, np.random.default_rng(5))
    shifted = detector.deepcopy()
    shifted.pcx = detector.pcx + 0.01
    ncc = pattern_ncc(render_kikuchi(mp, rot, shifted, 20.0), _kikuchipy(mp, rot, detector))
    assert ncc.min() < 0.99


def test_varying_pc_tilted_camera_and_rectangular_detector(small_master_patterns):
    mp = small_master_patterns["Na"]
    rot = random_rotations(150, np.random.default_rng(6))
    det = _varying_pc_detector(150, np.random.default_rng(7))
    ours = render_kikuchi(mp, rot, det, 20.0, chunk_size=32)
    assert ours.shape == (150, 48, 64)
    assert pattern_ncc(ours, _kikuchipy(mp, rot, det)).min() >= 0.999
    with pytest.raises(ValueError, match="projection centres"):
        render_kikuchi(mp, rot[:10], det, 20.0)


@pytest.mark.parametrize("phase", ["Li", "Cu"])
def test_pixel_integration_and_psf_equal_the_kikuchipy_path(
    phase, small_master_patterns, detector
):
    mp = small_master_patterns[phase]
    rot = random_rotations(150, np.random.default_rng(8))
    ref = project_kikuchi_signal(mp, rot, detector, 20.0, 2, 0.5, engine="kikuchipy")
    ours = project_kikuchi_signal(mp, rot, detector, 20.0, 2, 0.5, engine="torch")
    assert pattern_ncc(ours, ref).min() >= 0.999
    assert np.abs(ours - ref).max() < 1e-3


def test_chunks_and_threads_do_not_change_a_pattern(small_master_patterns, detector):
    renderer = KikuchiRenderer(small_master_patterns["Cu"], detector, 20.0, "cpu", 2, 0.5)
    rot = random_rotations(90, np.random.default_rng(9))
    whole = renderer.render(rot, chunk_size=90, num_threads=1)
    for chunk_size, threads in [(1, 1), (7, 2), (13, 3)]:
        assert np.array_equal(renderer.render(rot, chunk_size, threads), whole)
        assert np.array_equal(renderer.render(rot, chunk_size, threads, sort=False), whole)
    order = renderer.cache_order(rot)
    assert sorted(order) == list(range(90)) and not np.array_equal(order, np.arange(90))
    streamed = [c.numpy() for _, _, c in renderer.iter_chunks(rot, 11, 2)]
    assert np.array_equal(np.concatenate(streamed), whole)


def test_renderer_refuses_a_stereographic_master_pattern(small_master_patterns, detector):
    mp = small_master_patterns["Cu"].deepcopy()
    mp.projection = "stereographic"
    with pytest.raises(ValueError, match="Lambert"):
        KikuchiRenderer(mp, detector)


@pytest.fixture(scope="module")
def budget_scene(make_cell):
    return make_cell(
        shape_px=(40, 48),
        step_size_um=0.5,
        collector_um=4,
        metal_um=12,
        porosity=0.05,
        pore_diameter_um=2.0,
        metal_ecd_um=3.0,
        seed=3,
    )


@pytest.fixture(scope="module")
def budget_mps(budget_scene, small_master_patterns):
    return {pid: small_master_patterns[ph.name] for pid, ph in budget_scene.phases if pid >= 0}


def test_chunk_size_follows_the_memory_budget(budget_scene, budget_mps, detector):
    model = PatternModel(budget_scene, budget_mps, detector, PatternConfig(), 20.0)
    rows = [plan_chunks(model, mib * 2**20, workers=2) for mib in (64, 128, 1024)]
    assert 1 <= rows[0] < rows[1] < rows[2]
    with pytest.raises(MemoryBudgetError, match="cannot hold one chunk"):
        plan_chunks(model, 4 * 2**20, workers=2)
    with pytest.raises(MemoryBudgetError):
        simulate_patterns(
            budget_scene, budget_mps, detector, PatternConfig(memory_budget_gib=0.004)
        )


def _rss() -> int:
    import os

    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def _peak_rss_while(fn) -> int:
    """Peak resident memory above the start while ``fn`` runs (sampled every 2 ms)."""
    import threading
    import time

    peak, start, stop = [0], _rss(), threading.Event()

    def sample():
        while not stop.is_set():
            peak[0] = max(peak[0], _rss())
            time.sleep(0.002)

    thread = threading.Thread(target=sample)
    thread.start()
    try:
        fn()
    finally:
        stop.set()
        thread.join()
    return max(peak[0], _rss()) - start


@pytest.fixture
def honest_rss():
    """glibc keeps freed large blocks (its mmap threshold grows); fix it so RSS tracks use."""
    import ctypes

    try:
        libc = ctypes.CDLL("libc.so.6")
    except OSError:
        pytest.skip("needs glibc to measure resident memory honestly")
    m_mmap_threshold = -3
    libc.mallopt(m_mmap_threshold, 128 * 1024)
    yield


def test_streaming_to_file_stays_within_the_budget(
    budget_scene, budget_mps, detector, tmp_path, honest_rss
):
    from synthebsd.io import load_patterns, save_patterns

    budget = 64 * 2**20
    small = simulate_patterns(
        budget_scene,
        budget_mps,
        detector,
        PatternConfig(memory_budget_gib=budget / 2**30, chunk_size=100_000),
        seed=1,
    )
    whole = simulate_patterns(
        budget_scene, budget_mps, detector, PatternConfig(chunk_size=100_000), seed=1
    )
    assert len(small.data.chunks[0]) > 4  # the budget, not chunk_size, sets the chunks
    assert len(whole.data.chunks[0]) == 1
    small.data[-1:].compute()  # library start-up (torch, threads) is not working memory
    small.data[20:21].compute()
    used_small = _peak_rss_while(lambda: save_patterns(small, tmp_path / "small.h5"))
    used_whole = _peak_rss_while(lambda: save_patterns(whole, tmp_path / "whole.h5"))
    print(
        f"peak above start: {used_small / 2**20:.0f} MiB chunked, {used_whole / 2**20:.0f} MiB whole"
    )
    assert used_small < budget
    assert used_whole > 2 * used_small  # what the chunking saves: the test can fail
    stored = load_patterns(tmp_path / "small.h5")
    assert stored.data.shape == (40, 48, 60, 60)
    assert np.array_equal(stored.data, load_patterns(tmp_path / "whole.h5").data)
