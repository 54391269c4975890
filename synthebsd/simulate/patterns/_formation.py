"""Expected pattern intensities of a map with every physics model, and their ground truth.

For map point i, with footprint weights w_ij over the map cells j around it
(:mod:`~synthebsd.simulate.patterns._mixing`; w_ii = 1 without mixing), the expected signal in
detector pixel (r, c) is

    λ_i = S · b · Σ_j w_ij · y_j · s_j · [1 + C_ij · k_ij + d · a_ij · b_d / b],

- S: counts per pixel at the background peak (``dose_counts``, camera model off), or
  detected electrons per pattern / Σ b (camera model on, electrons per pixel);
- b, b_d: the backscatter background (peak 1) and a twice broader diffuse one;
- y_j: region yield of cell j (metal and collector 1, pores ``pore_intensity``,
  electrolyte ``electrolyte_intensity``); s_j: the pore-rim shadow on the detector for
  pores (``pore_depth_ratio``), else 1;
- C_ij = C · L_j · (1 − a_ij): band contrast C, the FIB surface-layer factor
  L_j = exp(−t/λ_j) of cell j's phase (:func:`surface_layer_factor`) and the damaged
  fraction a_ij = 1 − exp(−D_i/D_c(phase of j)) at the cumulative dose D_i of the probe
  position (:mod:`~synthebsd.simulate.patterns._damage`);
- k_ij = (1 − a_ij)·k̃_j + a_ij·(G ∗ k̃_j): the scaled Kikuchi signal of cell j, blurred
  by G (σ = ``blur_sigma_px``) in proportion to the damage; 0 for cells without a phase;
- d: the diffuse background of fully damaged material.

With every model off this is the study's ``λ = N · y · b · (1 + C · k̃)``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np
from scipy.ndimage import gaussian_filter

from synthebsd.config import PatternConfig
from synthebsd.conventions import Region
from synthebsd.simulate.patterns._camera import camera_electrons_per_pattern
from synthebsd.simulate.patterns._damage import critical_doses, default_footprints, dose_map
from synthebsd.simulate.patterns._detector import backscatter_background, pore_shadow
from synthebsd.simulate.patterns._kikuchi import master_pattern_stats, scale_kikuchi
from synthebsd.simulate.patterns._mixing import electron_range_um, mixing_weights
from synthebsd.simulate.patterns._renderer import KikuchiRenderer

if TYPE_CHECKING:
    from kikuchipy.detectors import EBSDDetector
    from kikuchipy.signals import EBSDMasterPattern
    from orix.crystal_map import CrystalMap

__all__ = ["PatternModel", "pattern_ground_truth", "surface_layer_factor"]


def surface_layer_factor(phase, energy_kv: float, config: PatternConfig) -> float:
    """Contrast left by an amorphous surface layer: exp(−t / λ), λ = f · electron range.

    Kikuchi electrons crossing an amorphous layer of thickness t lose their diffraction
    contrast; we take the attenuation length λ proportional to the Kanaya–Okayama range
    (f = ``depth_fraction_of_range``: Cu at 20 kV 15 nm, Li 200 nm; the EBSD information
    depth grows with the range, Zaefferer, Ultramicroscopy 107, 254, 2007). 1 when off.
    """
    layer = config.surface_layer
    if not layer.enabled or layer.thickness_nm == 0:
        return 1.0
    attenuation_nm = layer.depth_fraction_of_range * electron_range_um(phase, energy_kv) * 1e3
    return float(np.exp(-layer.thickness_nm / attenuation_nm))


def _region_yield(region: np.ndarray, config: PatternConfig) -> np.ndarray:
    out = np.ones(region.shape)
    out[region == Region.PORE] = config.pore_intensity
    out[region == Region.ELECTROLYTE] = config.electrolyte_intensity
    return out


@dataclass(repr=False)
class PatternModel:
    """Everything needed to compute the patterns of any range of points of one map.

    Built once per map (:meth:`build`); :meth:`expected` and :meth:`kikuchi` are then
    cheap to call per chunk and deterministic.
    """

    xmap: CrystalMap
    master_patterns: Mapping[int, EBSDMasterPattern]
    detector: EBSDDetector
    config: PatternConfig
    energy_kv: float
    device: str = "cpu"
    background: np.ndarray = field(init=False)
    scale: float = field(init=False)
    yield_: np.ndarray = field(init=False)
    shadow: np.ndarray | None = field(init=False)
    diffuse_ratio: np.ndarray | None = field(init=False)
    layer: dict[int, float] = field(init=False)
    dose: np.ndarray | None = field(init=False)
    critical_dose: dict[int, float] = field(init=False)
    offsets: np.ndarray = field(init=False)
    weights: np.ndarray | None = field(init=False)
    renderers: dict[int, KikuchiRenderer] = field(init=False)
    kikuchi_stats: dict[int, tuple[float, float]] = field(init=False)

    def __repr__(self) -> str:
        models = [
            name
            for name, on in (
                ("camera", self.config.camera.enabled),
                ("damage", self.dose is not None),
                ("mixing", self.weights is not None),
                ("pore shadow", self.shadow is not None),
                ("surface layer", any(v != 1.0 for v in self.layer.values())),
            )
            if on
        ]
        return (
            f"PatternModel(map {self.xmap.shape}, detector {tuple(self.detector.shape)}, "
            f"{self.energy_kv:g} kV, models: {', '.join(models) or 'none'})"
        )

    def __post_init__(self) -> None:
        cfg = self.config
        xmap = self.xmap
        missing = set(np.unique(xmap.phase_id[xmap.phase_id >= 0]).tolist()) - set(
            self.master_patterns
        )
        if missing:
            raise ValueError(f"No master pattern given for phase id(s) {sorted(missing)}")
        # One renderer per phase for the whole map: its master-pattern image goes to the
        # device once, not once per chunk.
        self.renderers = {
            pid: KikuchiRenderer(
                mp, self.detector, self.energy_kv, self.device, cfg.oversample, cfg.psf_sigma_px
            )
            for pid, mp in self.master_patterns.items()
        }
        self.kikuchi_stats = {
            pid: master_pattern_stats(mp) for pid, mp in self.master_patterns.items()
        }
        tilt = float(self.detector.sample_tilt)
        self.background = backscatter_background(self.detector, cfg.background_sigma_deg)
        if cfg.camera.enabled:
            total = camera_electrons_per_pattern(cfg.camera, cfg.beam)
            self.scale = total / float(self.background.sum())
        else:
            self.scale = cfg.dose_counts
        self.yield_ = _region_yield(xmap.prop["region"], cfg)
        self.shadow = pore_shadow(self.detector, cfg.pore_depth_ratio)
        phases = {pid: ph for pid, ph in xmap.phases if pid >= 0}
        self.layer = {
            pid: surface_layer_factor(ph, self.energy_kv, cfg) for pid, ph in phases.items()
        }
        self.diffuse_ratio = None
        self.dose = None
        self.critical_dose = {}
        if cfg.damage.enabled:
            broad = backscatter_background(self.detector, 2 * cfg.background_sigma_deg)
            self.diffuse_ratio = broad / self.background
            footprints = default_footprints(xmap, self.energy_kv, tilt, cfg.beam, cfg.mixing)
            self.dose = dose_map(xmap, footprints, tilt, cfg.beam, cfg.damage)
            names = {pid: ph.name for pid, ph in phases.items()}
            self.critical_dose = critical_doses(names, cfg.damage)
        if cfg.mixing.enabled:
            self.offsets, self.weights = mixing_weights(
                xmap, self.energy_kv, tilt, cfg.beam, cfg.mixing
            )
        else:
            self.offsets, self.weights = np.zeros((1, 2), dtype=int), None

    @property
    def plain(self) -> bool:
        """True when no model beyond the study's default one is switched on."""
        return (
            self.weights is None
            and self.dose is None
            and self.shadow is None
            and all(v == 1.0 for v in self.layer.values())
        )

    @property
    def halo_rows(self) -> int:
        """Map rows beyond a chunk whose Kikuchi signal the chunk's mixing needs."""
        return int(np.abs(self.offsets[:, 0]).max())

    def kikuchi(self, index: np.ndarray, num_threads: int | None = None) -> np.ndarray:
        """Scaled Kikuchi signal k̃ (float32, (n, rows, cols)) of points; 0 without phase."""
        phase_id = self.xmap.phase_id[index]
        out = np.zeros((index.size, *self.detector.shape), dtype=np.float32)
        for pid, renderer in self.renderers.items():
            sel = np.nonzero(phase_id == pid)[0]
            if sel.size:
                rotations = self.xmap.rotations[index[sel]]
                data = renderer.render(rotations, num_threads=num_threads)
                out[sel] = scale_kikuchi(data, *self.kikuchi_stats[pid])
        return out

    def sources(self, index: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Cells seen by each point: (unique source indices, position (n, K), weight (n, K))."""
        if self.weights is None:
            return index, np.arange(index.size)[:, None], np.ones((index.size, 1))
        n_cols = self.xmap.shape[1]
        rows, cols = np.divmod(index, n_cols)
        w = self.weights[index]
        src = (rows[:, None] + self.offsets[:, 0]) * n_cols + cols[:, None] + self.offsets[:, 1]
        src = np.where(w > 0, src, -1)
        unique = np.unique(src[src >= 0])
        return unique, np.searchsorted(unique, src), w

    def expected(self, start: int, stop: int, num_threads: int | None = None) -> np.ndarray:
        """Expected counts (camera off) or electrons (camera on) of points start:stop.

        Returns
        -------
        expected
            float64 array (stop − start, rows, cols).
        """
        cfg = self.config
        index = np.arange(start, stop)
        if self.plain:
            kikuchi = self.kikuchi(index, num_threads)
            return (
                self.scale
                * self.yield_[index][:, None, None]
                * self.background
                * (1 + cfg.band_contrast * kikuchi)
            )
        unique, position, weight = self.sources(index)
        kikuchi = self.kikuchi(unique, num_threads)
        blurred = None
        if self.dose is not None and cfg.damage.blur_sigma_px > 0:
            s = cfg.damage.blur_sigma_px
            blurred = gaussian_filter(kikuchi, (0, s, s), mode="nearest")
        phase_id = self.xmap.phase_id
        region = self.xmap.prop["region"]
        dose = None if self.dose is None else self.dose[index]
        total = np.zeros((index.size, *self.detector.shape))
        for k in range(weight.shape[1]):
            rows = np.nonzero(weight[:, k] > 0)[0]
            if rows.size == 0:
                continue
            pos = position[rows, k]
            src = unique[pos]
            pid = phase_id[src]
            contrast = cfg.band_contrast * np.array([self.layer.get(p, 0.0) for p in pid])
            signal = kikuchi[pos].astype(np.float64)
            content = np.ones_like(signal)
            if dose is not None:
                dc = np.array([self.critical_dose.get(p, np.inf) for p in pid])
                a = np.where(pid >= 0, -np.expm1(-dose[rows] / dc), 0.0)
                contrast = contrast * (1 - a)
                if blurred is not None:
                    signal += a[:, None, None] * (blurred[pos] - signal)
                content += cfg.damage.diffuse_background * a[:, None, None] * self.diffuse_ratio
            content += contrast[:, None, None] * signal
            content *= (weight[rows, k] * self.yield_[src])[:, None, None]
            if self.shadow is not None:
                pore = region[src] == Region.PORE
                content[pore] *= self.shadow
            total[rows] += content
        return self.scale * self.background * total


def pattern_ground_truth(model: PatternModel) -> dict[str, np.ndarray]:
    """Ground truth of the pattern physics of every map point (flat C order).

    Returns
    -------
    truth
        - ``dose_e_per_nm2``: cumulative dose during the exposure (0 without damage),
        - ``damage_fraction``: a = 1 − exp(−D/D_c) of the point's own phase,
        - ``contrast_factor``: effective band contrast / ``band_contrast`` of the point's
          own material (damage × surface layer; 0 without a phase),
        - ``mixing_offsets`` (K, 2) and ``mixing_weights`` (n, K): footprint weights of
          the cells (row, col) + offset, ``mixing_self_weight`` (n,), and, if the map has
          ``grain_id``, ``mixing_same_grain_weight`` (n,) (same grain and region).
    """
    xmap = model.xmap
    n = xmap.size
    pid = xmap.phase_id
    layer = np.array([model.layer.get(p, 0.0) for p in pid])
    dose = np.zeros(n) if model.dose is None else model.dose.copy()
    dc = np.array([model.critical_dose.get(p, np.inf) for p in pid])
    a = np.where(pid >= 0, -np.expm1(-dose / dc), 0.0) if model.dose is not None else np.zeros(n)
    truth = {
        "dose_e_per_nm2": dose,
        "damage_fraction": a,
        "contrast_factor": layer * (1 - a),
    }
    weights = np.ones((n, 1)) if model.weights is None else model.weights
    truth["mixing_offsets"] = model.offsets.copy()
    truth["mixing_weights"] = weights.copy()
    truth["mixing_self_weight"] = weights[:, 0].copy()
    if "grain_id" in xmap.prop:
        grain = xmap.prop["grain_id"]
        region = xmap.prop["region"]
        index = np.arange(n)
        unique, position, w = model.sources(index)
        src = unique[position]
        same = (grain[src] == grain[:, None]) & (region[src] == region[:, None])
        truth["mixing_same_grain_weight"] = np.sum(np.where(same, w, 0.0), axis=1)
    return truth
