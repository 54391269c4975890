"""A gallery figure: one orientation under increasing dose, beam damage and surface damage.

Rows of the figure (one crystal orientation, the study's detector):

1. camera noise only: probe currents rising by decades at a fixed dwell time; the shot
   noise falls as 1/√dose;
2. the same currents with beam damage on: the pattern's own dose (and its neighbours'
   earlier in the scan, here none: a single point) lowers the band contrast, blurs the
   bands and adds diffuse background: the trade-off of Li EBSD;
3. noise-free patterns after a prior dose: damage alone;
4. noise-free patterns under an amorphous (FIB) surface layer of growing thickness.

Each panel is titled with its dose (primary electrons per pattern or e/nm²), the contrast
factor (band contrast relative to undamaged material) and, for noisy patterns, the NCC
of the background-divided pattern with the noise-free, undamaged one.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
from orix.crystal_map import CrystalMap, PhaseList

from synthebsd.analyze import pattern_ncc
from synthebsd.config import CameraConfig, PatternConfig, SurfaceLayerConfig
from synthebsd.conventions import Region
from synthebsd.simulate import (
    PatternModel,
    camera_counts,
    critical_dose,
    pattern_ground_truth,
    primary_electrons,
)
from synthebsd.viz import plot_pattern_grid

if TYPE_CHECKING:
    from kikuchipy.detectors import EBSDDetector
    from kikuchipy.signals import EBSDMasterPattern
    from orix.quaternion import Rotation

__all__ = ["write_pattern_gallery"]

_CURRENTS_NA = (0.003, 0.03, 0.3, 3.0)
_PRIOR_DOSES = (0.0, 250.0, 1000.0, 4000.0)
_LAYERS_NM = (0.0, 20.0, 60.0, 150.0)


def _one_grain_map(phase, rotation: Rotation):
    """A 2 × 2 map of one grain (0.5 µm steps); point 0 is scanned first: only its own dose."""
    y, x = np.mgrid[0:2, 0:2] * 0.5
    return CrystalMap(
        rotations=rotation[np.zeros(4, dtype=int)],
        phase_id=np.zeros(4, dtype=int),
        x=x.ravel(),
        y=y.ravel(),
        phase_list=PhaseList(phases=[phase], ids=[0]),
        prop={"grain_id": np.zeros(4, dtype=int), "region": np.full(4, int(Region.METAL))},
        scan_unit="um",
    )


def write_pattern_gallery(
    path: str | Path,
    master_pattern: EBSDMasterPattern,
    detector: EBSDDetector,
    rotation: Rotation,
    energy_kv: float = 20.0,
    seed: int = 0,
    config: PatternConfig | None = None,
) -> dict:
    """Render the gallery and write it as PNG (atomically).

    Parameters
    ----------
    path
        Output ``.png``.
    master_pattern
        Lambert master pattern with its phase (the phase's critical dose is used).
    detector
        Detector (Bruker projection centre).
    rotation
        One orix rotation (sample → crystal).
    energy_kv
        Beam energy in kV.
    seed
        Noise seed.
    config
        Base pattern configuration (contrast, background, camera and damage parameters);
        the gallery switches the camera and damage models on and varies the beam.
        Default: the study's, with a 16-bit camera so that the highest dose does not
        saturate.

    Returns
    -------
    summary
        Per row, the varied values and measured contrast factors and NCC.
    """
    base = config or PatternConfig(camera=CameraConfig(bit_depth=16))  # no saturation
    xmap = _one_grain_map(master_pattern.phase, rotation.flatten())
    mps = {0: master_pattern}
    camera = base.camera.model_copy(update={"enabled": True})
    clean_ref = PatternModel(xmap, mps, detector, base, energy_kv).expected(0, 1)[0]

    def panel(cfg: PatternConfig, noisy: bool):
        model = PatternModel(xmap, mps, detector, cfg, energy_kv)
        lam = model.expected(0, 1)
        factor = float(pattern_ground_truth(model)["contrast_factor"][0])
        if not noisy:
            return lam[0], factor, None
        image = camera_counts(lam, cfg.camera, seed, np.zeros(1, dtype=int))[0]
        # Bands as an indexer sees them: divided by the smooth background.
        ncc = pattern_ncc(image / model.background, clean_ref / model.background)
        return image, factor, float(ncc)

    rows = []
    for damaged in (False, True):
        row = []
        for current in _CURRENTS_NA:
            beam = base.beam.model_copy(update={"probe_current_na": current})
            damage = base.damage.model_copy(update={"enabled": damaged})
            cfg = base.model_copy(update={"beam": beam, "camera": camera, "damage": damage})
            image, factor, ncc = panel(cfg, noisy=True)
            label = (
                f"{current:g} nA: {primary_electrons(beam):.1e} e⁻\nC×{factor:.2f}, NCC {ncc:.2f}"
            )
            row.append((image, label, factor, ncc))
        rows.append(("camera noise" if not damaged else "noise + beam damage", row))
    row = []
    for prior in _PRIOR_DOSES:
        damage = base.damage.model_copy(update={"enabled": True, "prior_dose_e_per_nm2": prior})
        cfg = base.model_copy(update={"damage": damage})
        image, factor, _ = panel(cfg, noisy=False)
        row.append((image, f"prior {prior:g} e/nm²\nC×{factor:.2f}", factor, None))
    rows.append(("beam damage, noise-free", row))
    row = []
    for thickness in _LAYERS_NM:
        layer = SurfaceLayerConfig(enabled=thickness > 0, thickness_nm=thickness)
        image, factor, _ = panel(base.model_copy(update={"surface_layer": layer}), noisy=False)
        row.append((image, f"FIB layer {thickness:g} nm\nC×{factor:.2f}", factor, None))
    rows.append(("amorphous surface layer", row))

    phase = master_pattern.phase.name
    euler = np.rad2deg(rotation.to_euler()).ravel()
    plot_pattern_grid(
        [(name, [(image, label) for image, label, _, _ in row]) for name, row in rows],
        path,
        f"{phase}, Euler ({euler[0]:.0f}°, {euler[1]:.0f}°, {euler[2]:.0f}°), {energy_kv:g} kV, "
        f"dwell {base.beam.dwell_time_ms:g} ms, {camera.bit_depth}-bit camera, "
        f"D_c = {critical_dose(base.damage, phase):g} e/nm²",
    )
    return {
        name: [{"label": label, "contrast_factor": f, "ncc": n} for _, label, f, n in row]
        for name, row in rows
    }
