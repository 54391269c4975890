"""Every registered model builds, runs forward and backward, on the CPU and the meta device."""

from __future__ import annotations

import pytest
import torch

from synthebsd.config import ConfigError, TrainConfig
from synthebsd.models import (
    UnknownModelError,
    create_model,
    list_models,
    model_config,
    orientation_losses,
    segmentation_losses,
    symmetry_table,
)


def test_list_models_filters_and_is_explicit():
    names = list_models()
    assert names == sorted(names) and len(names) >= 4
    assert list_models("orientation_*") == [n for n in names if n.startswith("orientation_")]
    assert list_models("segmentation_*") and list_models("nothing*") == []


def test_unknown_model_and_bad_settings_are_clear():
    with pytest.raises(UnknownModelError, match="orientation_cnn_small"):
        create_model("resnet50")
    with pytest.raises(ConfigError, match="chanels"):
        model_config("orientation_cnn_tiny", chanels=(4,))
    with pytest.raises(ConfigError, match="input_shape_px"):
        model_config("orientation_cnn_tiny", input_shape_px=(8, 8))


def _batch(model, device, n=4):
    g = torch.Generator().manual_seed(0)
    if model.task == "orientation":
        rows, cols = model.config.input_shape_px
        q = torch.randn(n, 4, generator=g)
        return {
            "pattern": (torch.rand(n, 1, rows, cols, generator=g) * 500).to(device),
            "quaternion": (q / q.norm(dim=1, keepdim=True)).to(device),
            "phase_id": torch.tensor([0, 1, -1, 0])[:n].to(device),
            "region": torch.tensor([1, 0, 2, 1])[:n].to(device),
        }
    rows, cols = model.config.input_shape_px
    return {
        "patterns": (torch.rand(2, 5, 6, rows, cols, generator=g) * 500).to(device),
        "region": torch.randint(0, 4, (2, 5, 6), generator=g).to(device),
        "grain_id": torch.randint(-1, 3, (2, 5, 6), generator=g).to(device),
    }


def _loss(model, batch, device):
    config = TrainConfig(model=model.model_name)
    if model.task == "orientation":
        ops = torch.as_tensor(symmetry_table({0: "Li", 1: "Cu"}), dtype=torch.float32)
        return orientation_losses(model, batch, ops.to(device), config)[0]
    return segmentation_losses(model, batch, config)[0]


@pytest.mark.parametrize("name", list_models())
def test_smoke_every_registered_model(name):
    torch.manual_seed(0)
    model = create_model(name, input_shape_px=(32, 32))
    batch = _batch(model, "cpu")
    loss = _loss(model, batch, "cpu")
    assert torch.isfinite(loss)
    loss.backward()
    grads = [p.grad for p in model.parameters() if p.requires_grad]
    assert all(g is not None and torch.isfinite(g).all() for g in grads)
    model.eval()
    with torch.no_grad():
        out = model(batch["pattern"] if model.task == "orientation" else batch["patterns"])
    if model.task == "orientation":
        assert out["quaternion"].shape == (4, 4)
        assert torch.allclose(out["quaternion"].norm(dim=1), torch.ones(4), atol=1e-5)
        assert out["class_logits"].shape == (4, 4) and (out["uncertainty_deg"] > 0).all()
    else:
        assert out["class_logits"].shape == (2, model.config.n_classes, 5, 6)
    with pytest.raises(ValueError, match="px"):
        model(
            torch.zeros(2, 1, 20, 20)
            if model.task == "orientation"
            else torch.zeros(1, 2, 2, 20, 20)
        )


@pytest.mark.parametrize("name", list_models())
def test_every_model_and_loss_follow_the_device(name):
    """The CUDA path on torch's meta device: any tensor made on the CPU would fail."""
    torch.manual_seed(0)
    model = create_model(name, input_shape_px=(32, 32)).to("meta")
    batch = _batch(model, "meta")
    loss = _loss(model, batch, "meta")
    assert loss.device.type == "meta"
    loss.backward()
    assert all(p.grad.device.type == "meta" for p in model.parameters())
