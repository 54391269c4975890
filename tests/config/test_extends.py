"""``extends`` in YAML configs: a mapping is another file's mapping plus what it changes."""

import pytest
import yaml

from synthebsd.config import ConfigError
from synthebsd.config._base import read_yaml_mapping


def _write(path, data):
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


def test_extends_merges_key_by_key_at_any_depth_and_chains(tmp_path):
    _write(tmp_path / "a.yaml", {"x": 1, "m": {"p": 1, "q": [1, 2], "n": {"r": 1, "s": 2}}})
    (tmp_path / "sub").mkdir()
    # relative to the file it is written in, and it may extend further
    _write(tmp_path / "sub" / "b.yaml", {"extends": "../a.yaml", "m": {"q": [3], "n": {"s": 5}}})
    top = _write(
        tmp_path / "c.yaml",
        {
            "extends": "sub/b.yaml",
            "x": None,
            "inner": {"extends": "a.yaml", "y": 2},
            "items": [{"extends": "a.yaml", "x": 7}],
        },
    )
    got = read_yaml_mapping(top)
    assert got["x"] is None  # a null replaces, as any scalar does
    assert got["m"] == {"p": 1, "q": [3], "n": {"r": 1, "s": 5}}  # lists are replaced whole
    assert got["inner"] == {"x": 1, "m": {"p": 1, "q": [1, 2], "n": {"r": 1, "s": 2}}, "y": 2}
    assert got["items"][0]["x"] == 7 and got["items"][0]["m"]["p"] == 1
    assert "extends" not in str(got)
    # a file extended twice from one file (two branches) is not a loop
    twice = _write(tmp_path / "d.yaml", {"u": {"extends": "c.yaml"}, "v": {"extends": "c.yaml"}})
    assert read_yaml_mapping(twice)["u"] == read_yaml_mapping(twice)["v"] == got


@pytest.mark.parametrize(
    ("files", "match"),
    [
        ({"top.yaml": {"extends": "missing.yaml"}}, r"missing\.yaml, which does not exist"),
        ({"top.yaml": {"extends": 3}}, "must name a YAML file, got 3"),
        ({"top.yaml": {"extends": "top.yaml"}}, "makes a loop"),
        (
            {"top.yaml": {"extends": "b.yaml"}, "b.yaml": {"k": {"extends": "top.yaml"}}},
            r"b\.yaml: 'extends' makes a loop: .*top\.yaml -> .*b\.yaml -> .*top\.yaml",
        ),
        ({"top.yaml": {"extends": "list.yaml"}, "list.yaml": [1, 2]}, "must hold a mapping"),
    ],
)
def test_bad_extends_are_refused_naming_the_file(tmp_path, files, match):
    for name, data in files.items():
        _write(tmp_path / name, data)
    with pytest.raises(ConfigError, match=match):
        read_yaml_mapping(tmp_path / "top.yaml")
