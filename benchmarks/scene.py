"""Benchmark: a 512 × 512 cross-section with about 2,000 grains, on one core.

Target (issue 3): under 5 s. Prints the wall time of each repetition and the grain
count. Run: ``.venv/bin/python benchmarks/scene.py [--repeat N]``.
"""

from __future__ import annotations

import os

# One core: BLAS/OpenMP pools pinned before numpy loads (cKDTree queries use workers=1).
for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMBA_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import argparse  # noqa: E402
import time  # noqa: E402

import numpy as np  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {sorted(os.sched_getaffinity(0))[0]})

    from synthebsd.config import MicrostructureConfig, load_microstructure_config
    from synthebsd.simulate import generate_microstructure

    base = load_microstructure_config("cu_li_llzto")
    config = MicrostructureConfig.model_validate(
        base.model_dump()
        | {
            "shape_px": (512, 512),
            "step_size_um": 0.25,
            "collector": base.collector.model_dump() | {"thickness_um": 8.0},
            "metal": base.metal.model_dump()
            | {"thickness_um": 88.0, "grains": {"mean_ecd_um": 3.0, "ecd_log_sigma": 0.35}},
            "electrolyte": base.electrolyte.model_dump()
            | {"grains": {"mean_ecd_um": 4.0, "ecd_log_sigma": 0.35}},
        }
    )
    generate_microstructure(config.model_copy(update={"shape_px": (64, 64)}), seed=0)  # warm-up
    times = []
    for k in range(args.repeat):
        t = time.perf_counter()
        xmap = generate_microstructure(config, seed=k)
        times.append(time.perf_counter() - t)
        gid = xmap.prop["grain_id"]
        n = len(np.unique(gid[gid >= 0]))
        print(f"seed {k}: {times[-1]:.2f} s, {n} grains, {xmap.size} points")
    print(
        f"512 x 512, one core: median {np.median(times):.2f} s, best {min(times):.2f} s "
        "(target < 5 s)"
    )


if __name__ == "__main__":
    main()
