"""Background removal before indexing: static (divided) and dynamic (subtracted)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from kikuchipy.signals import EBSD

__all__ = ["preprocess_patterns"]


def preprocess_patterns(signal: EBSD, static_background: np.ndarray | None = None) -> EBSD:
    """Flatten to a 1-D navigation, then remove the static and dynamic backgrounds.

    The static background is ``static_background`` (a recorded one, pattern shape) or,
    if None, the mean pattern of the whole map (synthetic maps have no recorded one); it
    is divided out: the backscatter background multiplies the Kikuchi
    signal, so subtracting it would leave bands on the dim side of the detector several
    times weaker than on the bright side (on clean Li patterns that costs Hough indexing
    4.5 % of the points; dividing recovers 100 % within 2°). The dynamic background, a
    Gaussian blur of each pattern (kikuchipy's default width), is then subtracted.

    Raises
    ------
    ValueError
        If any pattern contains a NaN or infinite value.
    """
    import kikuchipy as kp  # lazy: importing kikuchipy takes seconds

    data = np.asarray(signal.data, dtype=np.float32).reshape(
        -1, *signal.axes_manager.signal_shape[::-1]
    )
    if not np.isfinite(data).all():
        bad = np.unique(np.nonzero(~np.isfinite(data))[0])
        raise ValueError(
            f"{bad.size} pattern(s) contain NaN or infinite values (first flat indices "
            f"{bad[:5].tolist()}); clean or mask them before indexing"
        )
    flat = kp.signals.EBSD(data)
    flat.remove_static_background(
        operation="divide",
        static_bg=data.mean(axis=0)
        if static_background is None
        else np.asarray(static_background, dtype=np.float32),
        show_progressbar=False,
    )
    flat.remove_dynamic_background(show_progressbar=False)
    return flat
