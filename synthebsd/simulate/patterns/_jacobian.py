"""Patterns with their derivatives in orientation and projection centre, for refinement.

A mixin of :class:`~synthebsd.simulate.patterns.KikuchiRenderer` that adds
:meth:`~ProjectionJacobian.project_jacobian`: batched patterns of rotation matrices and
(optionally) per-pattern projection centres given as torch tensors, with their analytic
Jacobian, on the renderer's device. The chain rule, per projected pixel:

1. Directions in the sample frame from the Bruker projection centre: in the detector
   frame pixel ``(r, c)`` of a ``k``-times oversampled ``rows × cols`` detector looks
   along ``u = (−A·PCx + (c + ½)/(k·rows), PCy − (r + ½)/(k·rows), PCz)``, ``A = cols /
   rows`` (kikuchipy's gnomonic bounds times PCz), so ``∂u/∂PC`` is constant;
   ``d = O·u/|u|`` with ``O = ~detector.sample_to_detector`` and ``∂d/∂PC = O·(1 −
   û ûᵀ)·∂u/∂PC / |u|``.
2. The crystal sees ``v = g·d``; a rotation increment ``ω`` (radians, about the crystal
   axes) changes the orientation to ``exp([ω]×)·g`` and ``v`` by ``ω × v``, so
   ``∂I/∂ω = v × ∇_v I`` and ``∂I/∂PC = ∇_v I · g·∂d/∂PC``.
3. ``∇_v I`` from the square Lambert map (:func:`square_lambert_xy`): with ``u =
   max(|x|, |y|)``, ``s = √(1 − |z|)``, ``X = (4/π)·s·atan2(x, u)`` (and ``Y``), where
   ``|x| ≥ |y|`` the derivatives are ``∂X/∂(x, y) = 0``, ``∂Y/∂x = −(4/π)·s·y·sign(x)/r²``,
   ``∂Y/∂y = (4/π)·s·|x|/r²`` (``r² = x² + y²``; the other case swaps x and y) and
   ``∂X/∂z = −X·sign(z)/(2s²)``; the image gradient in Lambert coordinates is a bilinear
   interpolation of the master pattern's central differences (sampled with the
   intensities, in one :func:`~torch.nn.functional.grid_sample` call).
4. Pixel integration and point spread are linear: they act on every Jacobian column as
   on the pattern.

The intensities are those of :meth:`~KikuchiRenderer.render_chunk` (the same sampling);
the Jacobian is that of a model smoothed on the scale of one Lambert pixel (central
differences), which is exact where the model is linear and changes nothing for a fit
whose residual vanishes.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import numpy as np

from synthebsd.simulate.patterns._threads import torch_threads, worker_pool

if TYPE_CHECKING:
    import torch

__all__ = ["ProjectionJacobian"]

_FOUR_OVER_PI = 4.0 / math.pi


class ProjectionJacobian:
    """Mixin: patterns and their Jacobian in orientation and PC (see the module docs)."""

    def _jacobian_state(self):
        """Cached per renderer: [I, ∂I/∂X, ∂I/∂Y] image and the PC geometry, on the device."""
        import torch  # lazy: torch takes seconds to import

        state = getattr(self, "_jac_state", None)
        if state is not None:
            return state
        image = self._image[0, 0].detach().cpu().numpy() if self.device.type != "meta" else None
        h, w = self._image.shape[-2:]
        if image is not None:
            # Central differences per grid unit: grid x ∈ [−1, 1] spans (w − 1) pixels.
            d_row, d_col = np.gradient(image.astype(np.float64))
            stack = np.stack([image, d_col * (w - 1) / 2, d_row * (h - 1) / 2])
            image3 = torch.from_numpy(stack.astype(np.float32)).to(self.device)[None]
        else:  # meta: shapes only
            image3 = torch.empty((1, 3, h, w), device=self.device)
        rows, cols = self.shape
        k = self.oversample
        a = (torch.arange(cols * k, dtype=torch.float32, device=self.device) + 0.5) / (k * rows)
        b = (torch.arange(rows * k, dtype=torch.float32, device=self.device) + 0.5) / (k * rows)
        om = (~self.detector.sample_to_detector).to_matrix().reshape(3, 3)
        state = {
            "image3": image3,
            "col": a.repeat(rows * k),  # (p,), row-major pixels
            "row": b.repeat_interleave(cols * k),
            "om": torch.from_numpy(om.astype(np.float32)).to(self.device),
            "aspect": cols / rows,
        }
        self._jac_state = state
        return state

    def pc_directions(
        self, pcs: torch.Tensor, jacobian: bool = False
    ) -> torch.Tensor | tuple[torch.Tensor, torch.Tensor]:
        """Unit directions of the (oversampled) pixels in the sample frame, per PC.

        Parameters
        ----------
        pcs
            Projection centres (n, 3), Bruker convention, on :attr:`device`.
        jacobian
            Also return ``∂d/∂PC``.

        Returns
        -------
        d
            (n, 3, p) float32 directions, p = :attr:`fine_pixels`, the same as
            :func:`~synthebsd.simulate.detector_direction_cosines`.
        dd
            With ``jacobian``: (n, 3 [PCx, PCy, PCz], 3, p).
        """
        import torch  # lazy: torch takes seconds to import

        st = self._jacobian_state()
        pcs = pcs.to(torch.float32)
        ux = st["col"] - st["aspect"] * pcs[:, :1]  # (n, p)
        uy = pcs[:, 1:2] - st["row"]
        uz = pcs[:, 2:3].expand_as(ux)
        u = torch.stack([ux, uy, uz], dim=1)  # (n, 3, p), detector frame
        inv_norm = torch.rsqrt((u * u).sum(dim=1, keepdim=True))
        u_hat = u * inv_norm
        d = torch.einsum("ij,njp->nip", st["om"], u_hat)
        if not jacobian:
            return d
        # ∂û/∂PC_k = (e_k' − û (û·e_k'))/|u| with e' = (−A, 0, 0), (0, 1, 0), (0, 0, 1).
        du = []
        for axis, scale in ((0, -st["aspect"]), (1, 1.0), (2, 1.0)):
            e = torch.zeros_like(u_hat)
            e[:, axis] = scale
            proj = u_hat[:, axis : axis + 1] * scale
            du.append((e - u_hat * proj) * inv_norm)
        dd = torch.einsum("ij,nkjp->nkip", st["om"], torch.stack(du, dim=1))
        return d, dd

    def _jacobian_chunk(
        self,
        matrices: torch.Tensor,
        pcs: torch.Tensor | None,
        pc_jacobian: bool,
        out: torch.Tensor,
    ) -> None:
        """One chunk: write [I, ∂I/∂ω, (∂I/∂PC)] of the fine pixels into ``out`` (n, q + 1, p).

        The Lambert derivatives are folded into the cross product ``v × ∇_v I``: with
        ``(∂I/∂x, ∂I/∂y) = c·w·(−y, x)``, ``c = ∂I/∂Y·sign(x)`` where ``|x| ≥ |y|`` else
        ``−∂I/∂X·sign(y)``, ``w = (4/π)·s/r²``, the rotation columns are ``(y·∂I/∂z −
        x·z·c·w, −y·z·c·w − x·∂I/∂z, (4/π)·s·c)``.
        """
        import torch  # lazy: torch takes seconds to import
        import torch.nn.functional as F  # lazy: torch

        st = self._jacobian_state()
        dd = None
        if pcs is None:
            v = torch.matmul(matrices, self._dc_t)  # (n, 3, p)
        elif pc_jacobian:
            d, dd = self.pc_directions(pcs, jacobian=True)
            v = torch.matmul(matrices, d)
        else:
            v = torch.matmul(matrices, self.pc_directions(pcs))
        x, y, z = v[:, 0], v[:, 1], v[:, 2]
        ax, ay = x.abs(), y.abs()
        major_x = ax >= ay
        u = torch.maximum(ax, ay)
        s2 = torch.sub(1.0, z.abs()).clamp_(min=1e-12)  # s² = 1 − |z|
        s = s2.sqrt().mul_(_FOUR_OVER_PI)  # (4/π)·s
        lx = torch.atan2(x, u).mul_(s)  # Lambert X, Y (unsigned)
        ly = torch.atan2(y, u).mul_(s)
        # sign(0) = 0 where copysign would give ±1: a measure-zero set of pixels.
        sz = torch.sign(z)
        if self.one_hemisphere:
            grid = torch.stack([lx, ly], dim=-1)
        else:  # the combined image, see KikuchiRenderer._grid
            grid = torch.stack([lx * sz * self._alpha - sz * (1.0 - self._alpha), ly * sz], -1)
        sampled = F.grid_sample(
            st["image3"],
            grid.unsqueeze(0),
            mode="bilinear",
            padding_mode="border",
            align_corners=True,
        )[0]  # (3, n, p): I, ∂I/∂gx, ∂I/∂gy
        out[:, 0] = sampled[0]
        a, b = sampled[1], sampled[2]
        if not self.one_hemisphere:
            a = a * (sz * self._alpha)
            b = b * sz
        c = torch.where(major_x, b * torch.sign(x), a * torch.sign(y).neg_())
        torch.mul(c, s, out=out[:, 3])
        cw = c.mul_(s).div_((x * x).addcmul_(y, y).clamp_(min=1e-12))  # c·w
        zc = cw * z
        gz = (a * lx).addcmul_(b, ly).mul_(sz).div_(s2).mul_(-0.5)  # ∂I/∂z
        torch.mul(y, gz, out=out[:, 1]).sub_(x * zc)
        torch.mul(y, zc, out=out[:, 2]).addcmul_(x, gz).neg_()
        if dd is not None:
            gdd = torch.matmul(matrices.unsqueeze(1), dd)  # g·∂d/∂PC: (n, 3, 3, p)
            for k in range(3):
                col = out[:, 4 + k]
                torch.mul(cw * x, gdd[:, k, 1], out=col)
                col.sub_(cw * y * gdd[:, k, 0]).addcmul_(gz, gdd[:, k, 2])

    def project_jacobian(
        self,
        matrices: torch.Tensor,
        pcs: torch.Tensor | None = None,
        pc_jacobian: bool = False,
        num_threads: int | None = None,
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Patterns and their Jacobian in a rotation increment (and the PC), batched.

        Parameters
        ----------
        matrices
            Rotation matrices (n, 3, 3) on :attr:`device` (orix ``Rotation.to_matrix``:
            passive, sample → crystal).
        pcs
            Projection centres (n, 3), Bruker convention, on :attr:`device`; default the
            detector's one projection centre.
        pc_jacobian
            Also differentiate with respect to the PC (needs ``pcs``).
        num_threads
            CPU worker threads (chunks of :meth:`default_chunk_size` patterns, one torch
            thread each, as in rendering); default torch's thread count.

        Returns
        -------
        patterns
            float32 (n, rows·cols): the intensities of :meth:`render_chunk`.
        jacobian
            float32 (n, q, rows·cols): ``∂I/∂ω`` for the increment ``g → exp([ω]×)·g``
            (ω in radians about the crystal axes; q = 3), followed with ``pc_jacobian`` by
            ``∂I/∂(PCx, PCy, PCz)`` (q = 6).
        """
        import torch  # lazy: torch takes seconds to import

        if pc_jacobian and pcs is None:
            raise ValueError("pc_jacobian needs the projection centres (pcs)")
        if pcs is None and self._dc_t is None:
            raise ValueError("A detector with several PCs needs pcs per pattern")
        n = int(matrices.shape[0])
        q = 6 if pc_jacobian else 3
        matrices = matrices.to(torch.float32)
        fine = torch.empty((n, q + 1, self.fine_pixels), device=self.device)
        size = self.default_chunk_size()
        starts = range(0, n, size)

        def one(i: int) -> None:
            sl = slice(i, min(i + size, n))
            with torch.inference_mode(), torch_threads(1 if self.device.type == "cpu" else None):
                self._jacobian_chunk(
                    matrices[sl], None if pcs is None else pcs[sl], pc_jacobian, fine[sl]
                )

        workers = self.workers(num_threads)
        if workers == 1 or n <= size:
            for i in starts:
                one(i)
        else:
            for future in [worker_pool(workers).submit(one, i) for i in starts]:
                future.result()
        if self.oversample > 1 or self._psf is not None:
            with torch.no_grad():
                fine = self._detector_blur(fine.reshape(n * (q + 1), -1)).reshape(n, q + 1, -1)
        return fine[:, 0], fine[:, 1:]
