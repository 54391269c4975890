"""The configuration files the README's measurements were run with (``docs/figures``) stay
valid: each loads as the kind of run it is for."""

from __future__ import annotations

from pathlib import Path

import pytest

from synthebsd import config

FIGURES = Path(__file__).resolve().parents[2] / "docs" / "figures"

#: Each file and the loader of its kind of run.
LOADERS = {
    "benchmark_headline.yaml": config.load_benchmark_config,
    "benchmark_nlpar.yaml": config.load_benchmark_config,
    "evaluate_pc_map.yaml": config.load_evaluate_config,
    "evaluate_pc_offsets.yaml": config.load_evaluate_config,
    "robust_stream.yaml": config.load_dataset_config,
    "robust_train.yaml": config.load_train_run_config,
    "specimen_stream.yaml": config.load_dataset_config,
    "specimen_train.yaml": config.load_train_run_config,
    "stage5_stream.yaml": config.load_train_run_config,
}


def test_every_file_is_checked():
    assert sorted(p.name for p in FIGURES.glob("*.yaml")) == sorted(LOADERS)


@pytest.mark.parametrize("name", sorted(LOADERS))
def test_loads(name):
    LOADERS[name](FIGURES / name)


def test_robust_stream_randomises_the_instrument_only():
    """The domain-randomised stream varies the optics and the camera on top of the shipped
    stream, and leaves the physics of the unseen specimen cases at their defaults."""
    shipped = config.load_dataset_config(
        FIGURES.parents[1] / "synthebsd" / "models" / "default_stream.yaml"
    )
    robust = config.load_dataset_config(FIGURES / "robust_stream.yaml")
    added = set(robust.vary) - set(shipped.vary)
    assert {"patterns.psf_sigma_px", "patterns.camera.enabled"} <= added
    assert not any(("surface_layer" in p or "mixing" in p) for p in robust.vary)
    assert robust.scenes == shipped.scenes and robust.detector == shipped.detector
