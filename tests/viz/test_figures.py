"""Figures: the calibration plot with skewed bins, legends over every panel."""

import numpy as np

from synthebsd.viz import plot_calibration


def test_a_calibrated_step_with_a_skewed_bin_is_drawn(tmp_path):
    # a calibrated checkpoint gives many points one value (an isotonic step); if most of
    # them are right and a few far off, the bin's mean lies above its third quartile
    pred = np.r_[np.full(50, 2.18), np.geomspace(1.0, 20.0, 200)]
    err = np.r_[np.full(45, 0.5), np.full(5, 40.0), np.geomspace(1.5, 25.0, 200)]
    step = err[:50]
    assert step.mean() > np.percentile(step, 75)
    path = plot_calibration(pred, err, tmp_path / "calibration.png", "skewed")
    assert path.is_file() and path.stat().st_size > 10_000


def test_a_method_missing_from_the_last_panel_is_still_in_the_legend():
    from synthebsd.viz._benchmark import _legend_of_all
    from synthebsd.viz._figure import new_figure

    fig = new_figure((6, 3))
    left, right = fig.subplots(1, 2)
    left.plot([0, 1], [0, 1], label="hough")
    left.plot([0, 1], [1, 0], label="neural")  # skipped in the other cell
    right.plot([0, 1], [0, 1], label="hough")
    _legend_of_all(right, [left, right], fontsize=8)
    assert [t.get_text() for t in right.get_legend().get_texts()] == ["hough", "neural"]
