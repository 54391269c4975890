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
  pores (:func:`~synthebsd.simulate.patterns.pore_shadow` of the pore's depth / width),
  else 1;
- C_ij = C · L_j · (1 − a_ij): band contrast C, the FIB surface-layer factor
  L_j = exp(−t/λ_j) of cell j's phase (:func:`surface_layer_factor`) and the damaged
  fraction a_ij = 1 − exp(−D_i/D_c(phase of j)) at the cumulative dose D_i of the probe
  position (:mod:`~synthebsd.simulate.patterns._damage`);
- k_ij = (1 − a_ij)·k̃_j + a_ij·(G ∗ k̃_j): the scaled Kikuchi signal of cell j's
  diffracting material (:mod:`~synthebsd.simulate.patterns._sources`: its own crystal, or
  for a pore the grain at its floor), blurred by G (σ = ``blur_sigma_px``) in proportion to
  the damage; 0 for amorphous cells;
- d: the diffuse background of fully damaged material.

Each cell's Kikuchi signal and background are projected with its own projection centre
when the detector has one per map point (:func:`~synthebsd.simulate.patterns.map_detector`),
a pore's lowered by its depth (:func:`~synthebsd.simulate.patterns.pc_shift_along_beam`).
With every model off this is ``λ = N · y · b · (1 + C · k̃)``.
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
from synthebsd.simulate.patterns._detector import (
    backscatter_background,
    pc_shift_along_beam,
    pore_shadow,
)
from synthebsd.simulate.patterns._kikuchi import master_pattern_stats, scale_kikuchi
from synthebsd.simulate.patterns._mixing import electron_range_um, mixing_weights
from synthebsd.simulate.patterns._renderer import KikuchiRenderer
from synthebsd.simulate.patterns._sources import DiffractingSources, diffracting_sources

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

    Built once per map; :meth:`expected` and :meth:`kikuchi` are then cheap to call per
    chunk and deterministic.

    Parameters
    ----------
    xmap
        Ground-truth map (:mod:`synthebsd.conventions`).
    master_patterns
        Master pattern per phase id of ``xmap`` (each named like the map's phase, at
        ``energy_kv``).
    detector
        kikuchipy detector with one projection centre (Bruker), or one per map point
        (:func:`~synthebsd.simulate.patterns.map_detector`).
    config
        Pattern physics.
    energy_kv
        Beam energy in kV.
    device
        torch device of the renderers.

    Raises
    ------
    ValueError
        If a phase has no master pattern, a master pattern's phase or energy does not
        match, or the detector's number of projection centres is neither 1 nor the map's.
    """

    xmap: CrystalMap
    master_patterns: Mapping[int, EBSDMasterPattern]
    detector: EBSDDetector
    config: PatternConfig
    energy_kv: float
    device: str = "cpu"
    diffracting: DiffractingSources = field(init=False)
    render_detector: EBSDDetector = field(init=False)
    background: np.ndarray = field(init=False)
    scale: float = field(init=False)
    yield_: np.ndarray = field(init=False)
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
                ("pore patterns", self.diffracting.has_pore_patterns),
                ("surface layer", any(v != 1.0 for v in self.layer.values())),
                ("PC per point", self.per_point_pc),
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
        self._check_master_patterns()
        n_pcs = int(np.asarray(self.detector.pcz).size)
        if n_pcs not in (1, xmap.size):
            raise ValueError(
                f"The detector has {n_pcs} projection centres; give one, or one per map "
                f"point ({xmap.size}, e.g. synthebsd.simulate.map_detector)"
            )
        self.diffracting = diffracting_sources(xmap, cfg.pore_patterns)
        self.render_detector = self.detector
        if n_pcs > 1 and self.diffracting.has_pore_patterns:
            # Pores are seen from a source lowered to their floor.
            render = self.detector.deepcopy()
            pcs = self.detector.pc_flattened + pc_shift_along_beam(
                self.detector, self.diffracting.depth_um
            )
            render.pc = pcs.reshape(*self.detector.navigation_shape, 3)
            self.render_detector = render
        # One renderer per phase for the whole map: its master-pattern image goes to the
        # device once, not once per chunk.
        self.renderers = {
            pid: KikuchiRenderer(
                mp,
                self.render_detector,
                self.energy_kv,
                self.device,
                cfg.oversample,
                cfg.psf_sigma_px,
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
        phases = {pid: ph for pid, ph in xmap.phases if pid >= 0}
        self.layer = {
            pid: surface_layer_factor(ph, self.energy_kv, cfg) for pid, ph in phases.items()
        }
        self.dose = None
        self.critical_dose = {}
        if cfg.damage.enabled:
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

    def _check_master_patterns(self) -> None:
        phases = {pid: ph for pid, ph in self.xmap.phases if pid >= 0}
        missing = set(np.unique(self.xmap.phase_id[self.xmap.phase_id >= 0]).tolist()) - set(
            self.master_patterns
        )
        if missing:
            raise ValueError(f"No master pattern given for phase id(s) {sorted(missing)}")
        for pid, mp in self.master_patterns.items():
            if pid in phases and mp.phase.name != phases[pid].name:
                raise ValueError(
                    f"The master pattern for phase id {pid} is of {mp.phase.name!r}, but the "
                    f"map's phase {pid} is {phases[pid].name!r}"
                )
            energy = mp.metadata.get_item("Simulation.EBSD_master_pattern.energy_kv")
            nav = [ax.name for ax in mp.axes_manager.navigation_axes]
            if "energy" in nav and mp.axes_manager["energy"].size > 1:
                energies = np.asarray(mp.axes_manager["energy"].axis, dtype=float)
                ok = np.any(np.isclose(energies, self.energy_kv))
                have = f"energies {energies.min():g}–{energies.max():g} kV"
            else:
                ok = energy is None or np.isclose(float(energy), self.energy_kv)
                have = f"{float(energy):g} kV"
            if not ok:
                raise ValueError(
                    f"The master pattern of {mp.phase.name} is for {have}, but the patterns "
                    f"are for {self.energy_kv:g} kV"
                )

    @property
    def per_point_pc(self) -> bool:
        """Whether each map point has its own projection centre."""
        return int(np.asarray(self.detector.pcz).size) > 1

    @property
    def plain(self) -> bool:
        """True when neither damage, mixing nor a surface layer is switched on."""
        return (
            self.weights is None
            and self.dose is None
            and all(v == 1.0 for v in self.layer.values())
        )

    @property
    def halo_rows(self) -> int:
        """Map rows beyond a chunk whose Kikuchi signal the chunk's mixing needs."""
        return int(np.abs(self.offsets[:, 0]).max())

    def backgrounds(self, index: np.ndarray, sigma_deg: float | None = None) -> np.ndarray:
        """Backscatter background (peak 1) of points: (n, rows, cols), or (rows, cols)
        when every point shares one projection centre."""
        sigma = self.config.background_sigma_deg if sigma_deg is None else sigma_deg
        if not self.per_point_pc:
            return backscatter_background(self.detector, sigma)
        return backscatter_background(self.render_detector, sigma, index)

    def kikuchi(self, index: np.ndarray, num_threads: int | None = None) -> np.ndarray:
        """Scaled Kikuchi signal k̃ (float32, (n, rows, cols)) of points' diffracting
        material, each with its own projection centre; 0 where nothing diffracts."""
        phase_id = self.diffracting.phase_id[index]
        point = self.diffracting.point[index]
        out = np.zeros((index.size, *self.detector.shape), dtype=np.float32)
        for pid, renderer in self.renderers.items():
            sel = np.nonzero(phase_id == pid)[0]
            if sel.size:
                rotations = self.xmap.rotations[point[sel]]
                pc_index = index[sel] if self.per_point_pc else None
                data = renderer.render(rotations, num_threads=num_threads, pc_index=pc_index)
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

    def contrast(self, phase_id: np.ndarray) -> np.ndarray:
        """Band contrast C · surface-layer factor of each phase id (0 for −1)."""
        layer = np.array([self.layer.get(int(p), 0.0) for p in phase_id])
        return self.config.band_contrast * layer

    def expected(self, start: int, stop: int, num_threads: int | None = None) -> np.ndarray:
        """Expected counts (camera off) or electrons (camera on) of points start:stop.

        Returns
        -------
        expected
            float64 array (stop − start, rows, cols).
        """
        cfg = self.config
        index = np.arange(start, stop)
        background = self.backgrounds(index)
        ratio = self.diffracting.shadow_ratio
        if self.weights is None and self.dose is None:
            kikuchi = self.kikuchi(index, num_threads)
            contrast = self.contrast(self.diffracting.phase_id[index])
            content = 1 + contrast[:, None, None] * kikuchi
            shadowed = np.nonzero(ratio[index] > 0)[0]
            if shadowed.size:
                content[shadowed] *= pore_shadow(self.detector, ratio[index[shadowed]])
            return self.scale * self.yield_[index][:, None, None] * background * content
        unique, position, weight = self.sources(index)
        kikuchi = self.kikuchi(unique, num_threads)
        blurred = None
        if self.dose is not None and cfg.damage.blur_sigma_px > 0:
            s = cfg.damage.blur_sigma_px
            blurred = gaussian_filter(kikuchi, (0, s, s), mode="nearest")
        diffuse_ratio = None
        if self.dose is not None:
            diffuse_ratio = self.backgrounds(index, 2 * cfg.background_sigma_deg) / background
        phase_id = self.diffracting.phase_id
        dose = None if self.dose is None else self.dose[index]
        total = np.zeros((index.size, *self.detector.shape))
        for k in range(weight.shape[1]):
            rows = np.nonzero(weight[:, k] > 0)[0]
            if rows.size == 0:
                continue
            pos = position[rows, k]
            src = unique[pos]
            pid = phase_id[src]
            contrast = self.contrast(pid)
            signal = kikuchi[pos].astype(np.float64)
            content = np.ones_like(signal)
            if dose is not None:
                dc = np.array([self.critical_dose.get(int(p), np.inf) for p in pid])
                a = np.where(pid >= 0, -np.expm1(-dose[rows] / dc), 0.0)
                contrast = contrast * (1 - a)
                if blurred is not None:
                    signal += a[:, None, None] * (blurred[pos] - signal)
                d = diffuse_ratio if diffuse_ratio.ndim == 2 else diffuse_ratio[rows]
                content += cfg.damage.diffuse_background * a[:, None, None] * d
            content += contrast[:, None, None] * signal
            content *= (weight[rows, k] * self.yield_[src])[:, None, None]
            shadowed = np.nonzero(ratio[src] > 0)[0]
            if shadowed.size:
                content[shadowed] *= pore_shadow(self.detector, ratio[src[shadowed]])
            total[rows] += content
        return self.scale * background * total


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
          ``grain_id``, ``mixing_same_grain_weight`` (n,) (same grain and region),
        - ``diffracting_phase_id`` and ``diffracting_point`` (n,): the phase and the map
          point whose orientation each pattern shows (a pore's: its floor),
        - ``pc_bruker`` (n, 3): the projection centre each pattern was rendered with.
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
    truth["diffracting_phase_id"] = model.diffracting.phase_id.copy()
    truth["diffracting_point"] = model.diffracting.point.copy()
    pcs = np.asarray(model.render_detector.pc, dtype=float).reshape(-1, 3)
    truth["pc_bruker"] = np.broadcast_to(pcs, (n, 3)).copy()
    if "grain_id" in xmap.prop:
        grain = xmap.prop["grain_id"]
        region = xmap.prop["region"]
        index = np.arange(n)
        unique, position, w = model.sources(index)
        src = unique[position]
        same = (grain[src] == grain[:, None]) & (region[src] == region[:, None])
        truth["mixing_same_grain_weight"] = np.sum(np.where(same, w, 0.0), axis=1)
    return truth
