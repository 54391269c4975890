"""Torch dictionary indexing: known answers, agreement with kikuchipy, memory, bad input."""

import numpy as np
import pytest
from kikuchipy.signals import EBSD, LazyEBSD
from orix.quaternion import Rotation

from synthebsd.analyze import dictionary_index, preprocess_patterns
from synthebsd.simulate import MemoryBudgetError, make_detector, random_rotations

# kikuchipy prints progress; these tests compare numbers, not output.
pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")


def test_dictionary_orientations_are_found_exactly(small_models, detector, model_patterns):
    li = small_models["Li"]
    dictionary = random_rotations(300, np.random.default_rng(0))
    pick = np.arange(0, 300, 15)
    patterns = EBSD(model_patterns(li, dictionary[pick], detector))
    for kw in ({}, {"binning": 3, "pca_components": 24, "rerank": 4}, {"binning": 1}):
        res = dictionary_index(patterns, [li], detector, 20.0, rotations=[dictionary], **kw)
        assert np.allclose(res.xmap.rotations.data, dictionary[pick].data)
        assert np.all(res.xmap.prop["scores"] > 0.9999)


def test_agrees_with_kikuchipy_on_noisy_patterns(small_models, detector, noisy_patterns):
    li = small_models["Li"]
    rot = random_rotations(40, np.random.default_rng(1))
    patterns = preprocess_patterns(EBSD(noisy_patterns(li, rot, detector, 1000, 2)))
    ref = dictionary_index(patterns, [li], detector, 20.0, 6.0, backend="kikuchipy")
    for kw in ({}, {"pca_components": 64, "binning": 3}):
        ours = dictionary_index(patterns, [li], detector, 20.0, 6.0, top_k=3, **kw)
        same = np.all(np.isclose(ours.xmap.rotations.data, ref.xmap.rotations.data), axis=1)
        assert same.mean() >= 0.95
        # Where the best match differs, kikuchipy's is among our three best (a near tie).
        cand_rot, cand_scores = ours.candidates[0]
        for i in np.nonzero(~same)[0]:
            assert np.isclose(cand_rot[i].data, ref.xmap.rotations[i].data).all(-1).any()
        # Scores are kikuchipy's NCC, so thresholds carry over.
        assert np.allclose(
            ours.xmap.prop["scores"][same], ref.xmap.prop["scores"][same], atol=1e-5
        )
        assert cand_rot.shape == (40, 3) and np.all(np.diff(cand_scores, axis=1) <= 0)


def test_two_phase_map_and_phase_order(small_models, detector, noisy_patterns):
    li, cu = small_models["Li"], small_models["Cu"]
    rot = random_rotations(8, np.random.default_rng(4))
    data = np.concatenate(
        [noisy_patterns(li, rot, detector, 1000, 1), noisy_patterns(cu, rot, detector, 1000, 2)]
    )
    patterns = preprocess_patterns(EBSD(data))
    for order, expected in (([li, cu], [0] * 8 + [1] * 8), ([cu, li], [1] * 8 + [0] * 8)):
        res = dictionary_index(patterns, order, detector, 20.0, 6.0)
        assert res.xmap.phases.names[:2] == [m.phase.name for m in order]
        assert np.array_equal(res.xmap.phase_id, expected)
        assert set(res.candidates) == {0, 1}


def test_lazy_signal_is_indexed_block_by_block(small_models, detector, noisy_patterns):
    import dask.array as da

    li = small_models["Li"]
    rot = random_rotations(30, np.random.default_rng(5))
    data = noisy_patterns(li, rot, detector, 1000, 3).reshape(5, 6, *detector.shape)
    eager = preprocess_patterns(EBSD(data))
    lazy = preprocess_patterns(LazyEBSD(da.from_array(data, chunks=(2, 6, -1, -1))))
    assert isinstance(lazy, LazyEBSD)
    a = dictionary_index(eager, [li], detector, 20.0, 8.0)
    # A budget that holds few patterns: several blocks.
    b = dictionary_index(lazy, [li], detector, 20.0, 8.0, memory_budget_gib=0.06)
    assert np.array_equal(a.xmap.rotations.data, b.xmap.rotations.data)
    assert np.allclose(a.xmap.prop["scores"], b.xmap.prop["scores"], atol=1e-5)


def test_bad_input_is_refused(small_models, detector, model_patterns):
    li = small_models["Li"]
    rot = random_rotations(4, np.random.default_rng(6))
    patterns = EBSD(model_patterns(li, rot, detector))
    with pytest.raises(ValueError, match="dictionary would be empty"):
        dictionary_index(patterns, [], detector, 20.0)
    with pytest.raises(ValueError, match="'Li' is empty"):
        dictionary_index(patterns, [li], detector, 20.0, rotations=[Rotation.empty()])
    with pytest.raises(ValueError, match="patterns are 60 × 60 px but the detector is 30 × 40"):
        dictionary_index(patterns, [li], make_detector_of((30, 40)), 20.0)
    nan = patterns.data.copy()
    nan[2, 3, 4] = np.nan
    with pytest.raises(ValueError, match=r"1 pattern\(s\) contain NaN.*\[2\]"):
        dictionary_index(EBSD(nan), [li], detector, 20.0, 8.0)
    with pytest.raises(MemoryBudgetError, match="cannot hold one chunk of dictionary"):
        dictionary_index(patterns, [li], detector, 20.0, 8.0, memory_budget_gib=0.001)
    with pytest.raises(ValueError, match="backend"):
        dictionary_index(patterns, [li], detector, 20.0, backend="numpy")


def make_detector_of(shape):
    from synthebsd.config import DetectorConfig

    return make_detector(DetectorConfig(shape_px=shape))


@pytest.mark.parametrize("pca", [0, 8])
def test_matching_stays_on_the_device(small_models, detector, pca):
    """torch's meta device fails on any CPU/device mix, as a GPU would: the coarse
    dictionary is projected, compressed and matched on the patterns' device."""
    from synthebsd.analyze.indexing._dictionary_torch import _PhaseDictionary, match_block
    from synthebsd.analyze.indexing._torch_model import IndexerModel, to_device

    model = IndexerModel(small_models["Li"], detector, 20.0, "meta", binning=2)
    rot = random_rotations(50, np.random.default_rng(7))
    if pca:  # the basis needs data; shapes are what is checked
        d = _PhaseDictionary(
            IndexerModel(small_models["Li"], detector, 20.0, "cpu", 2), rot, pca, "cpu", 1
        )
        basis = d.basis.to("meta")
    d = _PhaseDictionary(model, rot, 0, "meta", 1)
    if pca:
        d.basis, d.width = basis, basis.shape[1]
    full, coarse = to_device(np.zeros((6, 60, 60), np.float32), "meta", 2)
    assert full.device.type == coarse.device.type == "meta" and coarse.shape == (6, 900)
    s, i = match_block(full, coarse, d, 4)
    assert s.device.type == i.device.type == "meta" and s.shape == i.shape == (6, 4)
    d.build_cache()
    assert d.cache.device.type == "meta" and d.cache.shape == (50, d.width)
