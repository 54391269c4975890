"""In-situ validation: the whole-scan dose, the detectable change, and a small run."""

import json

import numpy as np
import pytest
from typer.testing import CliRunner

from synthebsd.cli import app
from synthebsd.config import IndexerModelConfig, InsituConfig, MasterPatternConfig, StudyConfig
from synthebsd.simulate import generate_microstructure
from synthebsd.workflows._insitu import detectable_change, scan_total_dose


def test_whole_scan_dose_does_not_depend_on_scan_order(make_cell_config):
    scene = make_cell_config()  # 16 × 20 points of 0.5 µm
    xmap = generate_microstructure(scene, 0)
    totals = {}
    for order in ("raster", "serpentine"):
        cfg = StudyConfig.model_validate(
            {
                "scene": scene.model_dump(mode="json"),
                "patterns": {"damage": {"enabled": True}, "beam": {"scan_order": order}},
            }
        )
        totals[order] = scan_total_dose(xmap, cfg)
    # The whole scan leaves the same dose whatever the order (sum over every source).
    assert np.allclose(totals["raster"], totals["serpentine"], rtol=1e-10)
    # It exceeds the dose during the exposure everywhere but at the last point scanned,
    # where they differ by half its own exposure.
    from synthebsd.simulate import dose_map
    from synthebsd.simulate.patterns._damage import default_footprints

    fp = default_footprints(xmap, 20.0, 70.0, cfg.patterns.beam, cfg.patterns.mixing)
    during = dose_map(xmap, fp, 70.0, cfg.patterns.beam, cfg.patterns.damage)
    assert np.all(totals["serpentine"] > during)
    assert np.all(totals["serpentine"] < 2.5 * during.max())


def test_detectable_change_known_answer():
    truth = [np.array([1.0, 2.0, 3.0, 4.0])]
    assert detectable_change([truth[0] + 0.5], truth) == pytest.approx(0.0)  # bias cancels
    alternating = [truth[0] + np.array([0.0, 1.0, 0.0, 1.0])]
    assert detectable_change(alternating, truth) == pytest.approx(1.96)
    assert detectable_change([np.array([np.nan])], [np.array([1.0])]) is None


def test_small_insitu_run(tmp_path, cache_dir):
    config = InsituConfig(
        shape_px=(16, 20),
        step_size_um=0.75,
        n_frames=3,
        dose_counts=(500.0,),
        methods=("hough",),  # the fastest method: the workflow, not the methods, is tested
        scene_overrides={
            "collector": {"thickness_um": 2.0},
            "metal": {"thickness_um": 7.0},
            "electrolyte": {"amorphous": True},
        },
        study=StudyConfig(
            master_pattern=MasterPatternConfig(engine="kinematical", half_size_px=200),
            indexer=IndexerModelConfig(engine="kinematical"),
        ),
    )
    path = tmp_path / "insitu.yaml"
    path.write_text(__import__("yaml").safe_dump(config.model_dump(mode="json")))
    out = tmp_path / "out"
    result = CliRunner().invoke(
        app, ["insitu", str(path), "--out", str(out), "--cache-dir", str(cache_dir)]
    )
    assert result.exit_code == 0, result.output
    results = json.loads((out / "insitu.json").read_text())
    assert results["n_frames_indexed"] == 6
    assert (out / "insitu_dose500.png").stat().st_size > 0
    rows = results["frames"]
    assert len(rows) == 2 * 3  # sequences × frames (one method)
    for seq in ("plating", "stripping"):
        dict_rows = [r for r in rows if r["sequence"] == seq and r["method"] == "hough"]
        prior = [r["metal_prior_dose_e_per_nm2"] for r in dict_rows]
        assert prior[0] == 0 and prior[1] > 0 and prior[2] > prior[1]  # damage accumulates
        assert (out / seq / "dose500" / "frame2" / "hough.h5").is_file()
    strip = [r for r in rows if r["sequence"] == "stripping" and r["method"] == "hough"]
    assert strip[-1]["true_porosity"] > strip[0]["true_porosity"]  # voids open
    detect = results["detectable_change"]
    assert set(detect) == {"hough"}
    assert detect["hough"]["500"]["detectable_porosity_change"] >= 0
