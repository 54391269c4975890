"""Same-run speed comparisons against the reference libraries (2 CPU cores assumed).

    .venv/bin/python benchmarks/run.py [--n 10000] [--json out.json]

Measures, in one run and on the same orientations and detector (60 × 60 px, Bruker PC
0.5, 0.25, 0.55, 70° tilt):

- kikuchipy ``EBSDMasterPattern.get_patterns`` (noise-free, point-sampled Kikuchi signal)
  vs synthebsd ``render_patterns`` (2 × 2 pixel integration, point spread, background,
  dose and per-pattern seeded Poisson noise): the ratio is the cost of our pattern physics;
- on dynamical Li patterns: Hough indexing (PyEBSDIndex) vs dictionary indexing (kikuchipy,
  3° dictionary) from dynamical and from kinematical master patterns (the usual shortcut),
  each followed by refinement, in patterns per second, with their accuracy.
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
        smooth_master_pattern,
    )
    from synthebsd.config import MasterPatternConfig, PatternConfig
    from synthebsd.phases import get_phase
    from synthebsd.simulate import (
        get_master_pattern,
        make_detector,
        random_rotations,
        render_patterns,
    )

    detector = make_detector()
    phase = get_phase("Li")
    mp = get_master_pattern(phase)  # dynamical (de-ebsd), the default
    kinematical = get_master_pattern(phase, config=MasterPatternConfig(engine="kinematical"))
    models = {
        "dynamical": smooth_master_pattern(mp, detector),
        "kinematical": smooth_master_pattern(kinematical, detector),
    }
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

    def errors(xmap):
        return truth.angle_with(
            Orientation(xmap.rotations, symmetry=phase.point_group), degrees=True
        )

    hough, _ = _timed(hough_index, pre, PhaseList(phase), detector)
    err = errors(hough.xmap)
    results["hough_patterns_per_s"] = hough.patterns_per_second
    results["hough_median_error_deg"] = float(np.median(err))
    results["hough_fraction_within_2deg"] = float(np.mean(err < 2))
    for model_name, model in models.items():
        di, _ = _timed(dictionary_index, pre, [model], detector, 20.0, 3.0)
        ref, _ = _timed(refine_orientations, pre, di.xmap, [model], detector, 20.0)
        for step, res in (("dictionary", di), ("refined", ref)):
            err = errors(res.xmap)
            results[f"{step}_{model_name}_patterns_per_s"] = res.patterns_per_second
            results[f"{step}_{model_name}_median_error_deg"] = float(np.median(err))
            results[f"{step}_{model_name}_fraction_within_2deg"] = float(np.mean(err < 2))
    results["dictionary_vs_hough_speed_ratio"] = (
        results["dictionary_dynamical_patterns_per_s"] / results["hough_patterns_per_s"]
    )

    width = max(map(len, results))
    for key, value in results.items():
        print(f"{key:<{width}}  {value:12.4g}")
    if args.json:
        with open(args.json, "w") as f:
            json.dump(results, f, indent=2)


if __name__ == "__main__":
    main()
