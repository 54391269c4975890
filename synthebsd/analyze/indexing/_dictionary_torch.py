"""Dictionary indexing on the torch renderer: a coarse matrix-product match, then exact NCC.

For each phase the dictionary (orix cubochoric sampling of the fundamental zone, or
given orientations) is projected from the coarse model (:class:`IndexerModel`: patterns
binned ``b × b``, the model smoothed to the binned pixel) in chunks, normalized and
optionally compressed onto its leading principal directions (uncentred PCA of the
normalized templates, so dot products approximate NCCs). The compressed dictionary is
cached when it fits the memory budget, otherwise re-projected for every block of
patterns; the full-resolution dictionary is never held. Each block of patterns is
matched by one matrix product per dictionary chunk (bfloat16 by default), keeping the
``rerank`` best per
phase; those candidates are projected again from the full model at the detector's
resolution and scored by exact NCC (kikuchipy's metric, so thresholds carry over), and
the ``top_k`` best are kept. Without binning or PCA the first pass is already exact.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING

import numpy as np
from orix.quaternion import Rotation

from synthebsd.analyze.indexing._blocks import iter_blocks, navigation_size, plan_block
from synthebsd.analyze.indexing._torch_model import (
    IndexerModel,
    chunk_map,
    normalize_rows,
    to_device,
)

if TYPE_CHECKING:
    import torch
    from kikuchipy.signals import EBSD

__all__ = ["torch_match"]

#: Dictionary templates projected (and matched) per chunk.
DICT_CHUNK = 4096
#: Patterns whose candidates are re-projected at once (rerank × this many patterns).
RERANK_PATTERNS = 256
#: Templates used to find the principal directions (seeded, reproducible).
PCA_SAMPLE = 4096


class _PhaseDictionary:
    """One phase's coarse templates: cached, or projected again for every block."""

    def __init__(self, model, rotations, pca_components, device, num_threads, dtype=None):
        import torch  # lazy: torch takes seconds to import

        self.dtype = torch.float32 if dtype is None else dtype
        self.model = model
        self.rotations = rotations
        # float32 matrices once (orix per chunk would hold the GIL in the workers).
        self.matrices = rotations.to_matrix().reshape(-1, 3, 3).astype(np.float32)
        self.n = rotations.size
        self.num_threads = num_threads
        self.basis = None
        self.cache = None
        p = model.coarse.shape[0] * model.coarse.shape[1]
        if pca_components > 0:
            rng = np.random.default_rng(0)
            take = np.sort(rng.choice(self.n, min(self.n, PCA_SAMPLE), replace=False))
            sample = torch.empty((take.size, p), device=model.full.device)

            def put(index, patterns):
                sample[index] = normalize_rows(patterns)

            chunk_map(model.coarse, self.matrices[take], put, num_threads)
            m = min(pca_components, p, take.size)
            # Leading eigenvectors of the templates' (uncentred) second moment: the best
            # m-dimensional subspace for their dot products (NCC of normalized rows).
            gram = (sample.T @ sample).to(torch.float64)
            _, vectors = torch.linalg.eigh(gram)  # ascending eigenvalues
            self.basis = vectors[:, -m:].flip(1).to(torch.float32).contiguous()  # (p, m)
        self.width = p if self.basis is None else self.basis.shape[1]

    def cache_bytes(self) -> int:
        return self.dtype.itemsize * self.n * self.width

    def _project(self, start: int, stop: int):
        """Normalized (compressed) templates start:stop, made in the render workers."""
        import torch  # lazy: torch takes seconds to import

        out = torch.empty(
            (stop - start, self.width), device=self.model.full.device, dtype=self.dtype
        )

        def put(index, patterns):
            t = normalize_rows(patterns)
            out[index] = (t if self.basis is None else t @ self.basis).to(self.dtype)

        chunk_map(self.model.coarse, self.matrices[start:stop], put, self.num_threads)
        return out

    def build_cache(self) -> None:
        self.cache = self._project(0, self.n)

    def chunks(self) -> Iterator[tuple[int, torch.Tensor]]:
        for s in range(0, self.n, DICT_CHUNK):
            if self.cache is not None:
                yield s, self.cache[s : s + DICT_CHUNK]
            else:
                yield s, self._project(s, min(s + DICT_CHUNK, self.n))

    def coarse_rows(self, coarse: torch.Tensor) -> torch.Tensor:
        return (coarse if self.basis is None else coarse @ self.basis).to(self.dtype)


def _top(scores: torch.Tensor, k: int) -> tuple[torch.Tensor, torch.Tensor]:
    return scores.topk(min(k, scores.shape[1]), dim=1)


def match_block(
    full: torch.Tensor, coarse: torch.Tensor, d: _PhaseDictionary, keep: int
) -> tuple[torch.Tensor, torch.Tensor]:
    """The ``keep`` best coarse matches (scores, dictionary indices), each (n, keep)."""
    import torch  # lazy: torch takes seconds to import

    rows = d.coarse_rows(coarse)
    best_s = torch.full((rows.shape[0], 0), -2.0, device=rows.device)
    best_i = torch.zeros((rows.shape[0], 0), dtype=torch.long, device=rows.device)
    for start, templates in d.chunks():
        s, i = _top(rows @ templates.T, keep)
        s = s.float()
        best_s, idx = _top(torch.cat([best_s, s], 1), keep)
        best_i = torch.gather(torch.cat([best_i, i + start], 1), 1, idx)
    return best_s, best_i


def rerank(
    full: torch.Tensor, idx: torch.Tensor, d: _PhaseDictionary, top_k: int
) -> tuple[torch.Tensor, torch.Tensor]:
    """Exact NCC at the detector's resolution of the candidates; the ``top_k`` best.

    The candidates of all patterns are rendered in the renderer's cache order, and each
    worker scores its chunk against the patterns at once: NCC = t·e / |t − t̄| for
    normalized patterns e (zero mean), so the templates are never normalized or kept.
    """
    import torch  # lazy: torch takes seconds to import

    n, k = idx.shape
    flat = idx.reshape(-1).cpu().numpy()
    matrices = d.matrices[flat]
    owner = torch.arange(n, device=full.device).repeat_interleave(k)
    ncc = torch.empty(n * k, device=full.device)
    p = full.shape[1]

    def score(index, t):
        rows = torch.from_numpy(index).to(full.device)
        dot = (t * full[owner[rows]]).sum(dim=1)
        spread = (t * t).sum(dim=1) - t.sum(dim=1) ** 2 / p
        ncc[rows] = dot * torch.rsqrt(spread.clamp(min=1e-24))

    order = d.model.full.cache_order(d.rotations[flat])
    chunk_map(d.model.full, matrices, score, d.num_threads, order=order)
    s, best = _top(ncc.reshape(n, k), top_k)
    return s, torch.gather(idx, 1, best)


def torch_match(
    patterns: EBSD,
    models: Sequence[IndexerModel],
    rotations: Sequence[Rotation],
    top_k: int,
    rerank_n: int,
    pca_components: int,
    budget_bytes: float,
    num_threads: int | None,
    build_seconds: float = 0.0,
    match_dtype: str = "bfloat16",
) -> tuple[np.ndarray, np.ndarray, dict[str, float]]:
    """Best ``top_k`` dictionary matches per phase of every pattern.

    Returns
    -------
    scores
        float32 (n, n_phases, top_k) NCC, best first (−inf where a dictionary is
        smaller than ``top_k``).
    indices
        int64 (n, n_phases, top_k) indices into each phase's ``rotations``.
    timings
        Seconds spent building (``build_seconds`` already spent, PCA, cache) and
        matching.

    Notes
    -----
    ``match_dtype="bfloat16"`` runs the coarse matrix products in bfloat16 (3× float32's
    speed on CPUs with AVX-512 BF16, and on GPUs); its 3-digit scores only choose the
    candidates, which are scored again in float32.
    """
    import time

    import torch  # lazy: torch takes seconds to import

    t0 = time.perf_counter() - float(build_seconds)
    device = models[0].full.device
    binning = models[0].binning
    dtype = getattr(torch, match_dtype)
    exact = binning == 1 and pca_components == 0 and dtype == torch.float32
    keep = top_k if exact else max(rerank_n, top_k)
    dicts = [
        _PhaseDictionary(m, r, pca_components, device, num_threads, dtype)
        for m, r in zip(models, rotations, strict=True)
    ]
    n = navigation_size(patterns)
    p_full = models[0].full.fine_pixels
    p_coarse = models[0].coarse.fine_pixels
    fixed = sum(m.fixed_bytes() for m in models)
    # Templates of one chunk in flight (and its scores).
    fixed += 4 * DICT_CHUNK * (2 * p_coarse + max(d.width for d in dicts))
    per_pattern = 4 * (3 * p_full + 2 * p_coarse + 2 * DICT_CHUNK + 4 * keep * len(dicts))
    # The candidates of `rerank_batch` patterns are re-projected at once (3 copies).
    rerank_batch = RERANK_PATTERNS
    while (
        not exact
        and rerank_batch > 16
        and (fixed + 12 * rerank_batch * keep * p_full + 64 * per_pattern > budget_bytes)
    ):
        rerank_batch //= 2
    fixed += 0 if exact else 12 * rerank_batch * keep * p_full
    cache = sum(d.cache_bytes() for d in dicts)
    if fixed + cache + per_pattern * min(n, 256) <= budget_bytes:
        fixed += cache
        for d in dicts:
            d.build_cache()
    block = plan_block(budget_bytes, fixed, per_pattern, "dictionary indexing", n)
    t_build = time.perf_counter() - t0

    k_out = top_k
    scores = np.full((n, len(dicts), k_out), -np.inf, dtype=np.float32)
    indices = np.zeros((n, len(dicts), k_out), dtype=np.int64)
    with torch.inference_mode():
        for start, stop, data in iter_blocks(patterns, block):
            full, coarse = to_device(data, device, binning)
            for j, d in enumerate(dicts):
                s, i = match_block(full, coarse, d, keep)
                if not exact:
                    parts = [
                        rerank(full[a : a + rerank_batch], i[a : a + rerank_batch], d, k_out)
                        for a in range(0, i.shape[0], rerank_batch)
                    ]
                    s = torch.cat([p[0] for p in parts])
                    i = torch.cat([p[1] for p in parts])
                kk = s.shape[1]
                scores[start:stop, j, :kk] = s.cpu().numpy()
                indices[start:stop, j, :kk] = i.cpu().numpy()
    timings = {"build_s": t_build, "match_s": time.perf_counter() - t0 - t_build}
    return scores, indices, timings
