"""Inference to orix maps: arrays and kikuchipy signals, thresholds, devices, dose estimate."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from synthebsd.config import PatternConfig
from synthebsd.conventions import Region
from synthebsd.models import (
    class_phase_ids,
    create_model,
    estimate_dose_counts,
    fuse_batch_norm,
    load_checkpoint,
    map_dose_counts,
    predict_orientations,
    predict_tensors,
)
from synthebsd.simulate import simulate_patterns


@pytest.fixture(scope="module")
def scene_signal(scenes, master_patterns, detector):
    """The first test scene as a lazy kikuchipy signal (10 × 12, steps 0.5 µm)."""
    xmap = scenes[0][0]
    mps = {0: master_patterns["Li"], 1: master_patterns["Cu"]}
    return simulate_patterns(xmap, mps, detector, PatternConfig(), 20.0, seed=0)


def test_map_from_a_lazy_signal_and_from_an_array_agree(trained, scene_signal, scenes):
    ck = load_checkpoint(trained["checkpoint"])
    from synthebsd.workflows import map_geometry

    xmap = predict_orientations(ck, scene_signal, like=map_geometry(scene_signal), batch_size=50)
    assert xmap.shape == (10, 12) and xmap.dx == 0.5 and xmap.scan_unit == "um"
    array = np.asarray(scene_signal.data.compute())
    same = predict_orientations(ck, array, batch_size=7)
    assert same.shape == (10, 12) and same.scan_unit == "px"
    assert np.allclose(same.rotations.data, xmap.rotations.data, atol=1e-6)
    assert np.array_equal(same.phase_id, xmap.phase_id)
    assert set(xmap.phases.names) <= {"Li", "Cu", "not_indexed"}
    # The patterns are the test scene's own (render_patterns and simulate_patterns agree).
    assert np.array_equal(array.reshape(-1, 60, 60), scenes[0][1])


def test_threshold_calls_points_not_indexed(trained, scenes):
    ck = load_checkpoint(trained["checkpoint"])
    patterns = scenes[0][1][:40]
    strict = predict_orientations(ck, patterns, max_uncertainty_deg=1e-6)
    assert (strict.phase_id == -1).all()
    loose = predict_orientations(ck, patterns, max_uncertainty_deg=1e6)
    cls = loose.prop["region"]
    crystalline = (cls == Region.METAL) | (cls == Region.COLLECTOR)
    assert np.array_equal(loose.phase_id >= 0, crystalline)  # electrolyte: not indexable here
    # Forced regions replace the model's classes.
    forced = predict_orientations(
        ck, patterns, max_uncertainty_deg=1e6, regions=np.full(40, Region.PORE)
    )
    assert (forced.phase_id == -1).all() and (forced.prop["region"] == Region.PORE).all()


def test_class_phase_ids():
    assert list(class_phase_ids({0: "Li", 1: "Cu"})) == [1, 0, -1, -1]
    assert list(class_phase_ids({0: "Li", 1: "Cu", 2: "LLZTO"})) == [1, 0, -1, 2]


def test_inference_follows_the_device():
    """The CUDA path on the meta device: outputs stay where the patterns are."""
    torch.manual_seed(0)
    model = fuse_batch_norm(create_model("orientation_cnn_tiny")).to("meta")
    out = predict_tensors(model, torch.empty(10, 60, 60, device="meta"), batch_size=4)
    assert out["quaternion"].shape == (10, 4) and out["class_probability"].shape == (10, 4)
    assert set(out) == {"quaternion", "class_probability", "uncertainty_deg"}  # no embedding
    assert all(v.device.type == "meta" for v in out.values())
    seg = create_model("segmentation_unet_tiny").to("meta").eval()
    feats = seg.pattern_features(torch.empty(30, 60, 60, device="meta"))
    logits = seg.classify(feats.view(1, 5, 6, -1))
    assert logits.shape == (1, 4, 5, 6) and logits.device.type == "meta"


def test_fused_batch_norm_matches():
    torch.manual_seed(0)
    model = create_model("orientation_cnn_small").eval()
    with torch.no_grad():
        model(torch.rand(64, 1, 60, 60) * 100)  # non-trivial running statistics
    x = torch.rand(8, 1, 60, 60) * 800
    with torch.no_grad():
        a, b = model(x), fuse_batch_norm(model)(x)
    assert torch.allclose(a["quaternion"].abs(), b["quaternion"].abs(), atol=1e-4)


@pytest.mark.parametrize("dose", [50.0, 1000.0])
def test_dose_estimate_recovers_the_rendered_dose(
    scenes, master_patterns, detector, make_cell, dose
):
    """Background-only patterns (electrolyte, yield 1) at a known dose: the estimate is N."""
    from synthebsd.simulate import render_patterns

    xmap = scenes[0][0]
    electrolyte = np.flatnonzero(xmap.prop["region"] == Region.ELECTROLYTE)
    mps = {0: master_patterns["Li"], 1: master_patterns["Cu"]}
    pats = render_patterns(
        xmap, mps, detector, PatternConfig(dose_counts=dose), 20.0, 3, 0, xmap.size
    )
    est = estimate_dose_counts(torch.from_numpy(pats[electrolyte].astype(np.float32)))
    assert abs(float(est.median()) / dose - 1) < 0.05
    assert abs(map_dose_counts(pats[electrolyte]) / dose - 1) < 0.05
