"""``synthebsd generate``, ``verify`` and ``export``: stores, corruption, errors exit 2."""

import yaml
from typer.testing import CliRunner

from synthebsd.cli import app


def _config_file(tmp_path, make_dataset_config, **changes):
    path = tmp_path / "data.yaml"
    path.write_text(yaml.safe_dump(make_dataset_config(**changes).model_dump(mode="json")))
    return path


def _generate(config, out, cache, *extra):
    args = ["generate", str(config), "--out", str(out), "--scheduler", "synchronous"]
    return CliRunner().invoke(app, [*args, "--cache-dir", str(cache), *extra])


def test_generate_verify_export(tmp_path, make_dataset_config, dataset_cache):
    config = _config_file(tmp_path, make_dataset_config, n_scenes=2)
    out = tmp_path / "store.zarr"
    result = _generate(config, out, dataset_cache, "--seed", "3")
    assert result.exit_code == 0, result.output
    assert "complete, 640 patterns (seed 3)" in result.output
    assert "patterns/s" in result.output

    again = _generate(config, out, dataset_cache)
    assert again.exit_code == 2 and "not overwritten" in again.output
    resumed = _generate(config, out, dataset_cache, "--resume")
    assert resumed.exit_code == 0 and "kept 8" in resumed.output  # the store's seed

    ok = CliRunner().invoke(app, ["verify", str(out)])
    assert ok.exit_code == 0 and "ok: 8/8 chunks match" in ok.output
    shard = out / "patterns" / "c" / "1" / "2" / "0" / "0" / "0"
    data = bytearray(shard.read_bytes())
    data[100] ^= 0x10
    shard.write_bytes(bytes(data))
    bad = CliRunner().invoke(app, ["verify", str(out)])
    assert bad.exit_code == 1
    assert "1/2: scene 1, map rows 8:12" in bad.output and "1 corrupt" in bad.output

    for fmt, name in (
        ("h5ebsd", "scene_0.h5"),
        ("ang", "scene_0.ang"),
        ("orix", "scene_0_truth.h5"),
    ):
        result = CliRunner().invoke(
            app, ["export", str(out), str(tmp_path / "exp"), "--scene", "0", "--to", fmt]
        )
        assert result.exit_code == 0, result.output
        assert (tmp_path / "exp" / name).is_file()
    wrong = CliRunner().invoke(
        app, ["export", str(out), str(tmp_path), "--scene", "5", "--to", "ang"]
    )
    assert wrong.exit_code == 2 and "Scene 5 is not in" in wrong.output


def test_invalid_config_fails_before_anything_is_written(tmp_path, dataset_cache):
    config = tmp_path / "bad.yaml"
    config.write_text("n_scenes: 2\nvary:\n  patterns.dose_counts: {uniform: [-1, 5]}\n")
    out = tmp_path / "store.zarr"
    result = _generate(config, out, dataset_cache)
    assert result.exit_code == 2
    assert "bad.yaml" in result.output and "dose_counts=-1" in result.output
    assert not out.exists()
    missing = _generate(tmp_path / "nope.yaml", out, dataset_cache)
    assert missing.exit_code == 2 and "does not exist" in missing.output
    assert not out.exists()
    not_store = CliRunner().invoke(app, ["verify", str(tmp_path)])
    assert not_store.exit_code == 2 and "not a synthebsd data-set store" in not_store.output
