"""Same-run indexing benchmark: synthebsd's torch backend against kikuchipy and de-ebsd.

    .venv/bin/python benchmarks/indexing.py [--n 2400] [--threads 2] [--refine-subset 400]
        [--spherical 10] [--bandwidth 80] [--map 256] [--device cpu] [--out benchmark-indexing]

The same noisy patterns for every method: ``--n`` random Li orientations (seeded),
60 × 60 px, the study's physics (dynamical master pattern, pixel integration 2 × 2,
PSF σ 0.5 px, backscatter background, band contrast 0.3, default dose 1000
counts/px, Poisson noise), static + dynamic background removed. Every indexer gets the
indexer's model (:func:`smooth_master_pattern`, resampled to 3 px per σ): a richer
model made the patterns than the one that indexes them. Measured in this one run:

1. dictionary indexing (3° cubochoric dictionary, build + match, amortised over ``--n``
   patterns): kikuchipy ``EBSD.dictionary_indexing``, the torch backend (default: 2 × 2
   binned coarse match, exact NCC of 8 candidates; and with 64 principal components on
   3 × 3 binning), de-ebsd's ``DictionaryIndexer`` (matmul, and ``match_binning=2``);
2. refinement from kikuchipy's dictionary seeds on ``--refine-subset`` patterns:
   kikuchipy Nelder–Mead with Σ3 starts (the study's), the torch backend (Σ3 starts),
   de-ebsd's LM ``refine``; the torch backend also on all ``--n`` patterns;
3. the full torch pipeline (preprocessing, dictionary, refinement) on all patterns, with
   the defaults and with a fast setting (PCA dictionary, no Σ3 starts);
4. spherical indexing (de-ebsd ``SphericalIndexer`` at ``--bandwidth``) on
   ``--spherical`` patterns: build and index time, peak resident memory;
5. with ``--map N``: an N × N two-phase (Li, Cu) map rendered to an h5ebsd file, then
   preprocessed, indexed and refined lazily by the torch backend in a separate process
   under ``/usr/bin/time -v`` (its maximum resident set size is the number reported).

With ``--device cuda`` the torch backend and de-ebsd run on the GPU (the same-pattern
rows and spherical indexing; kikuchipy has no GPU path and stays on the CPU, and the
``--map`` memory run stays a CPU measurement).

Prints patterns per second, success (fraction within 2° of the truth, not-indexed points
count as failures), median error, and ratios to kikuchipy; writes ``indexing.json`` and
the error curves ``indexing_errors.png`` (cumulative fraction within each error) to
``--out``. On a shared machine the absolute numbers are lower bounds; the ratios come
from the same run.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

from synthebsd.workflows import PeakMemory

ENERGY_KV = 20.0


@contextlib.contextmanager
def _quiet():
    """kikuchipy and dask print progress bars; the benchmark prints its own lines."""
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
        yield


def _models(names, engine, detector):
    from synthebsd.analyze import smooth_master_pattern
    from synthebsd.config import IndexingConfig, MasterPatternConfig, PatternConfig
    from synthebsd.phases import get_phase
    from synthebsd.simulate import get_master_pattern

    mp_cfg = MasterPatternConfig(engine=engine)
    psf = PatternConfig().psf_sigma_px
    sigma = IndexingConfig().model_resample_sigma_px
    mps = {n: get_master_pattern(get_phase(n), ENERGY_KV, mp_cfg) for n in names}
    models = {n: smooth_master_pattern(mp, detector, psf, sigma) for n, mp in mps.items()}
    return mps, models


def _patterns(mp, rotations, detector, seed):
    from synthebsd.config import PatternConfig
    from synthebsd.simulate import backscatter_background, project_kikuchi_signal

    cfg = PatternConfig()
    kikuchi = project_kikuchi_signal(
        mp, rotations, detector, ENERGY_KV, cfg.oversample, cfg.psf_sigma_px
    )
    bg = backscatter_background(detector, cfg.background_sigma_deg)
    lam = cfg.dose_counts * bg * (1 + cfg.band_contrast * kikuchi)
    return np.random.default_rng(seed).poisson(lam).astype(np.float32)


def _errors(truth, rotations, phase, indexed=None):
    from orix.quaternion import Orientation

    o = Orientation(truth, symmetry=phase.point_group)
    err = o.angle_with(Orientation(rotations, symmetry=phase.point_group), degrees=True)
    err = np.asarray(err, dtype=float)
    if indexed is not None:
        err[~indexed] = np.nan
    return err


def _row(name, seconds, n, err, **extra):
    ok = np.nan_to_num(err, nan=np.inf)
    row = {
        "method": name,
        "seconds": float(seconds),
        "n": int(n),
        "patterns_per_second": float(n / seconds) if seconds > 0 else None,
        "success_2deg": float(np.mean(ok <= 2.0)),
        "median_deg": float(np.median(ok)),
        "p95_deg": float(np.percentile(ok, 95)),
    }
    row.update(extra)
    print(
        f"  {name:44s} {row['patterns_per_second']:9.1f}/s  ≤2°: {row['success_2deg']:6.1%}"
        f"  median {row['median_deg']:.4f}°  ({seconds:.2f} s)",
        flush=True,
    )
    return row


def _ratio(rows, name, ref):
    r = rows[name]["patterns_per_second"] / rows[ref]["patterns_per_second"]
    rows[name]["speed_vs_" + ref] = r
    return r


def _de_ebsd(model, detector):
    import torch
    from de_ebsd.sim import MasterPattern
    from de_ebsd.sim.detector import EBSDDetector

    data = torch.from_numpy(np.asarray(model.data, dtype=np.float32))[None]
    master = MasterPattern(data, np.array([ENERGY_KV]))
    det = EBSDDetector(
        shape=tuple(detector.shape),
        pattern_center=tuple(float(v) for v in np.asarray(detector.pc).reshape(3)),
        sample_tilt=float(detector.sample_tilt),
        tilt=float(detector.tilt),
    )
    return master, det


def bench_same_patterns(args, out: Path) -> dict:
    import torch
    from kikuchipy.signals import EBSD
    from orix.crystal_map import CrystalMap, PhaseList
    from orix.quaternion import Rotation
    from orix.sampling import get_sample_fundamental

    from synthebsd.analyze import dictionary_index, preprocess_patterns, refine_orientations
    from synthebsd.config import IndexingConfig
    from synthebsd.simulate import make_detector, random_rotations

    torch.set_num_threads(args.threads)
    detector = make_detector()
    mps, models = _models(["Li"], args.engine, detector)
    li = models["Li"]
    truth = random_rotations(args.n, np.random.default_rng(args.seed))
    raw = _patterns(mps["Li"], truth, detector, args.seed + 1)
    t = time.perf_counter()
    patterns = preprocess_patterns(EBSD(raw))
    t_pre = time.perf_counter() - t
    cfg = IndexingConfig(device=args.device)
    di_kw = cfg.dictionary_kwargs()
    res: dict = {"rows": {}, "errors": {}}
    rows, errs = res["rows"], res["errors"]
    print(
        f"{args.n} Li patterns ({args.engine}), {args.threads} threads; preprocessing "
        f"{args.n / t_pre:.0f}/s",
        flush=True,
    )

    def add(name, seconds, n, err, **extra):
        rows[name] = _row(name, seconds, n, err, **extra)
        errs[name] = err

    # Warm-up (numba compilation of kikuchipy, torch kernels, orix sampling cache),
    # untimed, on a few patterns.
    warm = EBSD(patterns.data[:20])
    with _quiet():
        dictionary_index(warm, [li], detector, ENERGY_KV, 10.0, backend="kikuchipy")
        w = dictionary_index(warm, [li], detector, ENERGY_KV, 10.0)
        refine_orientations(warm, w.xmap, [li], detector, ENERGY_KV, backend="kikuchipy")
        refine_orientations(warm, w.xmap, [li], detector, ENERGY_KV, **cfg.refine_kwargs())

    def alternate(methods: dict) -> dict:
        """Run every method ``--repeat`` times in turn (the same machine load for all);
        keep each one's median time and its last result."""
        times = {name: [] for name in methods}
        results = {}
        for _ in range(args.repeat):
            for name, fn in methods.items():
                with _quiet():
                    t = time.perf_counter()
                    results[name] = fn()
                    times[name].append(time.perf_counter() - t)
        return {
            name: (float(np.median(times[name])), results[name], times[name]) for name in methods
        }

    # orix's fundamental-zone sampling is cached (memory and disk) for both backends and
    # is not in their times; its own cost, once:
    t = time.perf_counter()
    get_sample_fundamental(resolution=3.0, point_group=li.phase.point_group)
    res["orix_sampling_s"] = time.perf_counter() - t
    print(
        f"dictionary indexing, 3°, build + match (median of {args.repeat} alternating runs; "
        f"orix's sampling, {res['orix_sampling_s']:.2f} s, cached for both):"
    )
    kp = "dictionary kikuchipy"
    methods = {
        kp: lambda: dictionary_index(patterns, [li], detector, ENERGY_KV, 3.0, backend="kikuchipy")
    }
    variants = {
        "dictionary torch (default)": {},
        "dictionary torch (3×3 binning, 4 candidates)": {"binning": 3, "rerank": 4},
    }
    for name, kw in variants.items():
        methods[name] = lambda kw=kw: dictionary_index(
            patterns, [li], detector, ENERGY_KV, 3.0, **{**di_kw, **kw}
        )
    if not args.skip_de_ebsd:
        from de_ebsd.index import DictionaryIndexer

        master, det = _de_ebsd(li, detector)
        for b in (1, 2):

            def de(b=b):
                indexer = DictionaryIndexer(
                    master, det, li.phase.point_group, 3.0, args.device, match_binning=b
                )
                return indexer.index(np.asarray(patterns.data))[0]

            methods[f"dictionary de-ebsd (match_binning={b})"] = de
    runs = alternate(methods)
    kp_di = runs[kp][1]
    for name, (seconds, result, all_times) in runs.items():
        if isinstance(result, Rotation):  # de-ebsd
            err = _errors(truth, result, li.phase)
            extra = {}
        else:
            err = _errors(truth, result.xmap.rotations, li.phase, result.xmap.phase_id >= 0)
            same = np.all(
                np.isclose(result.xmap.rotations.data, kp_di.xmap.rotations.data), axis=1
            )
            extra = {"same_as_kikuchipy": float(same.mean()), "timings": result.timings}
        add(name, seconds, args.n, err, runs_s=all_times, **extra)
        if name != kp:
            note = (
                f"; same solution as kikuchipy: {extra['same_as_kikuchipy']:.1%}" if extra else ""
            )
            print(f"      ×{_ratio(rows, name, kp):.1f} kikuchipy{note}")

    sub = np.arange(min(args.refine_subset, args.n))
    seeds = CrystalMap(
        rotations=kp_di.xmap.rotations[sub],
        phase_id=kp_di.xmap.phase_id[sub],
        phase_list=PhaseList(li.phase),
        prop={"scores": kp_di.xmap.prop["scores"][sub]},
    )
    sub_patterns = EBSD(patterns.data[sub])
    ok = seeds.phase_id >= 0
    print(
        f"refinement from kikuchipy's dictionary seeds, {sub.size} patterns "
        f"(median of {args.repeat}):"
    )
    kr = "refine kikuchipy (Nelder-Mead, Σ3)"
    ref_kw = cfg.refine_kwargs()
    methods = {
        kr: lambda: refine_orientations(
            sub_patterns, seeds, [li], detector, ENERGY_KV, backend="kikuchipy"
        ),
        "refine torch (LM, Σ3)": lambda: refine_orientations(
            sub_patterns, seeds, [li], detector, ENERGY_KV, **ref_kw
        ),
    }
    if not args.skip_de_ebsd:
        from de_ebsd.index.refine.orientation import refine_orientation

        master, det = _de_ebsd(li, detector)
        for method, kw in (("lm", {}), ("adam", {"learning_rate": 0.005, "n_iterations": 150})):
            methods[f"refine de-ebsd ({method})"] = lambda method=method, kw=kw: (
                refine_orientation(
                    np.asarray(sub_patterns.data),
                    master,
                    det,
                    seeds.rotations,
                    method=method,
                    device=args.device,
                    **kw,
                )[0]
            )
    runs = alternate(methods)
    for name, (seconds, result, all_times) in runs.items():
        rot = result if isinstance(result, Rotation) else result.xmap.rotations
        add(name, seconds, sub.size, _errors(truth[sub], rot, li.phase, ok), runs_s=all_times)
        if name != kr:
            print(f"      ×{_ratio(rows, name, kr):.1f} kikuchipy")
    r = refine_orientations(patterns, kp_di.xmap, [li], detector, ENERGY_KV, **ref_kw)
    name = f"refine torch (LM, Σ3), all {args.n}"
    add(
        name,
        r.seconds,
        args.n,
        _errors(truth, r.xmap.rotations, li.phase, kp_di.xmap.phase_id >= 0),
    )
    print(f"      ×{_ratio(rows, name, kr):.1f} kikuchipy (its speed on the subset)")

    print(f"full torch pipeline (preprocessing + dictionary + refinement), {args.n} patterns:")

    def pipeline(pseudo: bool):
        p = preprocess_patterns(EBSD(raw))
        d = dictionary_index(p, [li], detector, ENERGY_KV, 3.0, **di_kw)
        f = refine_orientations(p, d.xmap, [li], detector, ENERGY_KV, 8.0, 1.5, pseudo, **ref_kw)
        return d, f

    runs = alternate(
        {
            "pipeline torch (defaults)": lambda: pipeline(True),
            "pipeline torch (no Σ3 starts)": lambda: pipeline(False),
        }
    )
    for name, (seconds, (d, f), all_times) in runs.items():
        add(
            name,
            seconds,
            args.n,
            _errors(truth, f.xmap.rotations, li.phase, f.xmap.phase_id >= 0),
            runs_s=all_times,
            stages_s={"dictionary": d.seconds, "refine": f.seconds},
        )
    return res


def bench_spherical(args) -> dict:
    import torch
    from de_ebsd.index import SphericalIndexer
    from kikuchipy.signals import EBSD

    from synthebsd.analyze import preprocess_patterns
    from synthebsd.simulate import make_detector, random_rotations

    torch.set_num_threads(args.threads)
    detector = make_detector()
    mps, models = _models(["Li"], args.engine, detector)
    li = models["Li"]
    truth = random_rotations(args.spherical, np.random.default_rng(args.seed + 7))
    patterns = preprocess_patterns(EBSD(_patterns(mps["Li"], truth, detector, args.seed + 8)))
    master, det = _de_ebsd(li, detector)
    with PeakMemory(interval_s=0.01) as rss:
        t = time.perf_counter()
        indexer = SphericalIndexer(master, det, bandwidth=args.bandwidth, device=args.device)
        t_build = time.perf_counter() - t
        t = time.perf_counter()
        rot, _ = indexer.index(np.asarray(patterns.data, dtype=np.float32))
        t_index = time.perf_counter() - t
    print(f"spherical indexing (de-ebsd, L = {args.bandwidth}), {truth.size} patterns:")
    row = _row(
        f"spherical de-ebsd (L={args.bandwidth})",
        t_index,
        truth.size,
        _errors(truth, rot, li.phase),
        build_s=t_build,
        peak_rss_above_start_gib=rss.peak_gib - rss.start_gib,
    )
    print(
        f"      build {t_build:.1f} s, peak memory {row['peak_rss_above_start_gib']:.2f} GiB "
        "above the start"
    )
    return row


def _memory_config(n: int):
    from synthebsd.config import GrainConfig, LayerConfig, MicrostructureConfig, PoreConfig

    step = 0.5
    return MicrostructureConfig(
        name="benchmark",
        shape_px=(n, n),
        step_size_um=step,
        collector=LayerConfig(
            phase="Cu", thickness_um=0.2 * n * step, grains=GrainConfig(mean_ecd_um=2.0)
        ),
        metal=LayerConfig(
            phase="Li", thickness_um=0.75 * n * step, grains=GrainConfig(mean_ecd_um=4.0)
        ),
        electrolyte=LayerConfig(
            phase="LLZTO", grains=GrainConfig(mean_ecd_um=2.0), indexable=False
        ),
        pores=PoreConfig(porosity=0.02, mean_diameter_um=2.0),
    )


def bench_memory_map(args, out: Path) -> dict:
    """Render an N × N map to a file, then index + refine it lazily in a child process."""
    path = out / f"map{args.map}.h5"
    if not path.exists():
        from synthebsd.config import MasterPatternConfig, PatternConfig
        from synthebsd.io import save_patterns
        from synthebsd.phases import get_phase
        from synthebsd.simulate import generate_microstructure, get_master_pattern, make_detector

        truth = generate_microstructure(_memory_config(args.map), args.seed)
        detector = make_detector()
        mps = {
            pid: get_master_pattern(
                get_phase(ph.name), ENERGY_KV, MasterPatternConfig(engine=args.engine)
            )
            for pid, ph in truth.phases
            if pid >= 0
        }
        t = time.perf_counter()
        from synthebsd.simulate import simulate_patterns

        save_patterns(
            simulate_patterns(truth, mps, detector, PatternConfig(), ENERGY_KV, args.seed), path
        )
        from synthebsd.io import save_crystal_map

        save_crystal_map(truth, out / f"map{args.map}_truth.h5")
        print(f"rendered the {args.map} × {args.map} map in {time.perf_counter() - t:.0f} s")
    cmd = [
        "/usr/bin/time",
        "-v",
        sys.executable,
        __file__,
        "--memory-run",
        str(path),
        "--threads",
        str(args.threads),
        "--engine",
        args.engine,
        "--out",
        str(out),
    ]
    proc = subprocess.run(cmd, capture_output=True, text=True, env=os.environ)
    if proc.returncode != 0:
        raise RuntimeError(f"the memory run failed:\n{proc.stdout}\n{proc.stderr}")
    peak_kib = next(
        int(line.split(":")[1])
        for line in proc.stderr.splitlines()
        if "Maximum resident set size" in line
    )
    result = json.loads((out / "memory_run.json").read_text())
    result["peak_rss_gib"] = peak_kib / 2**20
    print(
        f"{args.map} × {args.map} map, lazy, indexed + refined (torch): peak RSS "
        f"{result['peak_rss_gib']:.2f} GiB (/usr/bin/time -v); "
        f"{result['patterns_per_second']:.0f} patterns/s; ≤2° {result['success_2deg']:.1%}, "
        f"median {result['median_deg']:.3f}° (indexable points)"
    )
    return result


def memory_run(args) -> None:
    """The child process of :func:`bench_memory_map`: everything lazy, nothing else."""
    import torch

    from synthebsd.analyze import (
        crystalline_phases,
        dictionary_index,
        orientation_error_map,
        preprocess_patterns,
        refine_orientations,
    )
    from synthebsd.config import IndexingConfig
    from synthebsd.io import load_crystal_map, load_patterns
    from synthebsd.simulate import make_detector

    torch.set_num_threads(args.threads)
    path = Path(args.memory_run)
    truth = load_crystal_map(path.with_name(path.stem + "_truth.h5"))
    detector = make_detector()
    phases = crystalline_phases(truth.phases)
    _, models = _models([p.name for _, p in phases], args.engine, detector)
    cfg = IndexingConfig()
    t = time.perf_counter()
    signal = load_patterns(path, lazy=True)
    patterns = preprocess_patterns(signal)
    mps = [models[p.name] for _, p in phases]
    with _quiet():
        di = dictionary_index(
            patterns, mps, detector, ENERGY_KV, 3.0, like=truth, **cfg.dictionary_kwargs()
        )
        ref = refine_orientations(
            patterns, di.xmap, mps, detector, ENERGY_KV, **cfg.refine_kwargs()
        )
    seconds = time.perf_counter() - t
    err = orientation_error_map(truth, ref.xmap)
    indexable = truth.phase_id >= 0
    e = np.nan_to_num(np.asarray(err, float)[indexable], nan=np.inf)
    result = {
        "n": int(truth.size),
        "seconds": seconds,
        "patterns_per_second": truth.size / seconds,
        "dictionary_s": di.seconds,
        "refine_s": ref.seconds,
        "success_2deg": float(np.mean(e <= 2)),
        "median_deg": float(np.median(e)),
    }
    (Path(args.out) / "memory_run.json").write_text(json.dumps(result))


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--n", type=int, default=2400, help="patterns (0: skip those tests)")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--refine-subset", type=int, default=400)
    ap.add_argument("--repeat", type=int, default=3, help="alternating runs per method")
    ap.add_argument("--spherical", type=int, default=10, help="patterns (0: skip)")
    ap.add_argument("--bandwidth", type=int, default=80)
    ap.add_argument("--map", type=int, default=0, help="N × N memory map (0: skip)")
    ap.add_argument("--engine", default="dynamical", choices=["dynamical", "kinematical"])
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--skip-de-ebsd", action="store_true")
    ap.add_argument("--device", default="cpu", help="torch backend and de-ebsd: cpu or cuda")
    ap.add_argument("--out", default="benchmark-indexing")
    ap.add_argument("--memory-run", help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    if args.memory_run:
        memory_run(args)
        return

    from synthebsd.io import save_json
    from synthebsd.viz import plot_error_curves

    summary = {"settings": vars(args), "load_average_start": os.getloadavg()}
    if args.n:
        same = bench_same_patterns(args, out)
        summary["methods"] = same["rows"]
        summary["orix_sampling_s"] = same["orix_sampling_s"]
        plot_error_curves(
            same["errors"],
            out / "indexing_errors.png",
            f"{args.n} noisy dynamical Li patterns, 60 × 60",
        )
    if args.spherical and not args.skip_de_ebsd:
        summary["spherical"] = bench_spherical(args)
    if args.map:
        summary["memory_map"] = bench_memory_map(args, out)
    summary["load_average_end"] = os.getloadavg()
    save_json(summary, out / "indexing.json")
    print("\ngoals (ratios from this run):")
    rows = summary.get("methods", {})
    if rows:
        di = rows["dictionary torch (default)"]
        kp = rows["dictionary kikuchipy"]
        print(
            f"  dictionary build + match ≥ 5× kikuchipy, success ± 0.5 %: "
            f"{di['speed_vs_dictionary kikuchipy']:.1f}×, success {di['success_2deg']:.2%} vs "
            f"{kp['success_2deg']:.2%}"
        )
        tr = rows["refine torch (LM, Σ3)"]
        kr = rows["refine kikuchipy (Nelder-Mead, Σ3)"]
        print(
            f"  refinement ≥ 20× kikuchipy, median ≤ +0.01°, success no lower: "
            f"{tr['speed_vs_refine kikuchipy (Nelder-Mead, Σ3)']:.1f}×, median "
            f"{tr['median_deg']:.4f}° vs {kr['median_deg']:.4f}°, success "
            f"{tr['success_2deg']:.2%} vs {kr['success_2deg']:.2%}"
        )
        for name in ("pipeline torch (defaults)", "pipeline torch (no Σ3 starts)"):
            p = rows[name]
            print(
                f"  {name} ≥ 1,000/s to median < 0.2°: {p['patterns_per_second']:.0f}/s, "
                f"median {p['median_deg']:.3f}°"
            )
    if "memory_map" in summary:
        print(
            f"  peak memory of the {args.map} × {args.map} map < 2 GiB: "
            f"{summary['memory_map']['peak_rss_gib']:.2f} GiB"
        )
    print(
        f"wrote {out / 'indexing.json'}"
        + (f" and {out / 'indexing_errors.png'}" if args.n else "")
    )


if __name__ == "__main__":
    main()
