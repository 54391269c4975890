import numpy as np
import pytest
from typer.testing import CliRunner

from synthebsd.cli import app
from synthebsd.config import ConfigError, DetectorConfig, SceneConfig, StudyConfig, load_config
from synthebsd.phases import PHASE_NAMES, UnknownPhaseError, get_phase, get_phase_list


@pytest.mark.parametrize(
    ("name", "space_group", "a", "n_atoms_cell"),
    [("Li", 229, 3.51, 2), ("Na", 229, 4.29, 2), ("Cu", 225, 3.615, 4), ("li", 229, 3.51, 2)],
)
def test_phase_structures(name, space_group, a, n_atoms_cell):
    phase = get_phase(name)
    assert phase.space_group.number == space_group
    assert phase.point_group.name == "m-3m"
    assert np.allclose(phase.structure.lattice.abcABG(), (a, a, a, 90, 90, 90))
    # orix expands the asymmetric unit with the space group: BCC has 2 atoms, FCC 4.
    expanded = phase.expand_asymmetric_unit()
    assert len(expanded.structure) == n_atoms_cell


def test_unknown_phase_lists_known_ones():
    with pytest.raises(UnknownPhaseError, match="Zr.*Li, Na, Cu"):
        get_phase("Zr")
    assert set(PHASE_NAMES) >= {"Li", "Na", "Cu"}


def test_phase_list_ids_and_duplicates():
    pl = get_phase_list(["Li", "Cu"])
    assert pl.ids == [0, 1] and pl.names == ["Li", "Cu"]
    with pytest.raises(ValueError, match="unique"):
        get_phase_list(["Li", "li"])


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"metal": "Unobtainium"}, "Unknown phase"),
        ({"metal": "Cu", "collector": "Cu"}, "different phases"),
        ({"step_size_um": -1}, "greater than 0"),
        ({"metal_thickness_um": 100.0}, "thicker than the map"),
        ({"shape_px": (2, 60)}, "at least 4"),
    ],
)
def test_invalid_scene_config(kwargs, match):
    with pytest.raises(ValueError, match=match):
        SceneConfig(**kwargs)


def test_invalid_detector_and_unknown_field():
    with pytest.raises(ValueError, match="Bruker PC"):
        DetectorConfig(pc_bruker=(1.5, 0.2, 0.5))
    with pytest.raises(ValueError, match="Extra inputs"):
        StudyConfig(seeed=3)


def test_load_config_errors(tmp_path):
    with pytest.raises(ConfigError, match="does not exist"):
        load_config(tmp_path / "missing.yaml")
    bad = tmp_path / "bad.yaml"
    bad.write_text("scene:\n  pore_count: -3\n")
    with pytest.raises(ConfigError, match="pore_count"):
        load_config(bad)
    good = tmp_path / "good.yaml"
    good.write_text("seed: 5\nscene:\n  metal: Na\n")
    cfg = load_config(good)
    assert cfg.seed == 5 and cfg.scene.metal == "Na"


def test_cli_rejects_bad_config_and_seed(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("detector:\n  sample_tilt_deg: 120\n")
    result = CliRunner().invoke(app, ["demo", "--out", str(tmp_path / "o"), "--config", str(bad)])
    assert result.exit_code == 2
    assert "sample_tilt_deg" in result.output
    assert not (tmp_path / "o").exists()
    result = CliRunner().invoke(app, ["demo", "--out", str(tmp_path / "o"), "--seed", "-1"])
    assert result.exit_code == 2
