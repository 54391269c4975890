"""Batched Levenberg–Marquardt on the NCC of patterns with the torch renderer's model.

Every pattern ``e`` (normalized: zero mean, unit norm) is fitted by the model ``I(θ)``
of a rotation increment ``ω`` (radians about the crystal axes: ``g → exp([ω]×)·g``) and
optionally the projection centre. With ``m̂ = (I − Ī)/s``, ``s = |I − Ī|``, NCC ``= m̂·e``
and the Jacobian ``J = ∂I/∂θ`` (:meth:`~synthebsd.simulate.KikuchiRenderer.project_jacobian`),

    ∇NCC = (J·e − NCC·J·m̂)/s,   H = (J·Jᵀ − p·μμᵀ − (J·m̂)(J·m̂)ᵀ)/s²   (μ = mean of J),

H being the Gauss–Newton matrix of ``|m̂ − e|²/2 = 1 − NCC``. A step ``(H + λ·diag H)·δ
= ∇NCC`` is taken where it raises the NCC (λ shrinks) and refused where it does not (λ
grows), pattern by pattern; converged patterns leave the batch. Everything stays on the
renderer's device; only the per-pattern state (rotation, PC, NCC, ∇, H) is kept, the
patterns and Jacobians of a step are made and dropped in sub-batches.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING

from synthebsd.simulate import torch_threads, worker_pool

if TYPE_CHECKING:
    import torch

__all__ = ["LMState", "lm_refine", "lm_shared_pc", "ncc_terms", "rotation_angle"]

#: Patterns whose model and Jacobian are held at once in a step on a GPU.
EVAL_BATCH = 2048
#: Largest rotation of one step, radians (a step beyond the model's basin is refused
#: anyway; this keeps the first one sensible).
MAX_STEP_RAD = math.radians(3.0)


@dataclass
class LMState:
    """Per-pattern state of a batched fit (all tensors on one device)."""

    rot: torch.Tensor  # (n, 3, 3) rotation matrices
    pc: torch.Tensor | None  # (n, 3) Bruker PCs, or None: the renderer's one PC
    ncc: torch.Tensor  # (n,)
    grad: torch.Tensor  # (n, q)
    hess: torch.Tensor  # (n, q, q)
    evals: torch.Tensor  # (n,) model evaluations


def ncc_terms(
    intensity: torch.Tensor, jac: torch.Tensor, target: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """NCC, its gradient and the Gauss–Newton matrix (see the module docstring).

    Parameters
    ----------
    intensity
        Model patterns (n, p).
    jac
        Their Jacobian (n, q, p).
    target
        Normalized patterns (n, p).
    """
    import torch  # lazy: torch takes seconds to import

    p = intensity.shape[1]
    centred = intensity - intensity.mean(dim=1, keepdim=True)
    s = torch.linalg.vector_norm(centred, dim=1).clamp(min=1e-12)
    m_hat = centred / s[:, None]
    ncc = (m_hat * target).sum(dim=1)
    both = torch.stack([m_hat, target], dim=2)  # (n, p, 2)
    jm, je = torch.bmm(jac, both).unbind(dim=2)  # (n, q) each
    mu = jac.mean(dim=2)
    grad = (je - ncc[:, None] * jm) / s[:, None]
    jj = torch.bmm(jac, jac.transpose(1, 2))
    hess = (jj - p * mu[:, :, None] * mu[:, None, :] - jm[:, :, None] * jm[:, None, :]) / (s * s)[
        :, None, None
    ]
    return ncc, grad, hess


def rotation_angle(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """Angle in radians between rotation matrices a and b (n, 3, 3).

    ``atan2(sin, cos)`` of the relative rotation ``a·bᵀ`` (sine from its antisymmetric
    part): accurate for small angles too, where ``acos((tr − 1)/2)`` in float32 cannot
    tell 0.001° from 0.02°.
    """
    import torch  # lazy: torch takes seconds to import

    r = torch.matmul(a, b.transpose(1, 2))
    cos = (r[:, 0, 0] + r[:, 1, 1] + r[:, 2, 2] - 1) / 2
    vee = torch.stack(
        [r[:, 2, 1] - r[:, 1, 2], r[:, 0, 2] - r[:, 2, 0], r[:, 1, 0] - r[:, 0, 1]], 1
    )
    return torch.atan2(torch.linalg.vector_norm(vee, dim=1) / 2, cos)


def _evaluate(renderer, rot, pc, pc_jac, target, num_threads, owner=None):
    """NCC, ∇ and H at rotations ``rot`` (and PCs); pattern i is ``target[owner[i]]``
    (default ``target[i]``), gathered chunk by chunk, never as a whole copy.

    On the CPU, chunks of the renderer's default size are evaluated on ``num_threads``
    worker threads (one torch thread each); each reduces its patterns and Jacobian to
    the per-pattern terms at once, so they never leave the cache. On a GPU, batches of
    :data:`EVAL_BATCH` patterns in one thread.
    """
    import torch  # lazy: torch takes seconds to import

    cpu = renderer.device.type == "cpu"
    size = renderer.default_chunk_size() if cpu else EVAL_BATCH

    def one(a: int):
        sl = slice(a, a + size)
        with torch.inference_mode(), torch_threads(1 if cpu else None):
            intensity, jac = renderer.project_jacobian(
                rot[sl], None if pc is None else pc[sl], pc_jac, num_threads=1
            )
            rows = target[sl] if owner is None else target[owner[sl]]
            return ncc_terms(intensity, jac, rows)

    starts = range(0, rot.shape[0], size)
    workers = max(1, int(num_threads or 1)) if cpu else 1
    if workers == 1 or len(starts) == 1:
        parts = [one(a) for a in starts]
    else:
        parts = list(worker_pool(workers).map(one, starts))
    return tuple(torch.cat(t) for t in zip(*parts, strict=True))


def lm_state(renderer, rot, pc, refine_pc, target, num_threads, owner=None) -> LMState:
    """The state at the start rotations (one evaluation)."""
    import torch  # lazy: torch takes seconds to import

    ncc, grad, hess = _evaluate(renderer, rot, pc, refine_pc, target, num_threads, owner)
    evals = torch.ones(rot.shape[0], dtype=torch.int64, device=rot.device)
    return LMState(rot, pc, ncc, grad, hess, evals)


def step(state: LMState, lam: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor | None]:
    """Proposed rotations (and PCs) of one damped Gauss–Newton step."""
    import roma  # lazy: imports torch
    import torch  # lazy: torch takes seconds to import

    h = state.hess
    q = h.shape[-1]
    eye = torch.eye(q, device=h.device, dtype=h.dtype)
    diag = torch.diagonal(h, dim1=1, dim2=2).clamp(min=1e-12)
    damped = (
        h + lam[:, None, None] * torch.diag_embed(diag) + 1e-9 * eye * diag.amax(1)[:, None, None]
    )
    delta = torch.linalg.solve(damped, state.grad.unsqueeze(-1)).squeeze(-1)
    w = delta[:, :3]
    norm = torch.linalg.vector_norm(w, dim=1, keepdim=True)
    w = w * torch.clamp(MAX_STEP_RAD / norm.clamp(min=1e-30), max=1.0)
    rot = torch.matmul(roma.rotvec_to_rotmat(w), state.rot)
    pc = None if state.pc is None else state.pc + delta[:, 3:] if q > 3 else state.pc
    return rot, pc


def lm_refine(
    renderer,
    target: torch.Tensor,
    rot: torch.Tensor,
    pc: torch.Tensor | None,
    refine_pc: bool,
    steps: int,
    tolerance_rad: float,
    trust_rad: float,
    num_threads: int | None,
    owner: torch.Tensor | None = None,
) -> LMState:
    """Fit every pattern's rotation (and PC) by Levenberg–Marquardt on the NCC.

    Parameters
    ----------
    renderer
        :class:`~synthebsd.simulate.KikuchiRenderer` of the model.
    target
        Normalized patterns (n, p) at the renderer's resolution.
    rot
        Start rotation matrices (n, 3, 3).
    pc
        Start PCs (n, 3), or None for the renderer's one PC (then no PC refinement).
    refine_pc
        Also fit the PC of every pattern.
    steps
        Largest number of steps.
    tolerance_rad
        A pattern stops after an accepted step of a rotation smaller than this.
    trust_rad
        Steps that would take a rotation farther than this from its start are refused.
    num_threads
        CPU worker threads (not None).
    owner
        Row of ``target`` of every rotation (several starts of one pattern share it);
        default one row each.

    Returns
    -------
    state
        Final rotations, PCs, NCC (of the model at them) and evaluation counts.
    """
    with torch_threads(1):
        return _lm_refine(
            renderer,
            target,
            rot,
            pc,
            refine_pc,
            steps,
            tolerance_rad,
            trust_rad,
            num_threads,
            owner,
        )


def _lm_refine(
    renderer, target, rot, pc, refine_pc, steps, tolerance_rad, trust_rad, num_threads, owner
):
    import torch  # lazy: torch takes seconds to import

    start = rot
    state = lm_state(renderer, rot, pc, refine_pc, target, num_threads, owner)
    n = rot.shape[0]
    if owner is None:
        owner = torch.arange(n, device=rot.device)
    lam = torch.full((n,), 1e-3, device=rot.device)
    active = torch.arange(n, device=rot.device)
    for _ in range(steps):
        if active.numel() == 0:
            break
        sub = LMState(
            state.rot[active],
            None if state.pc is None else state.pc[active],
            state.ncc[active],
            state.grad[active],
            state.hess[active],
            state.evals[active],
        )
        rot_c, pc_c = step(sub, lam[active])
        ncc, grad, hess = _evaluate(
            renderer, rot_c, pc_c, refine_pc, target, num_threads, owner[active]
        )
        moved = rotation_angle(rot_c, sub.rot)
        ok = (ncc > sub.ncc) & (rotation_angle(rot_c, start[active]) <= trust_rad)
        acc = active[ok]
        state.rot[acc] = rot_c[ok]
        if state.pc is not None and pc_c is not None:
            state.pc[acc] = pc_c[ok]
        state.ncc[acc] = ncc[ok]
        state.grad[acc] = grad[ok]
        state.hess[acc] = hess[ok]
        state.evals[active] += 1
        lam[active] = torch.where(ok, lam[active] * 0.3, lam[active] * 5.0).clamp(1e-7, 1e7)
        # Done: a small accepted step, or no progress possible (damping at its limit).
        done = (ok & (moved < tolerance_rad)) | (lam[active] >= 1e7)
        active = active[~done]
    return state


def lm_shared_pc(
    problems: list[tuple[object, torch.Tensor, torch.Tensor]],
    pc: torch.Tensor,
    steps: int,
    tolerance: float,
    num_threads: int | None,
) -> tuple[torch.Tensor, list[torch.Tensor], torch.Tensor]:
    """Fit one PC shared by all patterns, with every pattern's rotation, jointly.

    The Gauss–Newton matrix of all patterns is block-arrowhead (3 × 3 rotation blocks
    per pattern, a shared 3 × 3 PC block); the PC step comes from its Schur complement,
    each rotation step from the PC step; one damping λ for all, a step is taken where it
    raises the sum of NCCs.

    Parameters
    ----------
    problems
        Per phase: (renderer, normalized patterns (n, p), start rotations (n, 3, 3)).
    pc
        Start PC (3,), Bruker convention.
    steps
        Largest number of steps.
    tolerance
        Stop after an accepted step with a PC change below this (PC units).

    Returns
    -------
    pc
        The fitted PC (3,).
    rotations
        Per phase, the fitted rotation matrices.
    ncc
        Mean NCC at the fitted PC and rotations.
    """
    import roma  # lazy: imports torch
    import torch  # lazy: torch takes seconds to import

    def evaluate(pc, rots):
        terms = []
        for (renderer, target, _), rot in zip(problems, rots, strict=True):
            pcs = pc.expand(rot.shape[0], 3).contiguous()
            terms.append(_evaluate(renderer, rot, pcs, True, target, num_threads))
        return [torch.cat(t) for t in zip(*terms, strict=True)]

    rots = [r for _, _, r in problems]
    sizes = [r.shape[0] for r in rots]
    ncc, grad, hess = evaluate(pc, rots)
    lam = 1e-3
    for _ in range(steps):
        diag = torch.diagonal(hess, dim1=1, dim2=2).clamp(min=1e-12)
        h = hess + lam * torch.diag_embed(diag)
        hww, hwp, hpp = h[:, :3, :3], h[:, :3, 3:], h[:, 3:, 3:]
        gw, gp = grad[:, :3, None], grad[:, 3:, None]
        a = torch.linalg.solve(hww, torch.cat([hwp, gw], dim=2))  # Hww⁻¹ [Hwp | gw]
        schur = (hpp - hwp.transpose(1, 2) @ a[:, :, :3]).sum(0)
        rhs = (gp - hwp.transpose(1, 2) @ a[:, :, 3:]).sum(0)
        dp = torch.linalg.solve(schur, rhs)[:, 0]
        dw = (a[:, :, 3:] - a[:, :, :3] @ dp[None, :, None])[:, :, 0]
        steps_w = torch.split(roma.rotvec_to_rotmat(dw), sizes)
        cand = [torch.matmul(s, r) for s, r in zip(steps_w, rots, strict=True)]
        c_ncc, c_grad, c_hess = evaluate(pc + dp, cand)
        if c_ncc.sum() > ncc.sum():
            pc, rots, ncc, grad, hess = pc + dp, cand, c_ncc, c_grad, c_hess
            lam = max(lam * 0.3, 1e-7)
            if float(torch.linalg.vector_norm(dp)) < tolerance:
                break
        else:
            lam *= 5.0
            if lam > 1e7:
                break
    return pc, rots, ncc.mean()
