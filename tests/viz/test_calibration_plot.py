"""The calibration figure draws bins whose mean lies outside their quartiles."""

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
