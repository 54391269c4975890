"""``synthebsd train``: a tiny run on the stream and on a store, resumed to the same weights."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
import yaml
from safetensors.torch import load_file
from typer.testing import CliRunner

from synthebsd.cli import app
from synthebsd.config import (
    ConfigError,
    DatasetConfig,
    MasterPatternConfig,
    TrainRunConfig,
    load_dataset_config,
    load_train_run_config,
)

MP = MasterPatternConfig(engine="kinematical", half_size_px=150)
DOSE = (100.0, 1000.0)


@pytest.fixture(scope="module")
def data_config(make_cell_config, cache_dir):
    """Two 12 × 16 scenes of 32 × 32 kinematical patterns, doses 100-1,000 counts."""
    from synthebsd.phases import get_phase
    from synthebsd.simulate import get_master_pattern

    for name in ("Li", "Cu"):
        get_master_pattern(get_phase(name), 20.0, MP, cache_dir)
    cell = {"collector_um": 1.5, "metal_um": 3.0, "porosity": 0.1}
    scene = make_cell_config(shape_px=(12, 16), **cell).model_dump(mode="json")
    return DatasetConfig.model_validate(
        {
            "scenes": [{"scene": scene, "vary": {"pores.porosity": {"uniform": [0.0, 0.2]}}}],
            "n_scenes": 2,
            "rows_per_chunk": 4,
            "detector": {"shape_px": (32, 32)},
            "master_pattern": MP.model_dump(),
            "vary": {"patterns.dose_counts": {"log_uniform": list(DOSE)}},
            "pc_jitter_bruker": (0.005, 0.005, 0.005),
        }
    )


def _run_file(path, data, steps=24, **data_changes):
    run = {
        "data": {"stream": data.model_dump(mode="json"), "seed": 1, "shuffle_buffer": 100}
        | data_changes,
        "validation": {
            "stream": data.model_dump(mode="json") | {"n_scenes": 1},
            "seed": 9,
            "max_patterns": 64,
        },
        "train": {
            "model": "orientation_cnn_tiny",
            "steps": steps,
            "batch_size": 16,
            "warmup_steps": 4,
            "checkpoint_every_steps": 6,
            "log_every_steps": 4,
            "device": "cpu",
            "num_threads": 1,
        },
    }
    path.write_text(yaml.safe_dump(run))
    return path


def _train(config, out, cache, *extra):
    args = ["train", str(config), "--out", str(out), "--cache-dir", str(cache), *extra]
    return CliRunner().invoke(app, args)


def test_train_on_the_stream_writes_everything_and_resumes_to_the_same_weights(
    tmp_path, data_config, cache_dir
):
    from synthebsd.models import load_checkpoint, predict_orientations

    config = _run_file(tmp_path / "run.yaml", data_config)
    full = _train(config, tmp_path / "full", cache_dir)
    assert full.exit_code == 0, full.output
    assert "24/24 steps, complete" in full.output and "patterns/s" in full.output
    out = tmp_path / "full"
    for name in (
        "model.safetensors",
        "last.safetensors",
        "last_state.pt",
        "history.json",
        "metrics.json",
        "learning_curves.png",
        "config.yaml",
        "summary.json",
    ):
        assert (out / name).is_file(), name
    summary = json.loads((out / "summary.json").read_text())
    assert summary["complete"] and summary["steps_done"] == 24
    assert summary["median_patterns_per_second"] > 0
    metrics = json.loads((out / "metrics.json").read_text())["validation"]
    assert metrics["n_points"] == 64  # the held-out stream, cut at max_patterns
    history = json.loads((out / "history.json").read_text())
    assert [h["step"] for h in history if "loss" in h] == [4, 8, 12, 16, 20, 24]
    # config.yaml re-runs the same training; the input shape came from the data
    again = load_train_run_config(out / "config.yaml")
    assert again.train.model_kwargs["input_shape_px"] == [32, 32]

    ck = load_checkpoint(out / "model.safetensors")
    assert ck.detector_shape == (32, 32)
    assert ck.phase_names == {0: "Li", 1: "Cu"}
    assert ck.metadata["forward_model_key"][0]["engine"] == "kinematical"
    cov = ck.metadata["coverage"]
    # the dose estimate from the patterns lies near the drawn doses (damage is off)
    assert 0.5 * DOSE[0] < cov["dose_counts_min"] < cov["dose_counts_max"] < 2 * DOSE[1]
    # 24 steps of 16 = the 384 patterns of the two scenes once: the recorded PC range is
    # that of their indexable points, read from the stream itself
    from synthebsd.datasets import SyntheticPatternDataset

    pcs = np.array(
        [it["pc"].numpy() for it in SyntheticPatternDataset(data_config, 1) if it["phase_id"] >= 0]
    )
    assert np.allclose(cov["pc_bruker_min"], pcs.min(axis=0), atol=1e-6)
    assert np.allclose(cov["pc_bruker_max"], pcs.max(axis=0), atol=1e-6)
    xmap = predict_orientations(ck, np.zeros((3, 32, 32)) + 50.0)
    assert xmap.size == 3

    # interrupted after 10 steps (checkpoint at 6), then the same command again
    part = _train(config, tmp_path / "part", cache_dir, "--stop-after", "10")
    assert part.exit_code == 0 and "10/24 steps, interrupted" in part.output
    assert not (tmp_path / "part" / "model.safetensors").exists()
    rest = _train(config, tmp_path / "part", cache_dir)
    assert rest.exit_code == 0 and "24/24 steps, complete" in rest.output
    a = load_file(str(out / "model.safetensors"))
    b = load_file(str(tmp_path / "part" / "model.safetensors"))
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


def test_train_on_a_store(tmp_path, data_config, cache_dir):
    from synthebsd.models import load_checkpoint
    from synthebsd.workflows import generate_dataset

    store = tmp_path / "store.zarr"
    generate_dataset(data_config, store, seed=2, scheduler="synchronous", cache_dir=cache_dir,
                     progress=False)  # fmt: skip
    run = tmp_path / "run.yaml"
    run.write_text(
        yaml.safe_dump(
            {
                "data": {"store": "store.zarr"},  # relative to the run file
                "validation": {"store": "store.zarr", "max_patterns": 32},
                "train": {"model": "orientation_cnn_tiny", "steps": 8, "batch_size": 16,
                          "warmup_steps": 2, "device": "cpu", "num_threads": 1},
            }
        )
    )  # fmt: skip
    result = _train(run, tmp_path / "out", cache_dir, "--steps", "6")
    assert result.exit_code == 0, result.output
    assert "6/6 steps, complete" in result.output
    metrics = json.loads((tmp_path / "out" / "metrics.json").read_text())["validation"]
    assert metrics["n_points"] == 32
    assert load_checkpoint(tmp_path / "out" / "model.safetensors").detector_shape == (32, 32)
    # --store replaces the run's data (here a stream) by a store, keeping its mixing
    streamed = _run_file(tmp_path / "streamed.yaml", data_config, steps=6)
    result = _train(streamed, tmp_path / "override", cache_dir, "--store", str(store))
    assert result.exit_code == 0, result.output
    saved = yaml.safe_load((tmp_path / "override" / "config.yaml").read_text())["data"]
    assert saved["store"] == str(store) and saved["stream"] is None
    assert saved["shuffle_buffer"] == 100


def test_bad_run_configs_are_refused_with_the_field(tmp_path, data_config, cache_dir):
    with pytest.raises(ValueError, match="exactly one of 'stream'"):
        TrainRunConfig.model_validate({"data": {"seed": 0}})
    path = _run_file(tmp_path / "bad.yaml", data_config)
    bad = yaml.safe_load(path.read_text())
    bad["train"]["steps"] = 0
    path.write_text(yaml.safe_dump(bad))
    with pytest.raises(ConfigError, match="train.steps"):
        load_train_run_config(path)
    result = _train(path, tmp_path / "out", cache_dir)
    assert result.exit_code == 2 and "train.steps" in result.output
    assert not (tmp_path / "out").exists()
    shape = _run_file(tmp_path / "shape.yaml", data_config)
    run = yaml.safe_load(shape.read_text())
    run["train"]["model_kwargs"] = {"input_shape_px": [60, 60]}
    shape.write_text(yaml.safe_dump(run))
    result = _train(shape, tmp_path / "out2", cache_dir)
    assert result.exit_code == 2 and "input_shape_px is (60, 60)" in result.output


def test_train_for_a_measured_detector_then_predict_that_map(
    tmp_path, make_cell_config, cache_dir
):
    """Ni trained for the detector of kikuchipy's nickel_ebsd_small, then run on that file."""
    import kikuchipy as kp

    from synthebsd.models import load_checkpoint
    from synthebsd.phases import get_phase
    from synthebsd.simulate import get_master_pattern

    ni_file = tmp_path / "ni.h5"
    kp.data.nickel_ebsd_small().save(ni_file)
    file_detector = kp.load(ni_file).detector
    for name in ("Ni", "Cu"):
        get_master_pattern(get_phase(name), 20.0, MP, cache_dir)
    scene = make_cell_config(shape_px=(10, 12), collector_um=1.5, metal_um=3.0, metal="Ni")
    data = DatasetConfig.model_validate(
        {
            "scenes": [{"scene": scene.model_dump(mode="json")}],
            "n_scenes": 1,
            "rows_per_chunk": 5,
            "detector": {"shape_px": (32, 32), "sample_tilt_deg": 65.0, "energy_kv": 15.0},
            "master_pattern": MP.model_dump(),
        }
    )
    config = _run_file(tmp_path / "run.yaml", data, steps=6)
    result = _train(config, tmp_path / "run", cache_dir, "--detector-from", str(ni_file))
    assert result.exit_code == 0, result.output
    assert "Detector from" in result.output and "20.0 kV" in result.output

    ck = load_checkpoint(tmp_path / "run" / "model.safetensors")
    trained = ck.metadata["detector"]
    assert ck.detector_shape == tuple(file_detector.shape) == (60, 60)
    assert trained["sample_tilt_deg"] == pytest.approx(file_detector.sample_tilt)
    pc_file = np.asarray(file_detector.pc).reshape(-1, 3).mean(axis=0)
    assert np.allclose(trained["pc_bruker"], pc_file, atol=1e-6)
    assert sorted(ck.phase_names.values()) == ["Cu", "Ni"]
    # the model renders at the file's energy: its forward-model key says 20 kV, not 15
    assert {k["energy_kv"] for k in ck.metadata["forward_model_key"]} == {20.0}

    out = tmp_path / "predicted"
    pred = CliRunner().invoke(app, ["predict", str(ck.path), str(ni_file), "--out", str(out)])
    assert pred.exit_code == 0, pred.output
    summary = json.loads((out / "summary.json").read_text())
    assert summary["map_shape"] == [3, 3] and summary["test_time_flip"] is False
    # the file's PCx is 0.42: no exact mirrored view, so the flip warns and is not calibrated
    args = ["predict", str(ck.path), str(ni_file), "--out", str(tmp_path / "f"), "--flip"]
    flipped = CliRunner().invoke(app, args)
    assert flipped.exit_code == 0 and "warning: The test-time flip assumes" in flipped.output
    run = yaml.safe_load(config.read_text()) | {
        "validation": {"stream": data.model_dump(mode="json")}
    }
    config.write_text(yaml.safe_dump(run))
    args = ["calibrate", str(ck.path), str(config), "--out", str(tmp_path / "c"), "--flip"]
    refused = CliRunner().invoke(app, args)
    assert refused.exit_code == 2 and "trained at PCx = 0.42" in refused.output

    # a store's patterns keep the detector they were rendered with
    store_run = tmp_path / "store.yaml"
    store_run.write_text(
        yaml.safe_dump({"data": {"store": "x.zarr"}, "train": {"steps": 2, "warmup_steps": 0}})
    )
    refused = _train(store_run, tmp_path / "no", cache_dir, "--detector-from", str(ni_file))
    assert refused.exit_code == 2 and "data.stream" in refused.output


def test_the_shipped_curriculum_configs_and_checkpoint_agree():
    """Stage 1 trains the same network on the same cells, detector and PC jitter as stage 2,
    on a dose range inside stage 2's; stages 3 and 4 fine-tune it on stores of stage 2's
    stream (all extend default_stream.yaml), held out as stage 2; the shipped checkpoint is stage 4's and covers what they
    trained."""
    from importlib.resources import files

    from synthebsd.models import load_checkpoint
    from synthebsd.models._shipped import shipped_checkpoint

    folder = files("synthebsd.models")
    pre = load_train_run_config(folder / "default_pretrain.yaml")
    full = load_train_run_config(folder / "default_train.yaml")
    fine = load_train_run_config(folder / "default_finetune.yaml")
    last = load_train_run_config(folder / "default_refine.yaml")
    stored = load_dataset_config(folder / "default_finetune_data.yaml")
    # stages 2-4 and the stored set are the one stream of default_stream.yaml ('extends')
    stream = load_dataset_config(folder / "default_stream.yaml")
    assert full.data.stream == stream
    assert full.validation.stream == stream.model_copy(update={"n_scenes": 6})
    assert stored == stream.model_copy(update={"n_scenes": 300})
    changed = {"steps", "learning_rate", "seed", "validate_every_steps"}
    assert last.train.model_dump(exclude=changed) == fine.train.model_dump(exclude=changed)
    network = (full.train.model, full.train.model_kwargs)
    assert (pre.train.model, pre.train.model_kwargs) == network
    assert (fine.train.model, fine.train.model_kwargs) == network
    assert (last.train.model, last.train.model_kwargs) == network
    s1, s2 = pre.data.stream, full.data.stream
    assert s1.scenes == s2.scenes and s1.detector == s2.detector
    assert s1.pc_jitter_bruker == s2.pc_jitter_bruker
    lo1, hi1 = s1.vary["patterns.dose_counts"].extremes()
    lo2, hi2 = s2.vary["patterns.dose_counts"].extremes()
    assert lo2 <= lo1 < hi1 <= hi2 and lo2 <= 25.0 and hi2 >= 2000.0
    assert "patterns.damage.enabled" not in s1.vary and "patterns.damage.enabled" in s2.vary
    assert stored.model_copy(update={"n_scenes": s2.n_scenes}) == s2
    assert fine.data.store is not None and fine.validation == full.validation
    # stage 4 reads another store (written with another seed), held out as stage 3
    assert last.data.store not in (None, fine.data.store) and last.validation == fine.validation

    meta = load_checkpoint(shipped_checkpoint()).metadata
    assert meta["model"]["name"] == last.train.model
    assert meta["training"]["step"] == last.train.steps
    assert meta["training"]["initialised_from"]["step"] == fine.train.steps
    # its predicted error is calibrated on default_calibrate.yaml's held-out stream: stage
    # 4's configuration with 60 scenes of the same stream at a seed used nowhere else
    calibrate = load_train_run_config(folder / "default_calibrate.yaml")
    assert calibrate.train == last.train and calibrate.data == last.data
    assert calibrate.validation.stream == stream.model_copy(update={"n_scenes": 60})
    calibration = meta["uncertainty_calibration"]
    assert calibration["data"]["seed"] == calibrate.validation.seed
    assert calibrate.validation.seed not in (last.data.seed, fine.data.seed, last.validation.seed)
    assert calibration["n_points"] >= 60000 and "pc_correction" not in meta
    # ... with the test-time flip (calibrate --flip), whose mirror is exact at PCx 0.5
    assert meta["test_time_flip"] is True and s2.detector.pc_bruker[0] == 0.5
    # the issue: at least +-0.02 around the demo's PC in each coordinate, doses 25-2,000
    cov, pc = meta["coverage"], np.array(s2.detector.pc_bruker)
    assert np.all(np.array(cov["pc_bruker_min"]) <= pc - 0.02)
    assert np.all(np.array(cov["pc_bruker_max"]) >= pc + 0.02)
    assert cov["dose_counts_min"] <= 30.0 and cov["dose_counts_max"] >= 1900.0


def test_calibrate_a_checkpoint_on_the_run_held_out_data(tmp_path, data_config, cache_dir):
    from synthebsd.models import (
        apply_uncertainty_calibration,
        load_checkpoint,
        predict_orientations,
    )

    run = _run_file(tmp_path / "run.yaml", data_config, steps=6)
    assert _train(run, tmp_path / "trained", cache_dir).exit_code == 0
    config = yaml.safe_load(run.read_text())
    config["validation"] = {"stream": data_config.model_dump(mode="json") | {"n_scenes": 3},
                            "seed": 9}  # fmt: skip
    run.write_text(yaml.safe_dump(config))
    checkpoint = tmp_path / "trained" / "model.safetensors"
    args = ["calibrate", str(checkpoint), str(run), "--out", str(tmp_path / "cal"),
            "--cache-dir", str(cache_dir)]  # fmt: skip
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    assert "raw: predicted < 2 deg" in result.output and "calibrated:" in result.output
    out = tmp_path / "cal"
    for name in ("model.safetensors", "calibration_raw.png", "calibration.png", "summary.json"):
        assert (out / name).is_file(), name
    summary = json.loads((out / "summary.json").read_text())
    assert summary["pc_correction"] is None and summary["pc_correction_skipped"] == "not asked for"
    raw, cal = (summary["metrics_in_sample"][k] for k in ("raw", "calibrated"))
    # in sample the calibrated mean predicted error is the observed one; the raw head is not
    assert cal["mean_predicted_error_deg"] == pytest.approx(cal["mean_error_deg"], rel=1e-3)
    assert raw["mean_error_deg"] == cal["mean_error_deg"]
    assert raw["mean_predicted_error_deg"] != pytest.approx(raw["mean_error_deg"], rel=1e-3)
    before, after = load_checkpoint(checkpoint), load_checkpoint(out / "model.safetensors")
    assert after.metadata["weights_sha256"] == before.metadata["weights_sha256"]
    assert after.uncertainty_calibration["n_points"] == summary["n_fitted"] >= 200
    patterns = np.random.default_rng(0).poisson(200.0, (5, 32, 32)).astype(np.float32)
    a, b = (predict_orientations(c, patterns, max_uncertainty_deg=np.inf) for c in (before, after))
    expected = apply_uncertainty_calibration(
        after.uncertainty_calibration, a.prop["uncertainty_deg"]
    )
    np.testing.assert_allclose(b.prop["uncertainty_deg"], expected)
    # 6 steps leave the network tens of degrees off: no PC effect to fit, and it says so
    asked = CliRunner().invoke(app, [*args[:-4], "--out", str(tmp_path / "pc"), *args[-2:],
                                     "--pc-correction"])  # fmt: skip
    assert asked.exit_code == 0, asked.output
    assert "No PC correction: A PC correction needs at least 200" in asked.output
    assert load_checkpoint(tmp_path / "pc" / "model.safetensors").pc_correction is None
    # --flip: fitted on the two views' predicted error, and the checkpoint predicts so
    flip = CliRunner().invoke(app, [*args[:-4], "--out", str(tmp_path / "flip"), *args[-2:],
                                    "--flip"])  # fmt: skip
    assert flip.exit_code == 0, flip.output
    assert json.loads((tmp_path / "flip" / "summary.json").read_text())["test_time_flip"]
    flipped = load_checkpoint(tmp_path / "flip" / "model.safetensors")
    assert flipped.test_time_flip and not after.test_time_flip
    c = predict_orientations(flipped, patterns, max_uncertainty_deg=np.inf)
    d = predict_orientations(before, patterns, max_uncertainty_deg=np.inf, flip=True)
    assert "flip_angle_deg" in c.prop and np.array_equal(c.rotations.data, d.rotations.data)
    expected = apply_uncertainty_calibration(
        flipped.uncertainty_calibration, d.prop["uncertainty_deg"]
    )
    np.testing.assert_allclose(c.prop["uncertainty_deg"], expected)
    # turned views come in flip pairs, as angles in degrees
    for extra, message in ((["--rotations", "5"], "needs --flip"),
                           (["--flip", "--rotations", "5,a"], "takes angles")):  # fmt: skip
        bad = CliRunner().invoke(app, [*args[:-4], "--out", str(tmp_path / "bad"), *args[-2:],
                                       *extra])  # fmt: skip
        assert bad.exit_code == 2 and message in bad.output, bad.output
    # no held-out data, no calibration
    del config["validation"]
    run.write_text(yaml.safe_dump(config))
    refused = CliRunner().invoke(app, [*args[:-4], "--out", str(tmp_path / "no"), *args[-2:]])
    assert refused.exit_code == 2 and "no 'validation'" in refused.output


def test_calibrate_fits_and_stores_a_pc_correction(tmp_path, data_config, cache_dir, monkeypatch):
    """The fitted path, with held-out predictions that read a PC offset as a rotation
    (a network good enough for a PC fit takes hours to train)."""
    from orix.quaternion import Rotation

    from synthebsd import models
    from synthebsd.workflows import calibrate_run

    run = _run_file(tmp_path / "run.yaml", data_config, steps=6)
    assert _train(run, tmp_path / "trained", cache_dir).exit_code == 0
    checkpoint = tmp_path / "trained" / "model.safetensors"
    reference = np.asarray(models.read_checkpoint_metadata(checkpoint)["detector"]["pc_bruker"])
    rng = np.random.default_rng(11)
    n, a = 600, np.diag([1.0, -1.0, 0.5])
    truth = Rotation.random(n)
    pc = reference + rng.normal(0.0, 0.01, (n, 3))
    omega = (pc - reference) @ a.T + rng.normal(0.0, 0.003, (n, 3))
    angle = np.linalg.norm(omega, axis=1)
    pred = truth * Rotation.from_axes_angles(omega / angle[:, None], angle)

    def held_out(ck, data, *args):
        err = np.rad2deg(angle)
        return {"error_deg": err, "uncertainty_deg": err + rng.uniform(0.1, 1.0, n),
                "predicted_class": np.full(n, 1), "region": np.full(n, 1),
                "phase_id": np.zeros(n, int), "quaternion": pred.data,
                "true_quaternion": truth.data, "pc_bruker": pc}  # fmt: skip

    monkeypatch.setattr(models, "held_out_predictions", held_out)
    config = load_train_run_config(run)
    summary = calibrate_run(checkpoint, config, tmp_path / "cal", progress=False,
                            cache_dir=cache_dir, pc_correction=True)  # fmt: skip
    fit = summary["pc_correction"]
    np.testing.assert_allclose(fit["rad_per_pc"], a, atol=0.05)
    assert fit["median_error_deg"] > 0.5 > fit["median_error_deg_corrected"]
    assert fit["data"]["seed"] == config.validation.seed
    ck = models.load_checkpoint(tmp_path / "cal" / "model.safetensors")
    assert ck.pc_correction == fit
    # the uncertainty calibration is fitted to the errors left after the correction
    cal = summary["metrics_in_sample"]["calibrated"]
    assert cal["mean_error_deg"] == pytest.approx(fit["median_error_deg_corrected"], rel=0.5)
    assert cal["mean_error_deg"] < summary["metrics_in_sample"]["raw"]["mean_error_deg"] / 2
