import pytest
from typer.testing import CliRunner

from synthebsd.cli import app
from synthebsd.config import (
    ConfigError,
    DetectorConfig,
    IndexingConfig,
    StudyConfig,
    load_config,
    load_microstructure_config,
)


def test_study_scene_from_a_preset_with_overrides():
    # The default is the demo's: the Cu | Li | LLZTO preset at the demo's map size.
    default = StudyConfig().scene
    preset = load_microstructure_config("cu_li_llzto")
    assert default.name == "cu_li_llzto" and default.shape_px == (45, 50)
    assert default.metal == preset.metal and default.pores == preset.pores
    # A preset by name is the preset; a mapping with "preset" changes only what it names.
    assert StudyConfig(scene="al_na_nzsp").scene == load_microstructure_config("al_na_nzsp")
    changed = StudyConfig(scene={"preset": "al_na_nzsp", "metal": {"thickness_um": 10}}).scene
    assert changed.metal.thickness_um == 10 and changed.metal.phase == "Na"
    assert changed.metal.grains == load_microstructure_config("al_na_nzsp").metal.grains
    # The dumped config (what config.yaml holds) validates back to the same scene.
    again = StudyConfig.model_validate(StudyConfig().model_dump(mode="json"))
    assert again == StudyConfig()


@pytest.mark.parametrize(
    ("scene", "match"),
    [
        ("no_such_preset", "neither a preset"),
        ({"preset": "cu_li_llzto", "metal": {"phase": "Unobtainium"}}, "Unknown phase"),
        ({"preset": "cu_li_llzto", "shape_px": (20, 50)}, "thinner than the map height"),
        ({"preset": "cu_li_llzto", "step_size_um": -1}, "greater than 0"),
    ],
)
def test_invalid_study_scene(scene, match):
    with pytest.raises(ValueError, match=match):
        StudyConfig(scene=scene)


def test_invalid_detector_and_unknown_field():
    with pytest.raises(ValueError, match="Bruker PC"):
        DetectorConfig(pc_bruker=(1.5, 0.2, 0.5))
    with pytest.raises(ValueError, match="Extra inputs"):
        StudyConfig(seeed=3)


def test_load_config_errors(tmp_path):
    with pytest.raises(ConfigError, match="does not exist"):
        load_config(tmp_path / "missing.yaml")
    bad = tmp_path / "bad.yaml"
    bad.write_text("scene:\n  preset: cu_li_llzto\n  pores: {porosity: -3}\n")
    with pytest.raises(ConfigError, match="scene.pores.porosity"):
        load_config(bad)
    good = tmp_path / "good.yaml"
    good.write_text("seed: 5\nscene: al_na_nzsp\n")
    cfg = load_config(good)
    assert cfg.seed == 5 and cfg.scene.metal.phase == "Na"


def test_cli_rejects_bad_config_and_seed(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("detector:\n  sample_tilt_deg: 120\n")
    result = CliRunner().invoke(app, ["demo", "--out", str(tmp_path / "o"), "--config", str(bad)])
    assert result.exit_code == 2
    assert "sample_tilt_deg" in result.output
    assert not (tmp_path / "o").exists()
    result = CliRunner().invoke(app, ["demo", "--out", str(tmp_path / "o"), "--seed", "-1"])
    assert result.exit_code == 2


def test_demo_config_file_keeps_its_seed_unless_one_is_given(tmp_path, monkeypatch):
    import synthebsd.workflows

    seen = []
    monkeypatch.setattr(
        synthebsd.workflows, "run_study", lambda cfg, out, cache: seen.append(cfg.seed) or {}
    )
    monkeypatch.setattr(synthebsd.workflows, "format_summary", lambda summary: "")
    path = tmp_path / "config.yaml"
    path.write_text("seed: 7\n")
    assert (
        CliRunner().invoke(app, ["demo", "--out", str(tmp_path), "--config", str(path)]).exit_code
        == 0
    )
    args = ["demo", "--out", str(tmp_path), "--config", str(path), "--seed", "2"]
    assert CliRunner().invoke(app, args).exit_code == 0
    assert CliRunner().invoke(app, ["demo", "--out", str(tmp_path)]).exit_code == 0
    assert seen == [7, 2, 0]


@pytest.mark.parametrize(
    ("shape", "binning"), [((60, 60), 3), ((80, 80), 2), ((32, 32), 2), ((45, 45), 3), ((7, 7), 1)]
)
def test_neural_refinement_bins_as_coarsely_as_the_detector_allows(shape, binning):
    kwargs = IndexingConfig().neural_refine_kwargs(shape)
    assert kwargs["coarse_binning"] == binning
    assert kwargs["coarse_steps"] == IndexingConfig().neural_refine_coarse_steps
    assert (
        IndexingConfig(neural_refine_coarse_binning=1).neural_refine_kwargs(shape)[
            "coarse_binning"
        ]
        == 1
    )
