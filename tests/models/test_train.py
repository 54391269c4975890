"""Training: overfitting a handful of patterns, resuming to the same state, outputs, DDP."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from orix.quaternion import Orientation
from safetensors.torch import load_file
from torch.utils.data import IterableDataset, Subset

from synthebsd.config import ConfigError, TrainConfig
from synthebsd.conventions import Region
from synthebsd.models import load_checkpoint, predict_orientations, predict_regions, train
from synthebsd.phases import get_phase


class _Stream(IterableDataset):
    """The items of a map-style dataset as a stream, in a fixed order per epoch."""

    def __init__(self, dataset):
        self.dataset = dataset
        self.phase_names = dataset.phase_names
        self.detector = dataset.detector
        self.epoch = 0

    def set_epoch(self, epoch):
        self.epoch = epoch

    def __iter__(self):
        order = np.random.default_rng(self.epoch).permutation(len(self.dataset))
        return (self.dataset[int(i)] for i in order)


def _subset(dataset, index):
    sub = Subset(dataset, index)
    sub.phase_names, sub.detector = dataset.phase_names, dataset.detector
    return sub


def test_tiny_model_overfits_a_handful_of_patterns(pattern_dataset, tmp_path, tiny_config):
    items = pattern_dataset.items
    li = [i for i, it in enumerate(items) if it["phase_id"] == 0][:6]
    cu = [i for i, it in enumerate(items) if it["phase_id"] == 1][:4]
    pores = [i for i, it in enumerate(items) if it["region"] == Region.PORE][:3]
    index = li + cu + pores
    config = tiny_config(steps=150, batch_size=len(index), log_every_steps=50)
    result = train(config, _subset(pattern_dataset, index), tmp_path, progress=False)
    ck = load_checkpoint(result["checkpoint"])
    patterns = np.stack([items[i]["pattern"][0].numpy() for i in index])
    xmap = predict_orientations(ck, patterns)
    truth = np.stack([items[i]["quaternion"].numpy() for i in index])
    for ids, name in ((li, "Li"), (cu, "Cu")):
        sel = [index.index(i) for i in ids]
        pg = get_phase(name).point_group
        err = Orientation(truth[sel], symmetry=pg).angle_with(
            Orientation(xmap.rotations.data[sel], symmetry=pg), degrees=True
        )
        assert err.max() < 1.0, (name, err)
        assert (xmap.phase_id[sel] == items[ids[0]]["phase_id"].item()).all()
    assert (xmap.phase_id[-len(pores) :] == -1).all()  # pores: class pore, not indexed
    assert (xmap.prop["region"][-len(pores) :] == Region.PORE).all()


def _final_state(out):
    weights = load_file(str(out / "model.safetensors"))
    opt = torch.load(out / "last_state.pt", weights_only=True)["optimiser"]
    return weights, opt


def _assert_same(a, b):
    wa, oa = a
    wb, ob = b
    assert wa.keys() == wb.keys()
    assert all(torch.equal(wa[k], wb[k]) for k in wa)
    for sa, sb in zip(oa["state"].values(), ob["state"].values(), strict=True):
        assert all(torch.equal(sa[k], sb[k]) for k in sa)


@pytest.mark.parametrize("stream", [False, True], ids=["map-style", "iterable"])
def test_resumed_training_equals_uninterrupted(pattern_dataset, tmp_path, tiny_config, stream):
    data = _Stream(pattern_dataset) if stream else pattern_dataset
    # 360 items / 16 = 22 batches per epoch: the interruption is mid-epoch, the end in epoch 2.
    config = tiny_config(steps=30, checkpoint_every_steps=5)
    train(config, data, tmp_path / "straight", progress=False)
    first = train(config, data, tmp_path / "resumed", stop_after_steps=12, progress=False)
    assert first["step"] == 12 and first["metrics"] is None
    assert not (tmp_path / "resumed" / "model.safetensors").exists()
    second = train(config, data, tmp_path / "resumed", progress=False)
    assert second["step"] == 30
    _assert_same(_final_state(tmp_path / "straight"), _final_state(tmp_path / "resumed"))
    # Another seed gives other weights (the comparison above can fail).
    train(config.model_copy(update={"seed": 1}), data, tmp_path / "seed1", progress=False)
    w0, w1 = _final_state(tmp_path / "straight")[0], _final_state(tmp_path / "seed1")[0]
    assert not all(torch.equal(w0[k], w1[k]) for k in w0)


def test_resume_refuses_other_settings(pattern_dataset, tmp_path, tiny_config):
    train(tiny_config(steps=6), pattern_dataset, tmp_path, stop_after_steps=3, progress=False)
    with pytest.raises(ValueError, match="batch_size"):
        train(tiny_config(steps=6, batch_size=8), pattern_dataset, tmp_path, progress=False)


def test_a_later_stage_starts_from_the_earlier_weights(
    trained, pattern_dataset, tmp_path, tiny_config
):
    first = load_checkpoint(trained["checkpoint"])
    # one step at a negligible learning rate: the weights stay the first stage's
    config = tiny_config(steps=1, warmup_steps=0, learning_rate=1e-12,
                         init_from=trained["checkpoint"])  # fmt: skip
    result = train(config, pattern_dataset, tmp_path / "stage2", progress=False)
    second = load_checkpoint(result["checkpoint"])
    a, b = first.model.state_dict(), second.model.state_dict()
    floats = [k for k in a if a[k].is_floating_point() and "running" not in k]
    assert floats and all(torch.allclose(a[k], b[k], atol=1e-8) for k in floats)
    # against the same step from random weights, which is far from them
    fresh = train(tiny_config(steps=1, warmup_steps=0, learning_rate=1e-12),
                  pattern_dataset, tmp_path / "fresh", progress=False)  # fmt: skip
    c = load_checkpoint(fresh["checkpoint"]).model.state_dict()
    assert not all(torch.allclose(a[k], c[k], atol=1e-3) for k in floats)
    meta = second.metadata
    assert (
        meta["training"]["initialised_from"]["weights_sha256"] == first.metadata["weights_sha256"]
    )
    assert meta["coverage"]["dose_counts_min"] <= first.metadata["coverage"]["dose_counts_min"]
    # another network cannot be continued
    other = tiny_config(steps=1, init_from=trained["checkpoint"],
                        model_kwargs={"embedding_dim": 32})  # fmt: skip
    with pytest.raises(ValueError, match="same network"):
        train(other, pattern_dataset, tmp_path / "other", progress=False)


def test_outputs_metrics_and_coverage(trained, pattern_dataset, detector):
    out = trained["checkpoint"].parent
    for name in ("model.safetensors", "last.safetensors", "last_state.pt", "history.json",
                 "metrics.json", "learning_curves.png"):  # fmt: skip
        assert (out / name).is_file(), name
    history = json.loads((out / "history.json").read_text())
    assert [h["step"] for h in history] == list(range(10, 61, 10))
    assert history[-1]["loss"] < history[0]["loss"]
    assert all(h["patterns_per_second"] > 0 for h in history)
    meta = load_checkpoint(trained["checkpoint"]).metadata
    assert meta["phases"] == {"0": "Li", "1": "Cu"}
    assert meta["symmetry"]["point_groups"] == {"0": "m-3m", "1": "m-3m"}
    assert meta["detector"]["shape_px"] == [60, 60]
    assert np.allclose(meta["detector"]["pc_bruker"], np.ravel(detector.pc))
    assert meta["detector"]["sample_tilt_deg"] == 70.0
    assert meta["forward_model_key"] == "test-kinematical"
    assert meta["model"]["name"] == "orientation_cnn_tiny"
    assert meta["training"]["step"] == 60 and meta["versions"]["torch"] == torch.__version__
    cov = meta["coverage"]
    assert np.allclose(cov["pc_bruker_min"], np.ravel(detector.pc), atol=1e-6)
    # The dose estimate of the training patterns brackets the rendered dose (1,000 counts
    # per pixel at the background peak; bands add ± band contrast 0.3).
    assert 700 < cov["dose_counts_min"] < 1000 < cov["dose_counts_max"] < 1400


def test_validation_metrics(pattern_dataset, tmp_path, tiny_config):
    val = _subset(pattern_dataset, list(range(0, 360, 3)))
    config = tiny_config(steps=20, validate_every_steps=10)
    result = train(config, pattern_dataset, tmp_path, val_dataset=val, progress=False)
    m = result["metrics"]
    assert m["n_points"] == 120 and 0 <= m["class_accuracy"] <= 1
    assert m["n_indexable"] == sum(
        int(pattern_dataset[i]["phase_id"] >= 0) for i in range(0, 360, 3)
    )
    assert sum(1 for h in result["history"] if "validation" in h) == 2
    saved = json.loads((tmp_path / "metrics.json").read_text())
    assert saved["validation"]["class_accuracy"] == m["class_accuracy"]


def test_segmentation_model_learns_the_scenes(scene_dataset, tmp_path, tiny_config):
    config = tiny_config(
        model="segmentation_unet_tiny",
        steps=40,
        batch_size=3,
        learning_rate=1e-2,
        log_every_steps=10,
    )
    result = train(config, scene_dataset, tmp_path, progress=False)
    ck = load_checkpoint(result["checkpoint"])
    acc = []
    for item in scene_dataset.items:
        pred = predict_regions(ck, item["patterns"].numpy())
        acc.append((pred == item["region"].numpy()).mean())
    assert min(acc) > 0.9, acc
    assert result["history"][-1]["segmentation_loss"] < result["history"][0]["segmentation_loss"]


def test_bad_train_config_is_refused():
    with pytest.raises(ValueError, match="warmup_steps"):
        TrainConfig(steps=10, warmup_steps=10)
    from synthebsd.config import load_train_config

    with pytest.raises(ConfigError, match="does not exist"):
        load_train_config("/nonexistent.yaml")
