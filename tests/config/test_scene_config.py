"""Microstructure configs and presets: validation with clear messages."""

import pytest
import yaml

from synthebsd.config import (
    ConfigError,
    GrainConfig,
    LayerConfig,
    MicrostructureConfig,
    TextureConfig,
    list_presets,
    load_microstructure_config,
)


def test_presets_load_and_name_the_published_cells():
    assert list_presets() == ["al_na_nzsp", "cu_li_llzto", "ss_li_lpscl"]
    cells = {
        name: (c.collector.phase, c.metal.phase, c.electrolyte.phase)
        for name in list_presets()
        for c in [load_microstructure_config(name)]
    }
    assert cells == {
        "cu_li_llzto": ("Cu", "Li", "LLZTO"),
        "ss_li_lpscl": ("austenite", "Li", "LPSCl"),
        "al_na_nzsp": ("Al", "Na", "NZSP"),
    }


def test_a_preset_copied_to_a_file_round_trips(tmp_path):
    cfg = load_microstructure_config("al_na_nzsp")
    path = tmp_path / "mine.yaml"
    path.write_text(yaml.safe_dump(cfg.model_dump(mode="json")))
    assert load_microstructure_config(path) == cfg


@pytest.mark.parametrize(
    ("text", "match"),
    [
        ("metal: {phase: Unobtainium, grains: {mean_ecd_um: 3}}", r"metal\.phase.*Unknown phase"),
        ("metal: {phase: Li, grains: {mean_ecd_um: -1}}", r"metal\.grains\.mean_ecd_um"),
        ("metal: {phase: Li, grains: {mean_ecd_um: 3, aspect_ratio: 3}}", "shape: columnar"),
        ("pores: {porosity: 1.5}", r"pores\.porosity"),
        ("electrolyte: {phase: Li, grains: {mean_ecd_um: 3}}", "different phases"),
        ("shape_px: [64, 64]\nstep_size_um: 0.25", "thinner than the map height"),
        ("step_size_um: 2.0", "below 2 pixels"),
        ("colector: {}", r"colector.*Extra inputs"),
        (
            "metal: {phase: Li, grains: {mean_ecd_um: 3}, texture: {kind: fibre, crystal_direction_uvw: [0, 0, 0]}}",
            "zero vector",
        ),
        ("[1, 2]", "mapping"),
        (
            "collector: {phase: Cu, thickness_um: 4, grains: {mean_ecd_um: 2},"
            " intragranular: {gradient_deg: 2}}",
            "metal only",
        ),
        ("metal: [", "not valid YAML"),
    ],
)
def test_invalid_configs_name_the_field(tmp_path, text, match):
    path = tmp_path / "bad.yaml"
    path.write_text(text)
    with pytest.raises(ConfigError, match=match):
        load_microstructure_config(path)


def test_missing_source_lists_presets(tmp_path):
    with pytest.raises(ConfigError, match="cu_li_llzto"):
        load_microstructure_config(tmp_path / "none.yaml")


def test_defaults_are_valid():
    cfg = MicrostructureConfig()
    assert cfg.metal.phase == "Li"
    layer = LayerConfig(phase="na", grains=GrainConfig(mean_ecd_um=2.0), texture=TextureConfig())
    assert layer.phase == "Na"
