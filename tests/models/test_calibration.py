"""The held-out calibration of the predicted error: a monotone fit that inference applies."""

from __future__ import annotations

import numpy as np
import pytest

from synthebsd.models import (
    apply_uncertainty_calibration,
    fit_uncertainty_calibration,
    held_out_predictions,
    load_checkpoint,
    predict_orientations,
    save_checkpoint,
)


def test_the_fit_maps_an_overconfident_head_to_the_observed_mean_error():
    rng = np.random.default_rng(0)
    pred = rng.uniform(0.2, 10.0, 4000)
    err = rng.exponential(3.0 * pred)  # the head says a third of the error it makes
    cal = fit_uncertainty_calibration(pred, err)
    out = apply_uncertainty_calibration(cal, pred)
    order = np.argsort(pred)
    assert np.all(np.diff(out[order]) >= 0)  # the head's ranking is kept
    for lo, hi in ((0.5, 1.5), (2.0, 3.0), (5.0, 7.0)):
        sel = (pred >= lo) & (pred < hi)
        assert out[sel].mean() == pytest.approx(err[sel].mean(), rel=0.15)
        assert out[sel].mean() == pytest.approx(3.0 * pred[sel].mean(), rel=0.2)
    assert out.mean() == pytest.approx(err.mean(), rel=1e-9)  # isotonic keeps the mean
    # outside the fitted range the ends hold; no calibration changes nothing
    ends = apply_uncertainty_calibration(cal, np.array([1e-4, 1e4]))
    assert ends[0] == cal["expected_deg"][0] and ends[1] == cal["expected_deg"][-1]
    assert np.array_equal(apply_uncertainty_calibration(None, pred), pred)
    assert cal["n_points"] == 4000 and cal["mean_error_deg"] == pytest.approx(err.mean())


@pytest.mark.parametrize(
    ("pred", "err", "message"),
    [
        (np.ones(300), np.ones(299), "300 predicted errors for 299"),
        (np.r_[np.ones(299), np.nan], np.ones(300), "finite"),
        (np.r_[np.ones(299), 0.0], np.ones(300), "> 0 degrees"),
        (np.ones(50), np.ones(50), "at least 200 held-out points"),
    ],
    ids=["sizes", "nan", "zero", "too-few"],
)
def test_bad_calibration_data_are_refused(pred, err, message):
    with pytest.raises(ValueError, match=message):
        fit_uncertainty_calibration(pred, err)


def test_predict_applies_a_checkpoints_calibration(trained, pattern_dataset, tmp_path):
    ck = load_checkpoint(trained["checkpoint"])
    cols = held_out_predictions(ck, pattern_dataset, batch_size=64, progress=False)
    assert ck.model.training is False  # left as loaded
    has = cols["phase_id"] >= 0
    assert np.isnan(cols["error_deg"][~has]).all() and np.isfinite(cols["error_deg"][has]).all()
    cal = fit_uncertainty_calibration(
        cols["uncertainty_deg"][has], cols["error_deg"][has], min_points=50
    )
    meta = {**ck.metadata, "uncertainty_calibration": cal}
    again = load_checkpoint(save_checkpoint(tmp_path / "calibrated.safetensors", ck.model, meta))
    assert again.uncertainty_calibration == cal and ck.uncertainty_calibration is None
    assert again.metadata["weights_sha256"] == ck.metadata["weights_sha256"]

    patterns = np.stack([it["pattern"][0].numpy() for it in pattern_dataset.items])
    raw = predict_orientations(ck, patterns, max_uncertainty_deg=np.inf)
    calibrated = predict_orientations(again, patterns, max_uncertainty_deg=np.inf)
    assert np.array_equal(raw.rotations.data, calibrated.rotations.data)
    # the raw head (fused batch norm in predict) is what the calibration was fitted on
    np.testing.assert_allclose(raw.prop["uncertainty_deg"], cols["uncertainty_deg"], rtol=1e-4)
    np.testing.assert_allclose(
        calibrated.prop["uncertainty_deg"],
        apply_uncertainty_calibration(cal, raw.prop["uncertainty_deg"]),
    )
    # in sample, the calibrated mean predicted error is the mean observed error
    got = np.asarray(calibrated.prop["uncertainty_deg"])[has].mean()
    assert got == pytest.approx(cols["error_deg"][has].mean(), rel=1e-3)
