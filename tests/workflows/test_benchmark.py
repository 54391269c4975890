"""The quick benchmark end to end: outputs, numbers recomputed from the written maps,
resume point by point, and a dask.distributed scheduler giving the same results."""

import json
import time

import numpy as np
import pytest
from typer.testing import CliRunner

from synthebsd.analyze import method_metrics
from synthebsd.cli import app
from synthebsd.config import BenchmarkConfig, BenchmarkPoint, ConfigError, load_benchmark_config
from synthebsd.io import load_crystal_map
from synthebsd.workflows import point_study_config, run_benchmark

METHODS = {"hough", "dictionary", "refined"}


def _flat(d, prefix=""):
    """Nested dicts and lists as {path: leaf} (for pytest.approx)."""
    if isinstance(d, dict):
        return {k: v for key, x in d.items() for k, v in _flat(x, f"{prefix}/{key}").items()}
    if isinstance(d, list):
        return {k: v for i, x in enumerate(d) for k, v in _flat(x, f"{prefix}[{i}]").items()}
    return {prefix: d}


@pytest.fixture(scope="module")
def quick_run(tmp_path_factory, cache_dir):
    out = tmp_path_factory.mktemp("bench")
    t = time.perf_counter()
    result = CliRunner().invoke(
        app, ["benchmark", "--quick", "--out", str(out), "--cache-dir", str(cache_dir)]
    )
    seconds = time.perf_counter() - t
    assert result.exit_code == 0, (result.output[-2000:], repr(result.exception))
    return out, json.loads((out / "results.json").read_text()), seconds


def test_quick_benchmark_writes_everything(quick_run):
    out, results, seconds = quick_run
    print(f"quick benchmark: {seconds:.0f} s")  # < 3 min on an idle 2-core machine
    config = BenchmarkConfig().quick()
    assert results["n_tasks"] == len(config.points()) * 3 == 9
    for name in (
        "config.yaml",
        "results.csv",
        "summary.csv",
        "success_vs_dose.png",
        "error_vs_dose.png",
        "pore_iou_vs_dose.png",
        "mismatch_cost.png",
    ):
        assert (out / name).stat().st_size > 0, name
    assert set(results["figures"]) >= {"success_vs_dose.png", "mismatch_cost.png"}
    for rec in results["points"]:
        folder = out / "points" / rec["key"] / f"seed{rec['seed']}"
        assert (folder / "point.json").is_file() and (folder / "truth.h5").is_file()
        assert set(rec["methods"]) == METHODS
        assert all((folder / f"{m}.h5").is_file() for m in METHODS)
        assert rec["peak_rss_gib"] > 0.1 and rec["render_patterns_per_second"] > 0
        assert all(m["patterns_per_second"] > 0 for m in rec["methods"].values())
    first = out / "points" / config.points()[0].key() / "seed0"
    assert (first / "refined_ipf.png").is_file() and (first / "hough_error.png").is_file()
    rows = (out / "results.csv").read_text().splitlines()
    assert len(rows) == 1 + 9 * 3 and "fraction_within_2deg" in rows[0]


def test_results_recomputed_from_the_written_maps(quick_run):
    out, results, _ = quick_run
    rec = results["points"][1]
    folder = out / "points" / rec["key"] / f"seed{rec['seed']}"
    truth = load_crystal_map(folder / "truth.h5")
    assert truth.size == rec["n_patterns"] == 16 * 20
    for method in METHODS:
        xmap = load_crystal_map(folder / f"{method}.h5")
        again = method_metrics(
            truth, xmap, candidate_phases=rec["candidate_phases"], **rec["grain_settings"]
        )
        stored = rec["methods"][method]
        for part in again:
            recomputed = _flat(json.loads(json.dumps(again[part])))
            assert recomputed.keys() == _flat(stored[part]).keys(), (method, part)
            for k, v in _flat(stored[part]).items():
                assert recomputed[k] == (v if not isinstance(v, float) else pytest.approx(v)), (
                    method,
                    part,
                    k,
                )
    # Summary rows are the mean and spread of the seeds' numbers.
    seeds = [r for r in results["points"] if r["key"] == rec["key"]]
    row = next(
        s for s in results["summary"] if s["key"] == rec["key"] and s["method"] == "refined"
    )
    v = [r["methods"]["refined"]["orientation"]["fraction_within_2deg"] for r in seeds]
    assert row["fraction_within_2deg_mean"] == pytest.approx(np.mean(v))
    assert row["fraction_within_2deg_std"] == pytest.approx(np.std(v, ddof=1))
    assert row["n_seeds"] == 3


def test_physics_shows_in_the_numbers(quick_run):
    _, results, _ = quick_run
    mean = {
        (s["dose_counts"], s["forward_model"], s["method"]): s["fraction_within_2deg_mean"]
        for s in results["summary"]
    }
    # Refinement beats the 4° dictionary, and a high dose beats a low one.
    assert mean[(2000.0, "realistic", "refined")] >= mean[(2000.0, "realistic", "dictionary")]
    assert mean[(2000.0, "realistic", "refined")] > mean[(25.0, "realistic", "refined")]
    assert mean[(25.0, "realistic", "hough")] < 0.5  # thin Li bands drown at 25 counts
    assert mean[(2000.0, "matched", "refined")] > 0.9


def test_resume_and_scheduler_give_the_same_point(quick_run, cache_dir, tmp_path):
    from dask.distributed import LocalCluster

    out, results, _ = quick_run
    rec = results["points"][2]
    point_json = out / "points" / rec["key"] / f"seed{rec['seed']}" / "point.json"
    point_json.unlink()
    with LocalCluster(
        n_workers=1, threads_per_worker=1, processes=False, dashboard_address=None
    ) as cluster:
        again = run_benchmark(
            BenchmarkConfig(),
            out,
            quick=True,
            resume=True,
            scheduler=cluster.scheduler_address,
            cache_dir=cache_dir,
        )
    assert again["resumed_tasks"] == 8 and again["n_tasks"] == 9
    redone = next(
        r for r in again["points"] if r["key"] == rec["key"] and r["seed"] == rec["seed"]
    )
    for method in METHODS:
        a = _flat(redone["methods"][method]["orientation"])
        b = _flat(rec["methods"][method]["orientation"])
        assert a.keys() == b.keys()
        for k, v in b.items():
            assert a[k] == (pytest.approx(v) if isinstance(v, float) else v), (method, k)
    with pytest.raises(ValueError, match="another configuration"):
        run_benchmark(BenchmarkConfig(seeds=(5, 6, 7)), out, quick=True, resume=True)


def test_benchmark_config_validation(tmp_path):
    c = BenchmarkConfig()
    keys = [p.key() for p in c.points()]
    assert len(keys) == len(set(keys)) == 31  # 18 + 6 + 5 + 2 after merging duplicates
    assert len(BenchmarkConfig(sweeps=None).points()) == 3 * 6 * 3 * 2 * 3 * 2
    study = point_study_config(c, BenchmarkPoint(damage=0.5, dose_counts=50.0), 4)
    assert study.seed == 4 and study.patterns.dose_counts == 50.0
    assert study.patterns.damage.enabled
    assert study.patterns.damage.critical_dose_e_per_nm2["Li"] == pytest.approx(250.0)
    assert study.scene.shape_px == (40, 40)
    with pytest.raises(ValueError, match="at least 3"):
        BenchmarkConfig(seeds=(0, 1))
    with pytest.raises(ValueError, match="neural_checkpoint"):
        BenchmarkConfig(methods=("dictionary", "neural"))
    with pytest.raises(ValueError, match="Unknown cell preset"):
        BenchmarkPoint(preset="cu_k_llzto")
    path = tmp_path / "b.yaml"
    path.write_text("grid:\n  dose_counts: [100, 100]\n")
    with pytest.raises(ConfigError, match="repeats a value"):
        load_benchmark_config(path)
    path.write_text("sweeps: [[dose]]\n")
    with pytest.raises(ConfigError, match="unknown axes"):
        load_benchmark_config(path)
    small = BenchmarkConfig(shape_px=(16, 20), step_size_um=1.0)
    with pytest.raises(ValueError, match="(?s)grid point cu_li_llzto.*thinner than the map"):
        run_benchmark(small, tmp_path / "bad")
