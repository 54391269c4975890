"""Camera model: electrons → shot noise → gain → read noise → offset → bit depth.

With the camera model off (the study's default) a pattern's counts are Poisson with the
expected counts λ and stored as uint16, saturating at 65,535 (:func:`poisson_counts`).

With it on (:func:`camera_counts`), λ is in detected electrons per pattern pixel; the
camera records

    ADU = clip(round(g · Poisson(λ) + offset + ε), 0, 2^bits − 1),  ε ~ N(0, σ_r²·k),

with gain g (ADU per electron), read noise σ_r (ADU per read) and k reads per pattern
pixel: 1 with charge binning (CCD: the b × b sensor pixels are summed before the read),
b² with digital binning (CMOS: every sensor pixel is read, then summed). Binning does not
change the electrons a pattern collects, only how many reads add noise to each pixel.
Mean and variance before rounding and clipping: g·λ + offset and g²·λ + σ_r²·k.

Random numbers come from a generator seeded by ``(seed, stream, flat point index)``: a
pattern's noise does not depend on how the map is chunked. It does depend on the last bits
of the expected counts: NumPy's Poisson sampler (transformed rejection for λ ≥ 10) uses a
varying number of random numbers, so a rounding change in λ (another device or torch
build) flips a count or, if it flips an accept/reject decision, re-draws the rest of that
pattern's noise, with the same statistics.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from synthebsd.config import BeamConfig, CameraConfig
from synthebsd.conventions import NOISE_STREAM, stream_rng, stream_seed
from synthebsd.simulate.patterns._damage import primary_electrons

if TYPE_CHECKING:
    import torch

__all__ = [
    "camera_counts",
    "camera_counts_torch",
    "camera_electrons_per_pattern",
    "camera_moments",
    "poisson_counts",
    "poisson_counts_torch",
    "thin_counts_torch",
    "torch_generator",
]

#: Largest count a uint16 pattern holds.
_UINT16_MAX = 65535


def camera_electrons_per_pattern(camera: CameraConfig, beam: BeamConfig) -> float:
    """Detected electrons in a background-only pattern of yield 1 (sum over all pixels)."""
    if camera.electrons_per_pattern is not None:
        return float(camera.electrons_per_pattern)
    return primary_electrons(beam) * camera.detection_efficiency


def _reads_per_pixel(camera: CameraConfig) -> int:
    return 1 if camera.binning_mode == "charge" else camera.binning**2


def camera_moments(expected_electrons: np.ndarray, camera: CameraConfig):
    """Mean and variance (ADU, before rounding and clipping) for expected electrons."""
    lam = np.asarray(expected_electrons, dtype=float)
    g = camera.gain_adu_per_electron
    mean = g * lam + camera.offset_adu
    var = g**2 * lam + camera.read_noise_adu**2 * _reads_per_pixel(camera)
    return mean, var


def poisson_counts(expected: np.ndarray, seed: int, index: np.ndarray) -> np.ndarray:
    """Poisson counts of expected counts (n, ...) as uint16, one generator per pattern."""
    out = np.empty(expected.shape, dtype=np.uint16)
    top = np.iinfo(np.uint16).max
    for j, i in enumerate(index):
        rng = stream_rng(seed, NOISE_STREAM, i)
        out[j] = np.minimum(rng.poisson(expected[j]), top)
    return out


def camera_counts(
    expected_electrons: np.ndarray, camera: CameraConfig, seed: int, index: np.ndarray
) -> np.ndarray:
    """Recorded ADU of expected detected electrons per pixel (n, ...), as uint16.

    Parameters
    ----------
    expected_electrons
        Expected detected electrons per pattern pixel, float array (n, rows, cols).
    camera
        Gain, read noise, offset, bit depth, binning.
    seed
        Noise seed; pattern ``index[j]`` uses a generator seeded ``(seed, 1, index[j])``.
    index
        Flat map index of each pattern.

    Returns
    -------
    adu
        uint16 array; values saturate at 2^bit_depth − 1.
    """
    top = 2**camera.bit_depth - 1
    sigma = camera.read_noise_adu * np.sqrt(_reads_per_pixel(camera))
    g = camera.gain_adu_per_electron
    out = np.empty(expected_electrons.shape, dtype=np.uint16)
    for j, i in enumerate(index):
        rng = stream_rng(seed, NOISE_STREAM, i)
        adu = g * rng.poisson(expected_electrons[j]) + camera.offset_adu
        if sigma > 0:
            adu = adu + rng.normal(0.0, sigma, adu.shape)
        out[j] = np.clip(np.rint(adu), 0, top)
    return out


def torch_generator(
    seed: int, stream: int, *index: int, device: str | torch.device = "cpu"
) -> torch.Generator | None:
    """A torch generator on ``device`` seeded from ``(seed, stream, *index)``.

    Seeded with :func:`synthebsd.conventions.stream_seed`, so the same arguments give the
    same generator in every process. Returns None on torch's ``meta`` device, which holds
    no data (and has no generators): the samplers below then run without one, which is
    what a device-placement test needs.
    """
    import torch  # lazy: torch takes seconds to import

    device = torch.device(device)
    if device.type == "meta":
        return None
    generator = torch.Generator(device=device)
    generator.manual_seed(stream_seed(seed, stream, *index))
    return generator


def poisson_counts_torch(
    expected: torch.Tensor, generator: torch.Generator | None
) -> torch.Tensor:
    """Poisson counts of expected counts, on their device, saturating at 65,535.

    Parameters
    ----------
    expected
        Expected counts per pixel, float tensor of any shape (one noise unit).
    generator
        Generator on the same device (:func:`torch_generator`).

    Returns
    -------
    counts
        float32 tensor of whole numbers in [0, 65535], the shape and device of
        ``expected``.
    """
    import torch  # lazy: torch takes seconds to import

    lam = expected.to(torch.float32)
    return torch.poisson(lam, generator=generator).clamp_(max=_UINT16_MAX)


def camera_counts_torch(
    expected_electrons: torch.Tensor,
    camera: CameraConfig,
    generator: torch.Generator | None,
) -> torch.Tensor:
    """Recorded ADU of expected detected electrons per pixel, the torch twin of
    :func:`camera_counts`: round(g · Poisson(λ) + offset + ε) clipped to [0, 2^bits − 1],
    ε ~ N(0, σ_r² · reads per pixel); the Poisson draws come first from ``generator``.

    Returns
    -------
    adu
        float32 tensor of whole numbers, the shape and device of ``expected_electrons``.
    """
    import torch  # lazy: torch takes seconds to import

    lam = expected_electrons.to(torch.float32)
    adu = torch.poisson(lam, generator=generator).mul_(camera.gain_adu_per_electron)
    adu.add_(camera.offset_adu)
    sigma = camera.read_noise_adu * float(np.sqrt(_reads_per_pixel(camera)))
    if sigma > 0:
        noise = torch.randn(lam.shape, generator=generator, device=lam.device)
        adu.add_(noise.mul_(sigma))
    return adu.round_().clamp_(0, 2**camera.bit_depth - 1)


def thin_counts_torch(
    counts: torch.Tensor, fraction: torch.Tensor, generator: torch.Generator | None
) -> torch.Tensor:
    """Keep each count with probability ``fraction``: Binomial(counts, f) per pixel.

    Thinning Poisson(λ) counts gives exactly Poisson(f · λ) counts, i.e. the same pattern
    at f times the dose; saturated pixels (65,535) stay a lower bound, as on a camera.

    Parameters
    ----------
    counts
        Whole-number float tensor (n, ...) of Poisson counts.
    fraction
        Keep probability per pattern, shape (n,), in (0, 1].
    generator
        Generator on the device of ``counts``.
    """
    import torch  # lazy: torch takes seconds to import

    shape = (-1,) + (1,) * (counts.ndim - 1)
    prob = fraction.to(counts.dtype).reshape(shape).expand_as(counts).contiguous()
    return torch.binomial(counts, prob, generator=generator)
