"""The error-curve figure: written atomically as a PNG, failures counted."""

import numpy as np

from synthebsd.viz import plot_error_curves


def test_error_curves_are_written(tmp_path):
    errors = {
        "a": np.array([0.1, 0.5, np.nan, 3.0]),
        "b": np.array([0.01, 0.02]),
        "c": np.array([]),
    }
    path = plot_error_curves(errors, tmp_path / "curves.png", "test")
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert [p.name for p in tmp_path.iterdir()] == ["curves.png"]
