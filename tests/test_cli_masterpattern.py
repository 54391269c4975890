import kikuchipy as kp
import numpy as np
from typer.testing import CliRunner

from synthebsd.cli import app
from synthebsd.io import read_emsoft_metadata


def test_masterpattern_command_writes_kikuchipy_readable_file_and_png(tmp_path):
    out = tmp_path / "li.h5"
    result = CliRunner().invoke(
        app,
        [
            "masterpattern",
            "Li",
            "--engine",
            "kinematical",
            "--half-size",
            "60",
            "--out",
            str(out),
            "--cache-dir",
            str(tmp_path / "cache"),
        ],
    )
    assert result.exit_code == 0, result.output
    mp = kp.load(out, projection="lambert", hemisphere="both")
    assert mp.phase.name == "Li" and mp.phase.space_group.number == 229
    assert mp.data.shape == (2, 121, 121) and np.isfinite(mp.data).all()
    key = read_emsoft_metadata(out)["key"]
    assert key["engine"] == "kinematical" and key["half_size"] == 60
    png = out.with_suffix(".png")
    assert png.is_file() and png.stat().st_size > 10_000


def test_masterpattern_command_errors(tmp_path):
    runner = CliRunner()
    for args, message in [
        (["masterpattern", "Zr", "--out", str(tmp_path / "a.h5")], "Unknown phase"),
        (["masterpattern", "Li", "--engine", "magic", "--out", str(tmp_path / "a.h5")], "engine"),
        (["masterpattern", "Li", "--out", str(tmp_path / "a.png")], ".h5"),
    ]:
        result = runner.invoke(app, args)
        assert result.exit_code == 2, result.output
        assert message in result.output
    assert not (tmp_path / "a.h5").exists()
