"""The indexer's model: master patterns smoothed to the detector's angular resolution."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
from scipy.ndimage import gaussian_filter

if TYPE_CHECKING:
    from kikuchipy.detectors import EBSDDetector
    from kikuchipy.signals import EBSDMasterPattern

__all__ = ["smooth_master_pattern"]


def smooth_master_pattern(
    master_pattern: EBSDMasterPattern,
    detector: EBSDDetector,
    psf_sigma_px: float = 0.5,
    resample_sigma_px: float | None = None,
) -> EBSDMasterPattern:
    """Smooth a master pattern to about the angular resolution of the detector.

    An indexer's model, not the renderer's physics: dictionary indexing and refinement
    project with kikuchipy, which samples the master pattern at one direction per
    detector pixel. Dynamical Li has lines far sharper than a 60 × 60 pixel, so a model
    sampled that way is aliased and a 3° dictionary misses most Li patterns (40 % within
    2° on the demo's Li; 72 % after smoothing, 95 % after refinement). We approximate the
    pixel's solid angle (box, variance 1/12 px²) and the point spread ``psf_sigma_px``
    with one Gaussian on the Lambert master pattern, of σ = √(1/12 + psf²) detector
    pixels converted to Lambert pixels at the projection centre (a detector pixel
    subtends 1 / (PCz · rows) rad, Bruker PCz; a Lambert pixel √(2π) / n rad). The
    square Lambert projection is not conformal, so this blur is slightly anisotropic and
    differs between symmetry-equivalent regions (for Cu, symmetry-equivalent patterns
    drop from NCC 0.998 to about 0.9); the renderer therefore integrates pixels in the
    detector plane instead (:func:`synthebsd.simulate.project_kikuchi_signal`).

    Parameters
    ----------
    master_pattern
        Lambert master pattern, both hemispheres.
    detector
        Detector whose pixel size sets the blur (Bruker projection centre).
    psf_sigma_px
        Point-spread σ in detector pixels.
    resample_sigma_px
        If given, keep every f-th Lambert pixel of the smoothed pattern, f the largest
        divisor of n − 1 (n pixels per side) for which the blur still spans at least
        this many of the new pixels (no aliasing: the blur comes first). A smoothed
        model needs no more pixels, and reading a smaller image is faster (it stays in
        the CPU cache): dynamical Li at half size 1000 and 3 px keeps 1 pixel in 4.
        None keeps the grid.

    Returns
    -------
    master_pattern
        A new, smoothed master pattern (the input is unchanged). Near the hemisphere
        edges the blur reflects at the equator.
    """
    from kikuchipy.signals import EBSDMasterPattern  # lazy: kikuchipy takes seconds

    pcz = float(np.asarray(detector.pcz).ravel()[0])
    detector_px_rad = 1.0 / (pcz * detector.nrows)
    data = np.asarray(master_pattern.data, dtype=np.float32)
    lambert_px_rad = np.sqrt(2 * np.pi) / data.shape[-1]
    sigma = np.sqrt(1 / 12 + psf_sigma_px**2) * detector_px_rad / lambert_px_rad
    blurred = np.stack([gaussian_filter(h, sigma, mode="reflect") for h in data])
    if resample_sigma_px is not None:
        n = data.shape[-1]
        f = max(
            (f for f in range(1, n) if (n - 1) % f == 0 and sigma / f >= resample_sigma_px),
            default=1,
        )
        # Pixel i·f of the old grid and pixel i of the new one are the same direction.
        blurred = np.ascontiguousarray(blurred[..., ::f, ::f])
    out = EBSDMasterPattern(
        blurred, projection="lambert", hemisphere="both", phase=master_pattern.phase.deepcopy()
    )
    energy = master_pattern.metadata.get_item("Simulation.EBSD_master_pattern.energy_kv")
    if energy is not None:
        out.metadata.set_item("Simulation.EBSD_master_pattern.energy_kv", energy)
    return out
