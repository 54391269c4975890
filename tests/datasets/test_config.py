"""DatasetConfig: paths and ranges checked at validation, draws deterministic and in range."""

import numpy as np
import pytest
import yaml

from synthebsd.config import ConfigError, DatasetConfig, Draw, load_dataset_config
from synthebsd.datasets import scene_spec


def test_draws_are_in_range_and_deterministic(make_dataset_config):
    config = make_dataset_config(
        n_scenes=50,
        vary={
            "patterns.dose_counts": {"log_uniform": [200.0, 2000.0]},
            "patterns.damage.enabled": {"choice": [True, False]},
            "master_pattern.engine": {"choice": ["kinematical"]},
        },
    )
    specs = [scene_spec(config, 7, k) for k in range(50)]
    doses = np.array([s.patterns.dose_counts for s in specs])
    porosity = np.array([s.microstructure.pores.porosity for s in specs])
    assert doses.min() >= 200 and doses.max() <= 2000
    assert porosity.min() >= 0 and porosity.max() <= 0.2
    assert {s.patterns.damage.enabled for s in specs} == {True, False}
    # Log-uniform: the median is near the geometric mean, not the arithmetic one.
    assert abs(np.log(np.median(doses)) - np.log(np.sqrt(200 * 2000))) < 0.3
    pcs = np.array([s.detector.pc_bruker for s in specs])
    assert 0.002 < pcs.std(axis=0).min() and pcs.std(axis=0).max() < 0.01
    # A scene depends on (seed, index) only: not on the size of the data set.
    larger = config.model_copy(update={"n_scenes": 80})
    assert scene_spec(larger, 7, 31) == specs[31]
    assert scene_spec(config, 8, 31) != specs[31]


@pytest.mark.parametrize(
    "changes, message",
    [
        ({"vary": {"patterns.dose": {"uniform": [1, 2]}}}, "'dose' is not under patterns"),
        ({"vary": {"patterns.dose_counts": {"uniform": [-5, 2]}}}, "dose_counts=-5"),
        ({"vary": {"detector.pc_bruker": {"uniform": [0, 1]}}}, "cannot vary"),
        ({"vary": {"patterns.camera.binning": {"choice": [1, 16]}}}, "binning=16"),
        ({"pc_jitter_bruker": (0.1, 0, 0)}, "PC jitter"),
        ({"n_scenes": 0}, "n_scenes"),
    ],
)
def test_invalid_settings_name_the_problem(make_dataset_config, changes, message):
    with pytest.raises(ValueError, match=message):
        make_dataset_config(**changes)


def test_scene_ranges_checked_at_their_extremes(make_dataset_config, make_cell_config):
    scene = make_cell_config().model_dump(mode="json")
    with pytest.raises(ValueError, match="metal.thickness_um=40"):
        make_dataset_config(
            scenes=[{"scene": scene, "vary": {"metal.thickness_um": {"uniform": [1, 40]}}}]
        )
    with pytest.raises(ValueError, match="cannot vary"):
        make_dataset_config(scenes=[{"scene": scene, "vary": {"metal.phase": {"choice": ["Na"]}}}])
    other = make_cell_config(shape_px=(20, 20)).model_dump(mode="json")
    with pytest.raises(ValueError, match="same shape_px"):
        make_dataset_config(scenes=[{"scene": scene}, {"scene": other}])
    sodium = make_cell_config(metal="Na").model_dump(mode="json")
    with pytest.raises(ValueError, match="same metal phase"):
        make_dataset_config(scenes=[{"scene": scene}, {"scene": sodium}])


def test_draw_needs_exactly_one_kind():
    with pytest.raises(ValueError, match="exactly one"):
        Draw(uniform=(0, 1), choice=[1])
    with pytest.raises(ValueError, match="0 < low"):
        Draw(log_uniform=(0, 1))
    assert Draw(choice=["a"]).sample(np.random.default_rng(0)) == "a"


def test_yaml_round_trip_and_errors(tmp_path, make_dataset_config):
    config = make_dataset_config()
    path = tmp_path / "data.yaml"
    path.write_text(yaml.safe_dump(config.model_dump(mode="json")))
    assert load_dataset_config(path) == config
    path.write_text("n_scenes: -1\n")
    with pytest.raises(ConfigError, match=r"data.yaml[\s\S]*n_scenes"):
        load_dataset_config(path)
    presets = DatasetConfig.model_validate(
        {
            "scenes": [
                {"scene": {"preset": "cu_li_llzto", "shape_px": [45, 50], "step_size_um": 0.6}}
            ]
        }
    )
    assert presets.map_shape == (45, 50) and presets.phase_names == {0: "Li", 1: "Cu", 2: "LLZTO"}
