"""The energy-weighted dynamical master pattern against de-ebsd's raw energy-resolved result.

A spy on ``de_ebsd.MasterPatternSimulator.compute`` keeps the raw result (one Lambert map
per Monte Carlo energy bin) and the simulator (its Monte Carlo and microscope) of every
run; the expected master pattern is then computed here, independently of the module,
from the raw bins and the Monte Carlo's counts. Tiny settings (Li, half size 25,
d_min 1 Å, 5,000 electrons) keep each run to seconds.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from synthebsd.config import MasterPatternConfig
from synthebsd.phases import get_phase
from synthebsd.simulate import get_master_pattern, master_pattern_key
from synthebsd.simulate.masterpatterns._cache import _cache_path

HERE = Path(".")
TINY = {"half_size_px": 25, "min_dspacing_angstrom": 1.0, "n_electrons": 5000}


def _ncc(a: np.ndarray, b: np.ndarray) -> float:
    a = np.asarray(a, np.float64).ravel()
    b = np.asarray(b, np.float64).ravel()
    a, b = a - a.mean(), b - b.mean()
    return float((a * b).sum() / np.sqrt((a * a).sum() * (b * b).sum()))


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """Li through get_master_pattern: spectrum and incident at 70°, incident at 60°."""
    import de_ebsd

    captured = []
    original = de_ebsd.MasterPatternSimulator.compute

    def spy(self, *args, **kwargs):
        result = original(self, *args, **kwargs)
        captured.append((self, result))
        return result

    li = get_phase("Li")
    cache = tmp_path_factory.mktemp("mp-energy")
    out = {}
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(de_ebsd.MasterPatternSimulator, "compute", spy)
        for name, weighting, tilt in [
            ("spectrum", "spectrum", 70.0),
            ("incident", "incident", 70.0),
            ("incident60", "incident", 60.0),
        ]:
            cfg = MasterPatternConfig(energy_weighting=weighting, **TINY)
            mp_ = get_master_pattern(li, 20.0, cfg, cache, sample_tilt_deg=tilt)
            sim, raw = captured[-1]
            out[name] = {"mp": mp_, "sim": sim, "raw": raw, "config": cfg, "tilt": tilt}
    assert len(captured) == 3
    out["cache"] = cache
    return out


def _counts(sim) -> np.ndarray:
    """Backscattered electrons per energy bin of the simulator's own Monte Carlo."""
    return np.asarray(sim.monte_carlo.accum_z, np.float64).sum(axis=(1, 2, 3))


def test_spectrum_master_pattern_is_de_ebsd_bins_weighted_by_its_spectrum(runs):
    run = runs["spectrum"]
    raw, sim = run["raw"], run["sim"]
    bins = raw.data.detach().cpu().numpy().astype(np.float64)
    counts = _counts(sim)
    # de-ebsd's Monte Carlo bins: 1 keV from 5 keV below the beam energy up to it.
    assert np.allclose(raw.energies_kev, [15, 16, 17, 18, 19, 20])
    assert bins.shape == (6, 2, 51, 51)
    assert counts.sum() > 0 and counts.max() > 2 * counts.min()
    # Each raw bin already scales with its count (de-ebsd's lambda_E is counts over
    # incident electrons): the mean per electron is nearly the same in every bin.
    per_count = bins.mean(axis=(1, 2, 3))[counts > 0] / counts[counts > 0]
    assert per_count.max() / per_count.min() < 1.3
    # Expected: per-electron bin maps, weighted by the spectrum w_E = c_E / sum(c).
    weights = counts / counts.sum()
    expected = sum(w * b / c for w, b, c in zip(weights, bins, counts, strict=True) if c > 0)
    got = np.asarray(run["mp"].data, np.float64)
    assert got.shape == expected.shape
    assert np.allclose(got, expected, rtol=1e-5, atol=1e-6 * np.abs(expected).max())
    # Weighting the raw bins by their counts once more would be a different pattern.
    doubled = np.tensordot(weights, bins, axes=1)
    assert not np.allclose(got / got.mean(), doubled / doubled.mean(), rtol=1e-3)


def test_spectrum_differs_from_the_top_energy_bin(runs):
    spectrum, incident = runs["spectrum"], runs["incident"]
    top = spectrum["raw"].data[-1].detach().cpu().numpy()
    # The incident master pattern is the top bin of the same Monte Carlo (same seed).
    assert incident["raw"].data.shape[0] == 1
    assert np.array_equal(np.asarray(incident["mp"].data), top.astype(np.float32))
    # Lower energies widen the bands and shift their profiles: measured NCC 0.87 here.
    ncc = _ncc(spectrum["mp"].data, incident["mp"].data)
    assert 0.5 < ncc < 0.97


def test_sample_tilt_reaches_the_monte_carlo_and_the_key(runs):
    at70, at60 = runs["incident"], runs["incident60"]
    assert at70["sim"].microscope.sample_tilt == pytest.approx(70.0)
    assert at60["sim"].microscope.sample_tilt == pytest.approx(60.0)
    # A steeper tilt backscatters more electrons (measured: see the note of issue 15).
    yield70, yield60 = _counts(at70["sim"]).sum(), _counts(at60["sim"]).sum()
    assert yield60 < 0.75 * yield70
    assert not np.array_equal(np.asarray(at70["mp"].data), np.asarray(at60["mp"].data))
    li, cfg = get_phase("Li"), at70["config"]
    k70 = master_pattern_key(li, 20.0, cfg, 70.0)
    k60 = master_pattern_key(li, 20.0, cfg, 60.0)
    assert k70["sample_tilt_deg"] == 70.0 and k60["sample_tilt_deg"] == 60.0
    # Three runs, three cache files, each under its own key.
    files = sorted(p.name for p in runs["cache"].glob("*.h5"))
    assert len(files) == 3
    assert sum("spectrum" in f for f in files) == 1


def test_key_holds_tilt_and_weighting_and_a_new_format():
    li = get_phase("Li")
    dyn = MasterPatternConfig(**TINY)
    keys = [
        master_pattern_key(li, 20.0, dyn),
        master_pattern_key(li, 20.0, dyn, 65.0),
        master_pattern_key(li, 20.0, dyn.model_copy(update={"energy_weighting": "incident"})),
    ]
    assert keys[0]["energy_weighting"] == "spectrum" and keys[0]["sample_tilt_deg"] == 70.0
    assert len({_cache_path(HERE, k) for k in keys}) == 3
    # Files of the previous format (3: always 70°, top bin) are never read for a new key.
    assert keys[0]["format"] == 4
    old = dict(keys[0], format=3)
    old.pop("sample_tilt_deg"), old.pop("energy_weighting")
    assert _cache_path(HERE, old) not in {_cache_path(HERE, k) for k in keys}
    # Kinematical master patterns depend on neither.
    kin = dyn.model_copy(update={"engine": "kinematical"})
    assert master_pattern_key(li, 20.0, kin, 60.0) == master_pattern_key(li, 20.0, kin, 70.0)
    assert "energy_weighting" not in master_pattern_key(li, 20.0, kin)


def test_bad_energy_weighting_and_tilt_are_refused():
    from pydantic import ValidationError

    from synthebsd.simulate import dynamical_master_pattern, spectrum_weighted

    with pytest.raises(ValidationError, match="energy_weighting"):
        MasterPatternConfig(energy_weighting="mean")
    with pytest.raises(ValueError, match="sample_tilt_deg"):
        dynamical_master_pattern(get_phase("Li"), sample_tilt_deg=95.0)
    with pytest.raises(ValueError, match="no electrons.*n_electrons"):
        spectrum_weighted(np.ones((2, 3)), np.zeros(2))
    with pytest.raises(ValueError, match="2 spectrum counts for 3 energy bins"):
        spectrum_weighted(np.ones((3, 3)), np.ones(2))
