"""The study's neural rows: a checkpoint beside the classical methods, or skipped with a reason.

A tiny network is overfitted on the study's own realistic patterns (rendered by a first
run without it); the second run of the same seed renders the same patterns, so the
network's orientations are close and refinement from them (no dictionary) must bring
them closer. Checkpoints that do not fit are skipped with a message, not a crash.
"""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from torch.utils.data import Dataset

from synthebsd.analyze import indexing_summary, orientation_error_map
from synthebsd.config import DetectorConfig, IndexingConfig, MasterPatternConfig, StudyConfig
from synthebsd.conventions import Region
from synthebsd.io import load_crystal_map, load_patterns
from synthebsd.models import read_checkpoint_metadata
from synthebsd.workflows import run_study

SHAPE = (32, 32)


def _study(make_cell_config, checkpoint, **indexing):
    settings = {"hough": False, "dictionary": False, "kinematical_dictionary": False,
                "neural_checkpoint": checkpoint} | indexing  # fmt: skip
    return StudyConfig(
        seed=4,
        master_pattern=MasterPatternConfig(engine="kinematical", half_size_px=150),
        detector=DetectorConfig(shape_px=SHAPE),
        scene=make_cell_config(shape_px=(10, 12), collector_um=1.5, metal_um=3.0, porosity=0.1),
        indexing=IndexingConfig(**settings),
        forward_models=("realistic",),
    )


class _StudyItems(Dataset):
    """The study's patterns with the truth's labels, one item per point."""

    def __init__(self, out):
        truth = load_crystal_map(out / "truth.h5")
        patterns = np.asarray(load_patterns(out / "patterns.h5").data, dtype=np.float32)
        self.phase_names = {0: "Li", 1: "Cu"}
        self.detector = load_patterns(out / "patterns.h5", lazy=True).detector
        q = truth.rotations.data.astype(np.float32)
        region = np.asarray(truth.prop["region"]).astype(np.int64)
        flat = patterns.reshape(-1, *SHAPE)
        self.items = [
            {"pattern": torch.from_numpy(flat[i])[None], "quaternion": torch.from_numpy(q[i]),
             "phase_id": torch.tensor(int(truth.phase_id[i])), "region": torch.tensor(region[i])}
            for i in range(truth.size)
        ]  # fmt: skip

    def __len__(self):
        return len(self.items)

    def __getitem__(self, i):
        return self.items[i]


@pytest.fixture(scope="module")
def overfitted(tmp_path_factory, make_cell_config, cache_dir):
    """(study folder without the network, checkpoint overfitted on its 120 patterns)."""
    from synthebsd.config import TrainConfig
    from synthebsd.models import train

    first = tmp_path_factory.mktemp("plain")
    run_study(_study(make_cell_config, None), first, cache_dir)
    torch.set_num_threads(1)
    config = TrainConfig(model="orientation_cnn_tiny", model_kwargs={"input_shape_px": SHAPE},
                         steps=250, batch_size=40, learning_rate=3e-3, warmup_steps=10,
                         checkpoint_every_steps=1000, log_every_steps=50, device="cpu",
                         num_threads=1)  # fmt: skip
    out = tmp_path_factory.mktemp("net")
    result = train(config, _StudyItems(first), out, progress=False)
    return first, result["checkpoint"]


def test_neural_rows_beside_the_classical_ones(
    overfitted, tmp_path, make_cell_config, cache_dir, monkeypatch
):
    from synthebsd.workflows import _study as study_module
    from synthebsd.workflows import _study_neural as neural_module

    first, checkpoint = overfitted
    coarse_steps = {}  # each refinement's coarse steps and binning, by the calling module
    variants = {}  # and whether it starts from the 60° <111> variants too
    for module in (study_module, neural_module):

        def recording(*args, _module=module, _refine=module.refine_orientations, **kwargs):
            coarse_steps[_module.__name__] = (kwargs["coarse_steps"], kwargs["coarse_binning"])
            variants[_module.__name__] = args[7]  # pseudo_symmetry
            return _refine(*args, **kwargs)

        monkeypatch.setattr(module, "refine_orientations", recording)
    config = _study(make_cell_config, str(checkpoint), dictionary=True)
    summary = run_study(config, tmp_path, cache_dir)
    # the network's starts get more coarse steps than the dictionary's, binned as coarsely
    # as the detector allows up to neural_refine_coarse_binning
    indexing = IndexingConfig()
    assert coarse_steps == {
        study_module.__name__: (indexing.refine_coarse_steps, indexing.refine_coarse_binning),
        neural_module.__name__: (indexing.neural_refine_coarse_steps, 2),  # 3 does not
    }  # divide this test's 32 × 32 detector: the largest binning up to 3 that does
    assert tuple(config.detector.shape_px) == (32, 32)
    assert indexing.neural_refine_coarse_steps > indexing.refine_coarse_steps
    # and the dictionary's starts get the pseudo-symmetric variants, the network's not
    assert variants == {study_module.__name__: True, neural_module.__name__: False}
    assert summary["neural"]["skipped"] is None
    assert summary["neural"]["checkpoint"] == str(checkpoint)
    assert summary["neural"]["test_time_flip"] is False  # a freshly trained checkpoint
    methods = summary["methods"]
    assert {"dictionary", "refined", "neural", "neural_refined"} <= set(methods)
    # the same seed rendered the same patterns the network was fitted on
    a = load_patterns(first / "patterns.h5").data
    assert np.array_equal(a, load_patterns(tmp_path / "patterns.h5").data)
    truth = load_crystal_map(tmp_path / "truth.h5")
    for name in ("neural", "neural_refined"):
        xmap = load_crystal_map(tmp_path / f"{name}.h5")
        again = indexing_summary(truth, xmap, None, ["Li", "Cu"])
        for key in ("median_error_deg", "fraction_within_2deg", "fraction_not_indexed"):
            assert again[key] == pytest.approx(methods[name][key]), (name, key)
        assert methods[name]["forward_model"] == "realistic"
        assert methods[name]["n_points"] == methods["refined"]["n_points"]
    neural, refined = methods["neural"], methods["neural_refined"]
    assert neural["fraction_within_5deg"] > 0.5  # overfitted
    # Refined from the network or from the dictionary: the same accuracy, at the floor set
    # by the indexer's model (half the Lambert resolution, a 0.003 PC error), whose broad
    # NCC peak leaves the two a few tenths of a degree apart
    both = load_crystal_map(tmp_path / "refined.h5")
    apart = orientation_error_map(both, load_crystal_map(tmp_path / "neural_refined.h5"))
    close = apart[np.isfinite(apart)]
    assert close.size > 0.5 * neural["n_points"]
    assert np.median(close) < 0.5  # measured 0.21 deg
    assert refined["median_error_deg"] == pytest.approx(
        methods["refined"]["median_error_deg"], abs=0.1
    )
    # refinement starts from the network's orientation of every point it calls Li or Cu,
    # sure or not, and stays in its trust region; the neural row drops the unsure ones,
    # neural + refinement those it leaves below the NCC cut
    start = load_crystal_map(tmp_path / "neural.h5")
    end = load_crystal_map(tmp_path / "neural_refined.h5")
    crystalline = np.isin(start.prop["region"], [Region.METAL, Region.COLLECTOR])
    sure = start.prop["uncertainty_deg"] <= read_checkpoint_metadata(checkpoint)[
        "max_uncertainty_deg"]  # fmt: skip
    converged = end.prop["scores"] >= IndexingConfig().min_dictionary_score
    assert np.array_equal(end.phase_id >= 0, crystalline & converged)
    assert np.array_equal(start.phase_id >= 0, crystalline & sure)
    assert np.array_equal(start.phase_id[sure & converged], end.phase_id[sure & converged])
    moved = np.rad2deg((start.rotations[crystalline].outer(
        ~end.rotations[crystalline]).angle).diagonal())  # fmt: skip
    assert moved.max() <= 8.0 + 1e-3
    # the neural pipeline's time includes the network's
    assert refined["seconds"] > neural["seconds"]
    written = json.loads((tmp_path / "summary.json").read_text())
    assert written["methods"]["neural"]["median_error_deg"] == pytest.approx(
        neural["median_error_deg"]
    )
    err = orientation_error_map(truth, end)
    assert np.nanmedian(err[truth.phase_id >= 0]) < 1.0


@pytest.mark.parametrize(
    "problem", ["missing", "corrupt", "detector"], ids=["missing", "corrupt", "detector"]
)
def test_unfit_checkpoints_are_skipped_with_a_reason(
    problem, overfitted, tmp_path, make_cell_config, cache_dir, capsys
):
    _, checkpoint = overfitted
    config = _study(make_cell_config, str(checkpoint))
    if problem == "missing":
        config = _study(make_cell_config, str(tmp_path / "none.safetensors"))
        expected = "No checkpoint file"
    elif problem == "corrupt":
        bad = tmp_path / "bad.safetensors"
        bad.write_bytes(checkpoint.read_bytes()[:-100])
        config = _study(make_cell_config, str(bad))
        expected = "truncated"
    else:
        config = config.model_copy(update={"detector": DetectorConfig(shape_px=(40, 40))})
        expected = "trained on (32, 32) px"
    summary = run_study(config, tmp_path, cache_dir)
    assert expected in summary["neural"]["skipped"]
    assert capsys.readouterr().out.count("neural rows skipped") == 1  # said once
    assert "neural" not in summary["methods"] and "neural_refined" not in summary["methods"]
    assert not (tmp_path / "neural.h5").exists()


def test_no_checkpoint_no_rows(tmp_path, make_cell_config, cache_dir):
    summary = run_study(_study(make_cell_config, None), tmp_path, cache_dir)
    assert summary["neural"]["skipped"] == "indexing.neural_checkpoint is None"
    assert not any(m.startswith("neural") for m in summary["methods"])


def test_benchmark_and_insitu_runs_share_the_study_neural_rows(
    overfitted, make_cell_config, cache_dir, capsys
):
    from synthebsd.analyze import indexing_summary
    from synthebsd.workflows._runs import index_run

    first, checkpoint = overfitted
    truth = load_crystal_map(first / "truth.h5")
    config = _study(make_cell_config, None)
    methods = ("neural", "neural_refined")
    results, _, info = index_run(config, truth, "realistic", methods, checkpoint, cache_dir)
    assert set(results) == set(methods)
    for name in methods:
        summary = indexing_summary(truth, results[name].xmap, None, ["Li", "Cu"])
        assert summary["fraction_within_5deg"] > 0.5, name  # overfitted on this cell
    assert info["neural_skipped"] is None
    # a point the checkpoint does not fit has no neural rows, and says why
    other = config.model_copy(update={"detector": DetectorConfig(shape_px=(40, 40))})
    capsys.readouterr()
    with pytest.warns(UserWarning, match=r"neural rows of .* skipped: .*trained on \(32, 32\)"):
        results, _, info = index_run(other, truth, "realistic", methods, checkpoint, cache_dir)
    assert not set(results) & set(methods)
    assert "trained on (32, 32) px" in info["neural_skipped"]
    assert "neural rows skipped" not in capsys.readouterr().out  # the warning says it once
