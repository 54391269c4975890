from typer.testing import CliRunner

from synthebsd.cli import app


def test_gallery_command_writes_a_png_with_degrading_patterns(tmp_path, cache_dir):
    out = tmp_path / "gallery.png"
    args = ["gallery", "--out", str(out), "--engine", "kinematical", "--half-size", "100"]
    result = CliRunner().invoke(app, [*args, "--cache-dir", str(cache_dir)])
    assert result.exit_code == 0, result.output
    assert out.is_file() and out.stat().st_size > 50_000
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    lines = {}
    for line in result.output.splitlines():  # progress bars may share a line with a label
        for label in ("camera noise", "beam damage, noise-free"):
            if f"{label}:" in line:
                lines[label] = line[line.index(f"{label}:") :]
    noise = [float(v) for v in lines["camera noise"].split("NCC ")[1].split(", ")]
    assert noise == sorted(noise) and noise[0] < 0.8 < noise[-1]  # more dose, better pattern
    damage = [float(v) for v in lines["beam damage, noise-free"].split("factors ")[1].split(", ")]
    assert damage == sorted(damage, reverse=True) and damage[-1] < 0.1


def test_gallery_command_errors(tmp_path):
    runner = CliRunner()
    for args, message in [
        (["gallery", "--out", str(tmp_path / "g.jpg")], ".png"),
        (["gallery", "--out", str(tmp_path / "g.png"), "--phase", "Zr"], "Unknown phase"),
        (["gallery", "--out", str(tmp_path / "g.png"), "--engine", "magic"], "engine"),
    ]:
        result = runner.invoke(app, args)
        assert result.exit_code == 2
        assert message in result.output
