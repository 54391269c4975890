"""Training data: stream throughput, bare renderer vs kikuchipy, a 100,000-pattern store.

    .venv/bin/python benchmarks/stream.py [--scenes 12] [--store-patterns 100000]
        [--engine dynamical|kinematical] [--repeat 3] [--skip-store] [--json out.json]

Measures in one run, on 60 × 60 patterns with the default pattern physics
(``PatternConfig()``: 2 × 2 pixel integration, 0.5 px PSF, backscatter background,
Poisson noise) and the default scene (Cu | Li | LLZTO, 45 × 50 map):

1. the stream (:class:`synthebsd.datasets.PatternStream`, all threads): rendering +
   noise + labels in patterns/s, and per pattern on one thread the cost of each part
   (scene: microstructure, pattern model, labels; expected intensities; noise);
2. the bare renderer (point sampling, as kikuchipy) against kikuchipy's
   ``EBSDMasterPattern.get_patterns`` on the same 10,000 Li orientations, alternated
   ``--repeat`` times, median ratio;
   (with the stream's master pattern, and with benchmarks/render.py's kinematical one at
   Lambert half size 500);
3. ``synthebsd generate`` of about ``--store-patterns`` patterns in a fresh process on the
   default LocalCluster (one worker process per core): wall time including start-up and
   the cluster's start, then ``verify_store``;
4. peak resident memory of the stream (this process) and of the store generation (the
   ``generate`` process and its workers, summed), sampled every 20 ms.

Numbers depend on the machine's load: other processes sharing the cores lower every
rate (the ratio of part 2 is from one run and so comparable).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from synthebsd.workflows import PeakMemory


def _config(n_scenes: int, engine: str):
    from synthebsd.config import DatasetConfig

    return DatasetConfig(n_scenes=n_scenes, master_pattern={"engine": engine})


def bench_stream(n_scenes: int, engine: str) -> dict[str, float]:
    import torch

    from synthebsd.datasets import PatternStream, expected_on_device, render_rows

    config = _config(n_scenes + 1, engine)
    stream = PatternStream(config, seed=0)
    list(stream.chunks([0]))  # master patterns, first calls
    with PeakMemory(interval_s=0.02) as rss:
        t0 = time.perf_counter()
        n = sum(len(chunk) for chunk in stream.chunks(range(1, n_scenes + 1)))
        seconds = time.perf_counter() - t0
    out = {
        "stream_patterns": n,
        "stream_threads": stream.num_threads,
        "stream_patterns_per_s": n / seconds,
        "stream_peak_rss_gib": rss.peak_gib,
    }
    # One thread, one scene: what each part costs per pattern.
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        t0 = time.perf_counter()
        scene = stream.scene(1)
        t_scene = time.perf_counter() - t0
        n_rows, n_cols = scene.shape
        t0 = time.perf_counter()
        for r in range(0, n_rows, 8):
            expected_on_device(scene, r * n_cols, min(r + 8, n_rows) * n_cols)
        t_expected = time.perf_counter() - t0
        t0 = time.perf_counter()
        for r in range(0, n_rows, 8):
            render_rows(scene, 0, r, min(r + 8, n_rows))
        t_total = time.perf_counter() - t0
    finally:
        torch.set_num_threads(before)
    size = scene.xmap.size
    out |= {
        "one_thread_scene_us_per_pattern": 1e6 * t_scene / size,
        "one_thread_expected_us_per_pattern": 1e6 * t_expected / size,
        "one_thread_noise_us_per_pattern": 1e6 * (t_total - t_expected) / size,
    }
    return out


def bench_renderer(
    n: int, repeat: int, engine: str, half_size: int | None = None
) -> dict[str, float]:
    from synthebsd.config import MasterPatternConfig
    from synthebsd.datasets import master_pattern
    from synthebsd.simulate import KikuchiRenderer, make_detector, random_rotations

    mp = master_pattern("Li", 20.0, MasterPatternConfig(engine=engine, half_size_px=half_size))
    tag = f"{engine}_{mp.data.shape[-1] // 2}"
    detector = make_detector()
    rot = random_rotations(n, np.random.default_rng(0))
    renderer = KikuchiRenderer(mp, detector, 20.0)
    mp.get_patterns(rot[:200], detector, energy=20, compute=True, show_progressbar=False)
    renderer.render(rot[:200])
    ours, theirs = [], []
    for _ in range(repeat):
        time.sleep(1.0)
        t0 = time.perf_counter()
        mp.get_patterns(rot, detector, energy=20, compute=True, show_progressbar=False)
        theirs.append(n / (time.perf_counter() - t0))
        time.sleep(1.0)
        t0 = time.perf_counter()
        renderer.render(rot)
        ours.append(n / (time.perf_counter() - t0))
    ratios = [a / b for a, b in zip(ours, theirs, strict=True)]
    return {
        f"renderer_{tag}_patterns_per_s_median": statistics.median(ours),
        f"kikuchipy_{tag}_patterns_per_s_median": statistics.median(theirs),
        f"renderer_vs_kikuchipy_{tag}_median_ratio": statistics.median(ratios),
        f"renderer_vs_kikuchipy_{tag}_min_ratio": min(ratios),
    }


def bench_store(n_patterns: int, engine: str) -> dict[str, float]:
    """``synthebsd generate`` in a fresh process: wall time, and memory of it and its workers."""
    import yaml

    from synthebsd.datasets import default_cluster_size, read_manifest, verify_store

    per_scene = int(np.prod(_config(1, engine).map_shape))
    config = _config(-(-n_patterns // per_scene), engine)
    workers, memory = default_cluster_size()
    with tempfile.TemporaryDirectory(dir=os.environ.get("TMPDIR")) as tmp:
        path = Path(tmp) / "store.zarr"
        config_file = Path(tmp) / "data.yaml"
        config_file.write_text(yaml.safe_dump(config.model_dump(mode="json")))
        command = [
            sys.executable,
            "-c",
            "from synthebsd.cli import app; app()",
            "generate",
            str(config_file),
            "--out",
            str(path),
        ]
        t0 = time.perf_counter()
        process = subprocess.Popen(command, stderr=subprocess.DEVNULL)
        with PeakMemory(process.pid, interval_s=0.02) as rss:
            process.wait()
        seconds = time.perf_counter() - t0
        if process.returncode != 0:
            raise RuntimeError(f"synthebsd generate failed with exit code {process.returncode}")
        manifest = read_manifest(path)
        n = config.n_scenes * per_scene
        t0 = time.perf_counter()
        report = verify_store(path)
        t_verify = time.perf_counter() - t0
        size = sum(p.stat().st_size for p in path.rglob("*") if p.is_file())
    return {
        "store_patterns": n,
        "store_complete": float(manifest["complete"]),
        "store_workers": workers,
        "store_memory_per_worker_gib": memory,
        "store_seconds_incl_start": seconds,
        "store_patterns_per_s": n / seconds,
        "store_peak_rss_all_processes_gib": rss.peak_gib,
        "store_gib_on_disk": size / 2**30,
        "verify_seconds": t_verify,
        "verify_passed": float(report.passed),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scenes", type=int, default=12, help="scenes streamed (2,250 each)")
    parser.add_argument(
        "--render-n", type=int, default=10_000, help="patterns, renderer vs kikuchipy"
    )
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--store-patterns", type=int, default=100_000)
    parser.add_argument("--engine", default="dynamical", choices=["dynamical", "kinematical"])
    parser.add_argument("--skip-stream", action="store_true")
    parser.add_argument("--skip-render", action="store_true")
    parser.add_argument("--skip-store", action="store_true")
    parser.add_argument("--json", default=None, help="also write results here")
    args = parser.parse_args()

    results = {"cpu_count": os.cpu_count(), "load_average_1min_start": os.getloadavg()[0]}
    if not args.skip_stream:
        results |= bench_stream(args.scenes, args.engine)
    if not args.skip_render:
        # The stream's master pattern, and benchmarks/render.py's (kinematical, 500).
        results |= bench_renderer(args.render_n, args.repeat, args.engine)
        results |= bench_renderer(args.render_n, args.repeat, "kinematical", 500)
    if not args.skip_store:
        results |= bench_store(args.store_patterns, args.engine)
    results["load_average_1min_end"] = os.getloadavg()[0]
    width = max(map(len, results))
    for key, value in results.items():
        print(f"{key:<{width}}  {value:12.4g}")
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2) + "\n")


if __name__ == "__main__":
    main()
