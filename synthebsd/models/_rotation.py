"""Rotations in torch: network outputs → quaternions, products, crystal symmetry operators.

Quaternions here are orix's: (a, b, c, d) = (w, x, y, z), unit, passive, sample → crystal
(:mod:`synthebsd.conventions`). ``roma`` stores them as (x, y, z, w); every conversion
happens in this module. The symmetry operators are orix's own
(:attr:`orix.quaternion.Symmetry.proper_subgroup`), never re-derived.
"""

from __future__ import annotations

import numpy as np
import roma
import torch
from orix.quaternion import Symmetry

from synthebsd.phases import get_phase

__all__ = [
    "REPRESENTATION_DIMS",
    "quaternion_from_output",
    "quaternion_product",
    "symmetry_operators",
    "symmetry_table",
]

#: Network output size of each continuous rotation representation.
REPRESENTATION_DIMS: dict[str, int] = {"gram_schmidt6": 6, "symmatrix10": 10}


def quaternion_from_output(x: torch.Tensor, representation: str) -> torch.Tensor:
    """Unit quaternions (orix order, w first) from raw network outputs.

    Parameters
    ----------
    x
        (..., 6) for ``"gram_schmidt6"`` (two 3-vectors orthonormalised into the first two
        columns of a rotation matrix, ``roma.special_gramschmidt``) or (..., 10) for
        ``"symmatrix10"`` (a symmetric 4 × 4 matrix whose eigenvector of the smallest
        eigenvalue is the quaternion, ``roma.symmatrixvec_to_unitquat``). Both maps are
        continuous, unlike Euler angles or fundamental-zone-reduced quaternions.
    representation
        One of :data:`REPRESENTATION_DIMS`.

    Returns
    -------
    q
        (..., 4) unit quaternions on ``x``'s device; q and −q are the same rotation.
    """
    if representation == "gram_schmidt6":
        matrix = roma.special_gramschmidt(x.reshape(*x.shape[:-1], 3, 2))
        q = roma.rotmat_to_unitquat(matrix)
    elif representation == "symmatrix10":
        q = roma.symmatrixvec_to_unitquat(x)
    else:
        raise ValueError(
            f"Unknown rotation representation {representation!r}; "
            f"known: {', '.join(REPRESENTATION_DIMS)}"
        )
    return roma.quat_xyzw_to_wxyz(q)


def quaternion_product(p: torch.Tensor, q: torch.Tensor) -> torch.Tensor:
    """Hamilton product p ⊗ q of quaternions in orix order (w first), broadcasting.

    Same as orix's ``Quaternion * Quaternion`` on the quaternion data.
    """
    p, q = torch.broadcast_tensors(p, q)
    return roma.quat_xyzw_to_wxyz(
        roma.quat_product(roma.quat_wxyz_to_xyzw(p), roma.quat_wxyz_to_xyzw(q))
    )


def symmetry_operators(point_group: Symmetry | str, friedel: bool = True) -> np.ndarray:
    """Proper rotations that leave a crystal's patterns unchanged, as orix quaternions.

    Parameters
    ----------
    point_group
        An orix point group, or a phase name (:func:`synthebsd.phases.get_phase`), whose
        point group is taken.
    friedel
        EBSD patterns obey Friedel's law (to a very good approximation, and exactly in
        the kinematical model), so a non-centrosymmetric crystal gives the same pattern
        for orientations related by the rotations of its Laue group: with ``True`` (the
        default) the Laue group's proper subgroup is returned (``-43m`` → 432, 24
        operators), with ``False`` the point group's own (``-43m`` → 23, 12), which
        matches ``orix.quaternion.Orientation`` with the point group itself.

    Returns
    -------
    operators
        (n, 4) float64 quaternions (w first), the identity first.
    """
    if isinstance(point_group, str):
        point_group = get_phase(point_group).point_group
    group = point_group.laue_proper_subgroup if friedel else point_group.proper_subgroup
    data = np.asarray(group.data, dtype=np.float64).reshape(-1, 4)
    identity = np.isclose(np.abs(data[:, 0]), 1.0)
    return np.concatenate([data[identity][:1], data[~identity]])


def symmetry_table(phase_names: dict[int, str], friedel: bool = True) -> np.ndarray:
    """Symmetry operators of every phase id, padded into one array.

    Parameters
    ----------
    phase_names
        Phase id (≥ 0) → phase name.
    friedel
        See :func:`symmetry_operators`.

    Returns
    -------
    table
        (max id + 1, max operators, 4) float64; rows are padded with the identity (a
        repeated operator changes no minimum), ids without a phase hold the identity only.
    """
    if not phase_names or min(phase_names) < 0:
        raise ValueError(f"Need phase ids >= 0 with names, got {phase_names!r}")
    ops = {pid: symmetry_operators(name, friedel) for pid, name in phase_names.items()}
    n_ops = max(len(o) for o in ops.values())
    table = np.zeros((max(ops) + 1, n_ops, 4))
    table[..., 0] = 1.0
    for pid, o in ops.items():
        table[pid, : len(o)] = o
    return table
