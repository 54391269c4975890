"""Same-run speed comparisons against the reference libraries (2 CPU cores assumed).

    .venv/bin/python benchmarks/run.py [--n 10000] [--json out.json]

Measures, in one run and on the same orientations and detector (60 × 60 px, Bruker PC
0.5, 0.25, 0.55, 70° tilt):

- kikuchipy ``EBSDMasterPattern.get_patterns`` (noise-free Kikuchi signal) vs synthebsd
  ``render_patterns`` (the same projection plus background, dose and per-pattern seeded
  Poisson noise): the ratio is the cost of our pattern formation;
- Hough indexing (PyEBSDIndex) vs dictionary indexing (kikuchipy, 3° dictionary) vs
  refinement, in patterns per second, with their accuracy on the same patterns.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import time

import numpy as np


def _timed(fn, *args, **kwargs):
    t0 = time.perf_counter()
    with contextlib.redirect_stdout(io.StringIO()):
        out = fn(*args, **kwargs)
    return out, time.perf_counter() - t0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=10000, help="patterns to render")
    parser.add_argument("--n-index", type=int, default=500, help="patterns to index")
    parser.add_argument("--json", default=None, help="also write results here")
    args = parser.parse_args()

    from kikuchipy.signals import EBSD
    from orix.crystal_map import CrystalMap, PhaseList
    from orix.quaternion import Orientation

    from synthebsd.analyze import (
        dictionary_index,
        hough_index,
        preprocess_patterns,
        refine_orientations,
    )
    from synthebsd.config import PatternConfig
    from synthebsd.phases import get_phase
    from synthebsd.simulate import (
        get_master_pattern,
        make_detector,
        random_rotations,
        render_patterns,
    )

    detector = make_detector()
    phase = get_phase("Li")
    mp = get_master_pattern(phase)
    rot = random_rotations(args.n, np.random.default_rng(0))
    xmap = CrystalMap(
        rotations=rot,
        phase_id=np.zeros(args.n, int),
        phase_list=PhaseList(phase),
        prop={"region": np.ones(args.n, np.int8)},
    )
    results: dict[str, float] = {}

    # Warm both (numba compilation), then time.
    mp.get_patterns(rot[:100], detector, energy=20, compute=True, show_progressbar=False)
    _, t_kp = _timed(
        mp.get_patterns, rot, detector, energy=20, compute=True, show_progressbar=False
    )
    cfg = PatternConfig()
    patterns, t_ours = _timed(render_patterns, xmap, {0: mp}, detector, cfg, 20.0, 0, 0, args.n)
    results["kikuchipy_get_patterns_per_s"] = args.n / t_kp
    results["synthebsd_render_patterns_per_s"] = args.n / t_ours
    results["render_ratio_vs_kikuchipy"] = t_kp / t_ours

    n = min(args.n_index, args.n)
    pre = preprocess_patterns(EBSD(patterns[:n].astype(np.float32)))
    truth = Orientation(rot[:n], symmetry=phase.point_group)
    hough_index(
        preprocess_patterns(EBSD(patterns[:20].astype(np.float32))), PhaseList(phase), detector
    )
    for name, call in (
        ("hough", lambda: hough_index(pre, PhaseList(phase), detector)),
        ("dictionary_3deg", lambda: dictionary_index(pre, [mp], detector, 20.0, 3.0)),
    ):
        res, _ = _timed(call)
        err = truth.angle_with(
            Orientation(res.xmap.rotations, symmetry=phase.point_group), degrees=True
        )
        results[f"{name}_patterns_per_s"] = res.patterns_per_second
        results[f"{name}_median_error_deg"] = float(np.median(err))
        results[f"{name}_fraction_within_2deg"] = float(np.mean(err < 2))
        if name == "dictionary_3deg":
            ref, _ = _timed(refine_orientations, pre, res.xmap, [mp], detector, 20.0)
            err = truth.angle_with(
                Orientation(ref.xmap.rotations, symmetry=phase.point_group), degrees=True
            )
            results["refine_patterns_per_s"] = ref.patterns_per_second
            results["refine_median_error_deg"] = float(np.median(err))
            results["refine_fraction_within_2deg"] = float(np.mean(err < 2))
    results["dictionary_vs_hough_speed_ratio"] = (
        results["dictionary_3deg_patterns_per_s"] / results["hough_patterns_per_s"]
    )

    width = max(map(len, results))
    for key, value in results.items():
        print(f"{key:<{width}}  {value:12.4g}")
    if args.json:
        with open(args.json, "w") as f:
            json.dump(results, f, indent=2)


if __name__ == "__main__":
    main()
