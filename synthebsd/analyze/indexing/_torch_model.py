"""The torch backend's models: a phase's indexer model at the detector and a coarse one.

The *full* model is the master pattern the caller gives (the indexer's model, usually
:func:`smooth_master_pattern`'s), projected by
:class:`~synthebsd.simulate.KikuchiRenderer` with point sampling, exactly as kikuchipy's
``get_patterns`` projects it, so scores are kikuchipy's NCC. The *coarse* model serves
the fast first passes (dictionary matching, the first refinement steps): patterns binned
``b × b`` (``b`` dividing the detector shape) against the same master pattern smoothed
once more to the binned pixel (:func:`smooth_master_pattern` on the binned detector, a
wider basin) and resampled to the resolution that blur needs. NCC here is the Pearson
correlation over all pixels, as kikuchipy's ``"ncc"`` metric.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

import numpy as np

from synthebsd.analyze.indexing._model import smooth_master_pattern
from synthebsd.simulate import torch_threads, worker_pool

if TYPE_CHECKING:
    import torch
    from kikuchipy.detectors import EBSDDetector
    from kikuchipy.signals import EBSDMasterPattern
    from orix.quaternion import Rotation

__all__ = [
    "IndexerModel",
    "binned_detector",
    "chunk_map",
    "normalize_rows",
    "render_tensor",
    "resolve_device",
    "to_device",
]

#: Patterns per chunk on a GPU (on the CPU: the renderer's cache-sized chunks).
GPU_CHUNK = 4096

#: Lambert pixels per blur σ kept when the coarse model is resampled.
COARSE_RESAMPLE_SIGMA_PX = 2.0


def chunk_map(
    renderer,
    matrices: np.ndarray,
    fn: Callable[[np.ndarray, torch.Tensor], None],
    num_threads: int | None,
    order: np.ndarray | None = None,
    pc_index: np.ndarray | None = None,
) -> None:
    """Render chunks of rotation matrices and hand each to ``fn(index, patterns)`` at once.

    On the CPU, chunks of the renderer's cache-sized default run on ``num_threads``
    worker threads with one torch thread each, and ``fn`` (normalization, a dot product,
    a write into a preallocated tensor at rows ``index``) works on patterns still in the
    cache; ``order`` (e.g. :meth:`~synthebsd.simulate.KikuchiRenderer.cache_order`)
    groups nearby orientations. On a GPU, large chunks in one thread.

    Parameters
    ----------
    matrices
        float32 rotation matrices (n, 3, 3).
    fn
        Called with the flat indices of a chunk and its patterns (len, rows·cols).
    """
    import torch  # lazy: torch takes seconds to import

    n = matrices.shape[0]
    cpu = renderer.device.type == "cpu"
    size = renderer.default_chunk_size() if cpu else GPU_CHUNK
    order = np.arange(n) if order is None else order
    chunks = [order[a : a + size] for a in range(0, n, size)]

    def one(index: np.ndarray) -> None:
        with torch.inference_mode(), torch_threads(1 if cpu else None):
            pcs = None if pc_index is None else pc_index[index]
            patterns = renderer.render_chunk(matrices[index], pcs)
            fn(index, patterns.reshape(index.size, -1))

    workers = max(1, int(num_threads or torch.get_num_threads())) if cpu else 1
    if workers == 1 or len(chunks) == 1:
        for c in chunks:
            one(c)
    else:
        for future in [worker_pool(workers).submit(one, c) for c in chunks]:
            future.result()


def resolve_device(device) -> torch.device:
    import torch  # lazy: torch takes seconds to import

    return torch.device(device)


def binned_detector(detector: EBSDDetector, binning: int) -> EBSDDetector:
    """The same detector (tilts, Bruker PC) with pixels binned ``binning × binning``."""
    from kikuchipy.detectors import EBSDDetector  # lazy: kikuchipy takes seconds

    rows, cols = detector.shape
    if binning < 1 or rows % binning or cols % binning:
        raise ValueError(
            f"A binning of {binning} must divide the detector shape {tuple(detector.shape)}"
        )
    if binning == 1:
        return detector
    return EBSDDetector(
        shape=(rows // binning, cols // binning),
        pc=np.asarray(detector.pc),
        sample_tilt=detector.sample_tilt,
        tilt=detector.tilt,
        azimuthal=detector.azimuthal,
        twist=detector.twist,
        convention="bruker",
    )


def normalize_rows(x: torch.Tensor) -> torch.Tensor:
    """Zero mean, unit norm along the last axis (float32); a flat row stays all zero."""
    import torch  # lazy: torch takes seconds to import

    x = x.to(torch.float32, copy=True)
    x.sub_(x.mean(dim=-1, keepdim=True))
    return x.div_(torch.linalg.vector_norm(x, dim=-1, keepdim=True).clamp_(min=1e-12))


def to_device(block: np.ndarray, device, binning: int = 1) -> tuple[torch.Tensor, torch.Tensor]:
    """A block (n, rows, cols) on the device: normalized full rows and binned rows."""
    import torch  # lazy: torch takes seconds to import
    import torch.nn.functional as F  # lazy: torch

    x = torch.from_numpy(np.ascontiguousarray(block, dtype=np.float32)).to(device)
    full = normalize_rows(x.reshape(x.shape[0], -1))
    if binning == 1:
        return full, full
    coarse = F.avg_pool2d(x.unsqueeze(1), binning)
    return full, normalize_rows(coarse.reshape(x.shape[0], -1))


def render_tensor(renderer, rotations: Rotation, num_threads: int | None) -> torch.Tensor:
    """Patterns (n, rows·cols) of orix rotations, a float32 tensor on the renderer's device."""
    import torch  # lazy: torch takes seconds to import

    n = rotations.size
    if renderer.device.type == "cpu":
        return torch.from_numpy(renderer.render(rotations, num_threads=num_threads)).reshape(n, -1)
    chunks = [c for _, _, c in renderer.iter_chunks(rotations)]
    return torch.cat(chunks).reshape(n, -1)


class IndexerModel:
    """A phase's full and coarse torch models (see the module docstring).

    Parameters
    ----------
    master_pattern
        The indexer's model of the phase (Lambert, with its phase).
    detector
        Detector of the patterns (Bruker PC).
    energy_kv
        Beam energy in kV.
    device
        torch device.
    binning
        Binning of the coarse model (1: the coarse model is the full one).
    coarse_sigma_px
        Point spread added by the coarse smoothing, σ in binned pixels.
    """

    def __init__(
        self,
        master_pattern: EBSDMasterPattern,
        detector: EBSDDetector,
        energy_kv: float,
        device,
        binning: int = 1,
        coarse_sigma_px: float = 0.5,
    ) -> None:
        from synthebsd.simulate import KikuchiRenderer

        self.phase = master_pattern.phase
        self.binning = int(binning)
        self.full = KikuchiRenderer(master_pattern, detector, energy_kv, device)
        if self.binning == 1:
            self.coarse = self.full
        else:
            coarse_det = binned_detector(detector, self.binning)
            coarse_mp = smooth_master_pattern(
                master_pattern, coarse_det, coarse_sigma_px, COARSE_RESAMPLE_SIGMA_PX
            )
            self.coarse = KikuchiRenderer(coarse_mp, coarse_det, energy_kv, device)

    def fixed_bytes(self) -> int:
        """Memory of both models (images, directions; a Jacobian image once used)."""
        total = 4 * self.full.fixed_bytes()
        if self.coarse is not self.full:
            total += 4 * self.coarse.fixed_bytes()
        return total
