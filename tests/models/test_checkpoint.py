"""Checkpoints: identical predictions after a round trip; clear errors for bad files and inputs."""

from __future__ import annotations

import json
import warnings

import numpy as np
import pytest
import torch

from synthebsd.models import (
    CheckpointError,
    IncompatibleInputError,
    OutsideTrainingRangeWarning,
    create_model,
    load_checkpoint,
    predict_orientations,
    predict_tensors,
    read_checkpoint_metadata,
    save_checkpoint,
    weights_sha256,
)


@pytest.fixture(scope="module")
def patterns(pattern_dataset):
    return np.stack([it["pattern"][0].numpy() for it in pattern_dataset.items[:64]])


def test_round_trip_gives_identical_predictions(trained, patterns, tmp_path):
    ck = load_checkpoint(trained["checkpoint"])
    again = load_checkpoint(save_checkpoint(tmp_path / "copy.safetensors", ck.model, ck.metadata))
    x = torch.from_numpy(patterns)
    a, b = predict_tensors(ck.model, x), predict_tensors(again.model, x)
    assert all(torch.equal(a[k], b[k]) for k in a)
    ma, mb = predict_orientations(ck, patterns), predict_orientations(again, patterns)
    assert np.array_equal(ma.rotations.data, mb.rotations.data)
    assert np.array_equal(ma.phase_id, mb.phase_id)
    assert np.array_equal(ma.prop["uncertainty_deg"], mb.prop["uncertainty_deg"])
    assert again.metadata["weights_sha256"] == ck.metadata["weights_sha256"]
    # The model that was trained (in memory) predicts the same as the file.
    assert ck.model.training is False


def test_metadata_reads_without_weights(trained):
    meta = read_checkpoint_metadata(trained["checkpoint"])
    assert meta["format"] == "synthebsd-checkpoint/1" and meta["task"] == "orientation"
    assert set(meta["versions"]) >= {"synthebsd", "torch", "roma", "safetensors", "orix"}
    assert meta["model"]["config"]["normalisation"]["background_sigma_px"] > 0


def _copy(trained, tmp_path):
    data = trained["checkpoint"].read_bytes()
    path = tmp_path / "ck.safetensors"
    path.write_bytes(data)
    return path, data


def test_corrupt_and_truncated_checkpoints_are_refused(trained, tmp_path):
    path, data = _copy(trained, tmp_path)
    flipped = bytearray(data)
    flipped[-100] ^= 0xFF  # a weight byte
    path.write_bytes(bytes(flipped))
    with pytest.raises(CheckpointError, match="checksum"):
        load_checkpoint(path)
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(CheckpointError, match="truncated"):
        load_checkpoint(path)
    path.write_bytes(b"not a checkpoint at all")
    with pytest.raises(CheckpointError, match="not a readable"):
        load_checkpoint(path)
    with pytest.raises(FileNotFoundError, match="No checkpoint"):
        load_checkpoint(tmp_path / "missing.safetensors")


def test_foreign_or_mismatched_metadata_is_refused(trained, tmp_path):
    from safetensors.torch import save_file

    foreign = tmp_path / "foreign.safetensors"
    save_file({"w": torch.zeros(2)}, foreign)
    with pytest.raises(CheckpointError, match="without synthebsd metadata"):
        load_checkpoint(foreign)
    ck = load_checkpoint(trained["checkpoint"])

    def write(meta, state, name):
        path = tmp_path / name
        save_file(state, path, metadata={"synthebsd": json.dumps(meta)})
        return path

    # Weights of another architecture under this model's description.
    other = create_model("orientation_cnn_tiny", embedding_dim=32).state_dict()
    meta = {**ck.metadata, "weights_sha256": weights_sha256(other)}
    with pytest.raises(CheckpointError, match="cannot build"):
        load_checkpoint(write(meta, other, "other.safetensors"))
    state = ck.model.state_dict()
    unknown = {**ck.metadata, "model": {"name": "resnet50", "config": {}}}
    with pytest.raises(CheckpointError, match="resnet50"):
        load_checkpoint(write(unknown, state, "unknown.safetensors"))
    future = {**ck.metadata, "format": "synthebsd-checkpoint/9"}
    with pytest.raises(CheckpointError, match="format"):
        load_checkpoint(write(future, state, "future.safetensors"))


def test_mismatched_patterns_detector_and_phases(trained, patterns):
    from kikuchipy.detectors import EBSDDetector

    ck = load_checkpoint(trained["checkpoint"])
    with pytest.raises(IncompatibleInputError, match=r"\(40, 40\).*\(60, 60\)"):
        predict_orientations(ck, np.zeros((3, 40, 40)))
    with pytest.raises(IncompatibleInputError, match="trained on"):
        ck.check_detector(EBSDDetector(shape=(40, 40), pc=(0.5, 0.25, 0.55), sample_tilt=70))
    with pytest.raises(IncompatibleInputError, match="sample_tilt_deg"):
        ck.check_detector(EBSDDetector(shape=(60, 60), pc=(0.5, 0.25, 0.55), sample_tilt=60))
    with pytest.raises(IncompatibleInputError, match="Phases"):
        ck.check_phases(["Na", "Cu"])
    ck.check_phases(["Cu", "Li"])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert (
            ck.check_detector(EBSDDetector(shape=(60, 60), pc=(0.5, 0.25, 0.55), sample_tilt=70))
            == []
        )
    with pytest.warns(OutsideTrainingRangeWarning, match="PCz"):
        ck.check_detector(EBSDDetector(shape=(60, 60), pc=(0.5, 0.25, 0.60), sample_tilt=70))
    with pytest.warns(OutsideTrainingRangeWarning, match="Dose 50"):
        ck.check_dose(50.0)
    with pytest.raises(ValueError, match="NaN"):
        bad = patterns[:4].copy()
        bad[1, 3, 3] = np.nan
        predict_orientations(ck, bad)
