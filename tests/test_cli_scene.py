"""``synthebsd scene``: files written, statistics next to the request, errors exit 2."""

import json

import numpy as np
import yaml
from typer.testing import CliRunner

from synthebsd.cli import app
from synthebsd.config import load_microstructure_config
from synthebsd.io import load_crystal_map


def _small_config(tmp_path):
    cfg = load_microstructure_config("ss_li_lpscl").model_dump(mode="json")
    cfg["shape_px"] = [80, 96]
    cfg["metal"]["thickness_um"] = 8.0
    cfg["collector"]["thickness_um"] = 2.0
    cfg["sequence"]["stripped_thickness_um"] = 3.0
    path = tmp_path / "small.yaml"
    path.write_text(yaml.safe_dump(cfg))
    return path


def test_scene_writes_maps_panels_and_statistics(tmp_path):
    out = tmp_path / "out"
    result = CliRunner().invoke(
        app,
        [
            "scene",
            str(_small_config(tmp_path)),
            "--out",
            str(out),
            "--sequence",
            "stripping",
            "--frames",
            "3",
            "--seed",
            "4",
        ],
    )
    assert result.exit_code == 0, result.output
    names = sorted(p.name for p in out.iterdir())
    assert names == [
        "config.yaml",
        "frame_000.h5",
        "frame_000.png",
        "frame_001.h5",
        "frame_001.png",
        "frame_002.h5",
        "frame_002.png",
        "statistics.json",
    ]
    stats = json.loads((out / "statistics.json").read_text())
    assert stats["n_frames"] == 3 and stats["seed"] == 4
    last = stats["frames"][-1]
    assert last["frame"] == 2
    xmap = load_crystal_map(out / "frame_002.h5")
    # statistics.json holds what the written map measures: porosity to the pixel.
    region = xmap.prop["region"]
    n_pore, n_metal = int((region == 2).sum()), int((region == 1).sum())
    assert last["pores"]["measured"]["porosity"] == n_pore / (n_pore + n_metal)
    requested = last["pores"]["requested"]["porosity"]
    assert abs(n_pore / (n_pore + n_metal) - requested) * (n_pore + n_metal) <= 0.5 + 1e-9
    metal = last["layers"]["metal"]
    assert (
        metal["grains"]["measured"]["n_grains"]
        == np.unique(xmap.prop["grain_id"][region == 1]).size
    )
    assert xmap.shape == (80, 96)
    assert {"grain_id", "pore", "region", "misorientation_deg"} <= set(xmap.prop)
    assert np.array_equal(xmap.prop["pore"] == 1, xmap.prop["region"] == 2)
    # config.yaml re-runs the same scene (seed, sequence and frames stored): the same maps.
    again = tmp_path / "again"
    result = CliRunner().invoke(app, ["scene", str(out / "config.yaml"), "--out", str(again)])
    assert result.exit_code == 0, result.output
    for k in range(3):
        a = load_crystal_map(out / f"frame_{k:03d}.h5")
        b = load_crystal_map(again / f"frame_{k:03d}.h5")
        assert np.array_equal(a.rotations.data, b.rotations.data)
        for name in ("grain_id", "region", "pore"):
            assert np.array_equal(a.prop[name], b.prop[name]), name


def test_scene_errors_exit_2(tmp_path):
    runner = CliRunner()
    result = runner.invoke(app, ["scene", "no_such_preset", "--out", str(tmp_path / "o")])
    assert result.exit_code == 2
    assert "error:" in result.output and "cu_li_llzto" in result.output
    bad = tmp_path / "bad.yaml"
    bad.write_text("metal: {phase: Li, grains: {mean_ecd_um: 0}}\n")
    result = runner.invoke(app, ["scene", str(bad), "--out", str(tmp_path / "o")])
    assert result.exit_code == 2 and "metal.grains.mean_ecd_um" in result.output
    result = runner.invoke(
        app, ["scene", "cu_li_llzto", "--out", str(tmp_path / "o"), "--sequence", "melting"]
    )
    assert result.exit_code == 2 and "sequence" in result.output
    assert not (tmp_path / "o").exists()
