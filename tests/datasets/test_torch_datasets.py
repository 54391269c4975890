"""Torch data sets: the agreed items, sharded without duplicates, stored = streamed."""

import numpy as np
import pytest
import torch
from torch.utils.data import DataLoader

from synthebsd.config import AugmentConfig
from synthebsd.datasets import (
    StoredPatternDataset,
    SyntheticPatternDataset,
    SyntheticSceneDataset,
    generate_store,
)

#: The interface with synthebsd.models: key → (shape, dtype) for 32 × 32 patterns.
CONTRACT = {
    "pattern": ((1, 32, 32), torch.float32),
    "quaternion": ((4,), torch.float32),
    "quaternion_fz": ((4,), torch.float32),
    "phase_id": ((), torch.int64),
    "region": ((), torch.int64),
    "pore": ((), torch.bool),
    "grain_id": ((), torch.int64),
    "dose_e_per_nm2": ((), torch.float32),
    "damage_fraction": ((), torch.float32),
    "mixing_self_weight": ((), torch.float32),
    "pc": ((3,), torch.float32),
    "scene": ((), torch.int64),
    "row": ((), torch.int64),
    "col": ((), torch.int64),
}


@pytest.fixture(scope="module")
def store(make_dataset_config, dataset_cache, tmp_path_factory):
    path = tmp_path_factory.mktemp("torch") / "store.zarr"
    generate_store(
        make_dataset_config(),
        4,
        path,
        scheduler="synchronous",
        cache_dir=dataset_cache,
        progress=False,
    )
    return path


def _key(item):
    return int(item["scene"]), int(item["row"]), int(item["col"])


def test_items_follow_the_contract(make_dataset_config, dataset_cache):
    data = SyntheticPatternDataset(make_dataset_config(), 4, cache_dir=dataset_cache)
    item = next(iter(data))
    for key, (shape, dtype) in CONTRACT.items():
        assert tuple(item[key].shape) == shape and item[key].dtype == dtype, key
    assert torch.isclose(item["quaternion"].norm(), torch.tensor(1.0))
    assert data.phase_names == {0: "Li", 1: "Cu"} and data.detector_shape == (32, 32)
    assert len(data) == 3 * 16 * 20
    assert not item["pattern"].is_inference()  # training can save it for backward


def test_dataloader_workers_yield_no_duplicates(make_dataset_config, dataset_cache):
    data = SyntheticPatternDataset(make_dataset_config(), 4, cache_dir=dataset_cache)
    single = {_key(it): it["pattern"] for it in data}
    keys, patterns = [], {}
    loader = DataLoader(data, batch_size=64, num_workers=2)
    for batch in loader:
        for j in range(batch["scene"].shape[0]):
            key = (int(batch["scene"][j]), int(batch["row"][j]), int(batch["col"][j]))
            keys.append(key)
            patterns[key] = batch["pattern"][j]
    assert len(keys) == len(set(keys)) == len(single) == len(data)
    assert set(keys) == set(single)
    assert all(torch.equal(patterns[k], single[k]) for k in keys)


def test_stored_items_equal_streamed_ones(store, make_dataset_config, dataset_cache):
    stored = StoredPatternDataset(store)
    streamed = SyntheticPatternDataset(make_dataset_config(), 4, cache_dir=dataset_cache)
    assert len(stored) == len(streamed) and stored.phase_names == streamed.phase_names
    for i, item in enumerate(streamed):
        if i % 37:
            continue
        other = stored[i]
        assert set(other) == set(item)
        for key, value in item.items():
            assert other[key].dtype == value.dtype and torch.equal(other[key], value), key
    loader = DataLoader(stored, batch_size=50, num_workers=2, shuffle=True)
    keys = [
        (int(s), int(r), int(c))
        for b in loader
        for s, r, c in zip(b["scene"], b["row"], b["col"], strict=True)
    ]
    assert len(keys) == len(set(keys)) == len(stored)


def test_chunk_cache_reads_the_same_items_in_any_order(store):
    plain = StoredPatternDataset(store)
    cached = StoredPatternDataset(store, shuffle_window=100, cached_chunks=2)
    ranges = cached.chunk_ranges
    assert ranges[0][0] == 0 and ranges[-1][1] == len(cached)
    assert all(a[1] == b[0] for a, b in zip(ranges, ranges[1:], strict=False))
    assert cached.cached_chunks == 2 and StoredPatternDataset(
        store, shuffle_window=100
    ).cached_chunks == 1 + -(-100 // (ranges[0][1] - ranges[0][0]))
    order = np.random.default_rng(0).permutation(len(plain))[:80]
    for i in order:  # random order: the two-chunk cache keeps evicting
        a, b = plain[int(i)], cached[int(i)]
        assert all(torch.equal(a[k], b[k]) for k in a), i
    with pytest.raises(ValueError, match="shuffle_window"):
        StoredPatternDataset(store, shuffle_window=0)


def test_count_fraction_augmentation_is_exact_and_shared(
    store, make_dataset_config, dataset_cache
):
    augment = AugmentConfig(count_fraction=(0.1, 0.5))
    stored = StoredPatternDataset(store, augment)
    streamed = SyntheticPatternDataset(
        make_dataset_config(), 4, augment=augment, cache_dir=dataset_cache
    )
    plain = StoredPatternDataset(store)
    for i, item in enumerate(streamed):
        if i % 53:
            continue
        f = float(item["count_fraction"])
        assert 0.1 <= f <= 0.5
        assert torch.equal(stored[i]["pattern"], item["pattern"])
        base = plain[i]["pattern"]
        assert torch.all(item["pattern"] <= base)
        assert abs(float(item["pattern"].sum() / base.sum()) - f) < 0.02
    stored.set_epoch(1)
    assert not torch.equal(
        stored[0]["pattern"], StoredPatternDataset(store, augment)[0]["pattern"]
    )
    with pytest.raises(ValueError, match="re-render"):
        StoredPatternDataset(store, AugmentConfig(pc_jitter_bruker=(0.01, 0.01, 0.01)))


def test_rendering_augmentations_change_the_physics(make_dataset_config, dataset_cache):
    augment = AugmentConfig(pc_jitter_bruker=(0.01, 0.01, 0.01), prior_dose_e_per_nm2=(100, 200))
    plain = SyntheticPatternDataset(make_dataset_config(n_scenes=1), 4, cache_dir=dataset_cache)
    aug = SyntheticPatternDataset(
        make_dataset_config(n_scenes=1), 4, augment=augment, cache_dir=dataset_cache
    )
    for a, b in zip(plain, aug, strict=True):
        assert torch.equal(a["quaternion"], b["quaternion"])  # the same scene
        assert not torch.equal(a["pc"], b["pc"])
        assert float(a["dose_e_per_nm2"]) == 0 and float(b["dose_e_per_nm2"]) >= 100
        if int(a["phase_id"]) == 0:  # Li loses contrast, and its pattern changes
            assert float(a["damage_fraction"]) == 0 < float(b["damage_fraction"])
            assert not torch.equal(a["pattern"], b["pattern"])


def test_scene_dataset_gives_whole_maps(make_dataset_config, dataset_cache):
    data = SyntheticSceneDataset(make_dataset_config(), 4, cache_dir=dataset_cache)
    scenes = list(data)
    assert len(scenes) == len(data) == 3
    item = scenes[2]
    assert item["patterns"].shape == (16, 20, 32, 32)
    assert item["region"].shape == (16, 20) and item["quaternion"].shape == (16, 20, 4)
    assert int(item["scene"]) == 2
    pattern_items = [
        it
        for it in SyntheticPatternDataset(make_dataset_config(), 4, cache_dir=dataset_cache)
        if int(it["scene"]) == 2
    ]
    np.testing.assert_array_equal(
        item["patterns"].reshape(-1, 32, 32).numpy(),
        torch.stack([it["pattern"][0] for it in pattern_items]).numpy(),
    )
