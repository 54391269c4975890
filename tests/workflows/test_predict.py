"""`synthebsd predict` on pattern files our pipeline writes: outputs, warnings, errors."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from typer.testing import CliRunner

from synthebsd.cli import app
from synthebsd.config import PatternConfig, TrainConfig
from synthebsd.io import load_crystal_map, save_patterns
from synthebsd.simulate import simulate_patterns
from synthebsd.workflows import predict_map


class _Items(torch.utils.data.Dataset):
    """The contract's keys that orientation training reads, from a map and its patterns."""

    def __init__(self, xmap, patterns, detector):
        self.phase_names, self.detector = {0: "Li", 1: "Cu"}, detector
        self.p = torch.from_numpy(patterns.reshape(-1, 1, 60, 60).astype(np.float32))
        self.q = torch.from_numpy(xmap.rotations.data.astype(np.float32))
        self.pid = torch.from_numpy(xmap.phase_id.astype(np.int64))
        self.region = torch.from_numpy(np.asarray(xmap.prop["region"], dtype=np.int64))
        self.pc = torch.tensor(np.ravel(detector.pc), dtype=torch.float32)

    def __len__(self):
        return len(self.p)

    def __getitem__(self, i):
        return {"pattern": self.p[i], "quaternion": self.q[i], "phase_id": self.pid[i],
                "region": self.region[i], "pc": self.pc}  # fmt: skip


@pytest.fixture(scope="module")
def files(make_cell, master_patterns, detector, tmp_path_factory):
    """A 10 × 12 map as h5ebsd and a checkpoint trained briefly on it (seconds)."""
    from synthebsd.models import train

    root = tmp_path_factory.mktemp("predict")
    xmap = make_cell(5, shape_px=(10, 12), collector_um=1.5, metal_um=2.5, porosity=0.3)
    mps = {0: master_patterns["Li"], 1: master_patterns["Cu"]}
    signal = simulate_patterns(xmap, mps, detector, PatternConfig(), 20.0, seed=5)
    save_patterns(signal, root / "map.h5")
    patterns = np.asarray(signal.data.compute())
    config = TrainConfig(
        model="orientation_cnn_tiny", steps=30, batch_size=24, warmup_steps=3,
        checkpoint_every_steps=1000, device="cpu", num_threads=1,
    )  # fmt: skip
    threads = torch.get_num_threads()
    result = train(config, _Items(xmap, patterns, detector), root / "run", progress=False)
    torch.set_num_threads(threads)
    return {"map": root / "map.h5", "checkpoint": result["checkpoint"], "root": root,
            "truth": xmap}  # fmt: skip


def _invoke(*args):
    return CliRunner().invoke(app, ["predict", *map(str, args)])


def test_predict_writes_map_figures_and_summary(files, tmp_path):
    result = _invoke(files["checkpoint"], files["map"], "--out", tmp_path, "--max-uncertainty", 90)
    assert result.exit_code == 0, result.output
    for name in ("neural.h5", "neural_ipf.png", "neural_uncertainty.png", "neural_classes.png",
                 "summary.json"):  # fmt: skip
        assert (tmp_path / name).is_file(), name
    s = json.loads((tmp_path / "summary.json").read_text())
    assert s["n_patterns"] == 120 and s["map_shape"] == [10, 12] and s["scan_unit"] == "um"
    assert s["step_sizes"] == [0.5, 0.5] and s["max_uncertainty_deg"] == 90
    assert s["checkpoint"]["model"] == "orientation_cnn_tiny" and s["warnings"] == []
    assert s["detector"]["pc_convention"] == "bruker" and s["detector"]["shape_px"] == [60, 60]
    assert 900 < s["dose_counts_estimated"] < 1300
    assert abs(sum(s["fraction_per_class"].values()) - 1) < 1e-9
    xmap = load_crystal_map(tmp_path / "neural.h5")
    assert xmap.shape == (10, 12)
    assert s["fraction_indexed"] == pytest.approx(float((xmap.phase_id >= 0).mean()))
    assert np.all(xmap.prop["uncertainty_deg"] > 0)


def test_predict_after_nlpar(files, tmp_path):
    """--nlpar: the network reads the averaged patterns; too large a radius is refused."""
    args = (files["checkpoint"], files["map"], "--max-uncertainty", 90)
    for name, extra in (("raw", ()), ("nlpar", ("--nlpar", 2))):
        result = _invoke(*args, "--out", tmp_path / name, *extra)
        assert result.exit_code == 0, result.output
    s = json.loads((tmp_path / "nlpar" / "summary.json").read_text())
    assert s["nlpar"]["search_radius"] == 2 and s["nlpar"]["lambda"] > 0
    assert json.loads((tmp_path / "raw" / "summary.json").read_text())["nlpar"] is None
    raw, averaged = (load_crystal_map(tmp_path / n / "neural.h5") for n in ("raw", "nlpar"))
    assert not np.allclose(raw.prop["uncertainty_deg"], averaged.prop["uncertainty_deg"])
    result = _invoke(*args, "--out", tmp_path / "big", "--nlpar", 5)
    assert result.exit_code == 2 and "at least 12 × 12 points, got 10 × 12" in result.output


def test_predict_warns_outside_the_trained_pc_and_dose(files, tmp_path):
    result = _invoke(files["checkpoint"], files["map"], "--out", tmp_path, "--pc", 0.5, 0.3, 0.55)
    assert result.exit_code == 0, result.output
    assert "warning: PCy" in result.output
    with pytest.warns(Warning, match="PCy"):
        summary = predict_map(
            files["checkpoint"], files["map"], tmp_path, pc_bruker=(0.5, 0.3, 0.55)
        )
    assert any("PCy" in w for w in summary["warnings"])


def test_predict_refuses_bad_checkpoints_and_detectors(files, tmp_path):
    result = _invoke(files["checkpoint"], files["map"], "--out", tmp_path, "--sample-tilt", 60)
    assert result.exit_code == 2 and "sample_tilt_deg" in result.output
    broken = tmp_path / "broken.safetensors"
    broken.write_bytes(files["checkpoint"].read_bytes()[:1000])
    result = _invoke(broken, files["map"], "--out", tmp_path)
    assert result.exit_code == 2 and "error:" in result.output and "truncated" in result.output
    result = _invoke(files["checkpoint"], tmp_path / "missing.h5", "--out", tmp_path)
    assert result.exit_code == 2 and "No pattern file" in result.output


@pytest.mark.parametrize("refine_pc", ["none", "map"])
def test_refine_takes_network_starts_to_the_truth(
    refine_pc, files, tmp_path, monkeypatch, cache_dir
):
    """--refine from starts 2° off the truth, the shipped network's typical error (a
    30-step test network's own orientations are tens of degrees off, so they are
    replaced; its classes and predicted errors are kept). The patterns were made from the
    same kinematical master patterns, so this checks the plumbing (phases, detector,
    background correction, NCC cut), not the accuracy on realistic patterns, which
    ``synthebsd evaluate`` measures."""
    from orix.quaternion import Rotation

    from synthebsd import models
    from synthebsd.analyze import as_map, crystalline_phases, orientation_error_map

    truth = files["truth"]
    real = models.predict_orientations
    rng = np.random.default_rng(8)

    def two_degrees_off(*args, **kwargs):
        net = real(*args, **kwargs)
        axes = rng.normal(size=(truth.size, 3))
        off = Rotation.from_axes_angles(axes, np.full(truth.size, np.radians(2.0)))
        rotations = (off * truth.rotations).data
        props = {k: np.asarray(v) for k, v in net.prop.items()}
        phases = crystalline_phases(truth.phases)  # the checkpoint's ids: 0 Li, 1 Cu
        return as_map(rotations, truth.phase_id.copy(), phases, props, net)

    monkeypatch.setattr(models, "predict_orientations", two_degrees_off)
    result = _invoke(
        files["checkpoint"], files["map"], "--out", tmp_path, "--refine",
        "--engine", "kinematical", "--cache-dir", cache_dir, "--max-uncertainty", 90,
        "--refine-pc", refine_pc,
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "+ refinement:" in result.output
    for name in ("neural_refined.h5", "neural_refined_ipf.png", "neural_refined_score.png"):
        assert (tmp_path / name).is_file(), name
    s = json.loads((tmp_path / "summary.json").read_text())["refined"]
    assert set(s["seconds_by_stage"]) == {"network_s", "preprocess_s", "refine_s"}
    assert s["patterns_per_second"] > 0 and s["master_patterns"]["engine"] == "kinematical"
    if refine_pc == "map":  # the file's PC, fitted back from the map (test detector's)
        assert np.abs(np.subtract(s["refined_pc"]["pc"], (0.5, 0.25, 0.55))).max() < 0.002
    else:
        assert s["refined_pc"] is None
    refined = load_crystal_map(tmp_path / "neural_refined.h5")
    assert s["fraction_indexed"] == pytest.approx(float((refined.phase_id >= 0).mean()))
    solid = (truth.phase_id >= 0) & ~np.asarray(truth.prop["pore"], dtype=bool)
    err = orientation_error_map(truth, refined)[solid]
    assert np.mean(err < 0.5) > 0.9, np.nanpercentile(err, [50, 90])
    # the neural map is the network's (here 2° off), not the refinement's
    neural = load_crystal_map(tmp_path / "neural.h5")
    assert np.nanmedian(orientation_error_map(truth, neural)[solid]) == pytest.approx(2, abs=0.01)


def test_refine_needs_a_known_engine_and_pc_mode(files, tmp_path):
    result = _invoke(files["checkpoint"], files["map"], "--out", tmp_path, "--refine",
                     "--engine", "bloch")  # fmt: skip
    assert result.exit_code == 2 and "engine must be" in result.output
    result = _invoke(files["checkpoint"], files["map"], "--out", tmp_path, "--refine",
                     "--refine-pc", "all")  # fmt: skip
    assert result.exit_code == 2 and "refine_pc must be" in result.output


def test_shipped_names_the_default_checkpoint(files, tmp_path):
    from synthebsd.models import shipped_checkpoint

    result = _invoke("shipped", files["map"], "--out", tmp_path)
    assert result.exit_code == 0, result.output
    s = json.loads((tmp_path / "summary.json").read_text())
    assert s["checkpoint"]["path"] == str(shipped_checkpoint().resolve())
    assert s["checkpoint"]["model"] == "orientation_cnn_small"
