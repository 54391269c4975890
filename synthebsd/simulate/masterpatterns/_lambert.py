"""The square Lambert projection of master patterns (EMsoft's, kikuchipy's), in one place.

A unit vector ``(x, y, z)`` maps to the square Lambert coordinates, in units of the
Lambert half width,

    X = (4/π)·√(1 − |z|)·atan2(x, u),   Y = (4/π)·√(1 − |z|)·atan2(y, u),   u = max(|x|, |y|)

(one expression for EMsoft's two cases, Callahan & De Graef, Modelling Simul. Mater. Sci.
Eng. 21, 015015, 2013: ``|y| ≤ |x|`` gives ``X = sign(x)·√(1 − |z|)``); ``z ≥ 0`` reads the
upper (northern) hemisphere, ``z < 0`` the lower one. Intensities are bilinear
interpolations at pixel ``(n − 1)/2 · (X + 1)`` (column) and ``(n − 1)/2 · (Y + 1)`` (row),
which is :func:`torch.nn.functional.grid_sample` with ``align_corners=True``. The pattern
renderer and the stereographic images of the EMsoft files both use
:func:`square_lambert_xy`.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    import torch
    from kikuchipy.signals import EBSDMasterPattern
    from orix.crystal_map import Phase

__all__ = [
    "lambert_hemispheres",
    "lambert_master_pattern",
    "square_lambert_xy",
    "stereographic_from_lambert",
]


def square_lambert_xy(v: torch.Tensor, signed: bool = False) -> torch.Tensor:
    """Square Lambert coordinates (X, Y) of unit vectors, as a (2, ...) tensor.

    Parameters
    ----------
    v
        Unit vectors, shape (3, ...), any float dtype and device.
    signed
        Multiply (X, Y) by sign(z) (−0 counts as negative), as the renderer's combined
        two-hemisphere image needs.

    Returns
    -------
    xy
        X (columns) and Y (rows) in [−1, 1], in units of the Lambert half width.
    """
    import torch  # lazy: torch takes seconds to import

    xy, z = v[:2], v[2]
    a = xy.abs()
    u = torch.maximum(a[0], a[1])
    t = torch.atan2(xy, u.expand_as(xy))  # ±π/4 for the larger of |x|, |y|
    s = torch.sub(1.0, z.abs()).clamp_(min=0.0).sqrt_().mul_(4.0 / math.pi)
    if signed:
        s.copysign_(z)
    return t.mul_(s)


def stereographic_from_lambert(hemisphere: np.ndarray) -> np.ndarray:
    """Resample one square-Lambert hemisphere (n × n) onto a stereographic n × n grid.

    Pixel (row, column) of the output is the stereographic point (X, Y) =
    (``linspace(-1, 1, n)[column]``, ``linspace(-1, 1, n)[row]``) of the hemisphere,
    the layout kikuchipy's ``as_lambert`` expects after reading; points outside the unit
    circle are 0.

    Returns
    -------
    stereographic
        float32 array (n, n).
    """
    import torch  # lazy: torch takes seconds to import
    import torch.nn.functional as F  # lazy: torch

    n = hemisphere.shape[-1]
    grid = np.linspace(-1.0, 1.0, n)
    x, y = np.meshgrid(grid, grid)
    r2 = x * x + y * y
    v = np.stack([2.0 * x / (1.0 + r2), 2.0 * y / (1.0 + r2), (1.0 - r2) / (1.0 + r2)])
    xy = square_lambert_xy(torch.from_numpy(v))
    image = torch.from_numpy(np.asarray(hemisphere, dtype=np.float64))[None, None]
    values = F.grid_sample(
        image,
        xy.permute(1, 2, 0)[None],
        mode="bilinear",
        padding_mode="border",
        align_corners=True,
    )[0, 0].numpy()
    return np.where(r2 <= 1.0, values, 0.0).astype(np.float32)


def lambert_hemispheres(
    master_pattern: EBSDMasterPattern, energy_kv: float | None
) -> tuple[np.ndarray, np.ndarray]:
    """Upper and lower Lambert hemispheres at ``energy_kv``, as kikuchipy selects them.

    With several energies the one at ``energy_kv`` (default: the highest); with one,
    that one whatever ``energy_kv`` says; ``hemisphere="upper"`` is used for both.
    """
    if master_pattern.projection != "lambert":
        raise ValueError(
            f"The renderer needs a master pattern in the square Lambert projection, got "
            f"{master_pattern.projection!r}; use EBSDMasterPattern.as_lambert()"
        )
    data = master_pattern.data
    nav = [ax.name for ax in master_pattern.axes_manager.navigation_axes]
    if "energy" in nav and master_pattern.axes_manager["energy"].size > 1:
        axis = master_pattern.axes_manager["energy"]
        energy = axis.axis[-1] if energy_kv is None else float(energy_kv)
        data = master_pattern.inav[float(energy)].data
    if master_pattern.hemisphere == "both":
        upper, lower = data
    else:
        upper = lower = data
    return np.asarray(upper), np.asarray(lower)


def lambert_master_pattern(data: np.ndarray, phase: Phase, energy_kv: float) -> EBSDMasterPattern:
    """Wrap Lambert data (2, n, n), upper hemisphere first, as a kikuchipy master pattern."""
    from kikuchipy.signals import EBSDMasterPattern  # lazy: kikuchipy takes seconds

    mp = EBSDMasterPattern(data, projection="lambert", hemisphere="both", phase=phase.deepcopy())
    mp.metadata.set_item("Simulation.EBSD_master_pattern.energy_kv", float(energy_kv))
    return mp
