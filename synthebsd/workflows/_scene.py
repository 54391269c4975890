"""Generate a cross-section (or an in-situ sequence) and write ground truth, figures and
measured statistics: what ``synthebsd scene CONFIG --out DIR`` does.

Output folder:

- ``frame_000.h5``, ``frame_001.h5``, …: orix HDF5 crystal maps (``orix.io.load``), with
  properties ``grain_id``, ``pore``, ``region`` and ``misorientation_deg``;
- ``frame_000.png``, …: panels of regions, IPF-Y colours, grain boundaries and pores;
- ``statistics.json``: per frame the measured grain sizes, texture spread, intragranular
  misorientation and porosity next to the requested values, and the timings;
- ``config.yaml``: the exact run, seed, sequence and frame count included
  (``synthebsd scene config.yaml`` re-runs the same frames).

Every file is written under a temporary name and renamed when complete.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any, Literal

import yaml

from synthebsd.analyze import microstructure_statistics
from synthebsd.config import load_scene_run
from synthebsd.io import atomic_path, save_crystal_map, save_json
from synthebsd.simulate import generate_microstructure, plating_sequence, stripping_sequence
from synthebsd.viz import plot_scene_panel

__all__ = ["write_microstructure"]


def write_microstructure(
    source: str | Path,
    out_dir: str | Path,
    seed: int | None = None,
    sequence: Literal["none", "plating", "stripping"] | None = None,
    n_frames: int | None = None,
) -> dict[str, Any]:
    """Generate a scene or sequence from a preset or YAML file and write it to a folder.

    Parameters
    ----------
    source
        Preset name (:func:`~synthebsd.config.list_presets`), microstructure YAML file,
        or the ``config.yaml`` of an earlier run (which brings its seed, sequence and
        frame count; :func:`~synthebsd.config.load_scene_run`).
    out_dir
        Output folder (created if needed).
    seed
        Random seed (≥ 0); default the run file's, else 0.
    sequence
        ``none`` (one scene), ``plating`` or ``stripping``; default the run file's.
    n_frames
        Frames of a sequence (≥ 2); default the run file's, else 5.

    Returns
    -------
    summary
        What ``statistics.json`` holds.

    Raises
    ------
    ConfigError
        Invalid preset or file.
    ValueError
        Invalid seed, sequence or frame count, or a texture that cannot be sampled.
    """
    run = load_scene_run(source, seed, sequence, n_frames)
    config, seed, sequence, n_frames = run.scene, run.seed, run.sequence, run.frames
    out = Path(out_dir)
    t0 = time.perf_counter()
    if sequence == "plating":
        frames = plating_sequence(config, n_frames, seed)
    elif sequence == "stripping":
        frames = stripping_sequence(config, n_frames, seed)
    else:
        frames = [generate_microstructure(config, seed)]
        frames[0].frame = 0
    generate_s = time.perf_counter() - t0

    names = {n: getattr(config, n).phase for n in ("collector", "metal", "electrolyte")}
    stats = []
    for xmap in frames:
        k = int(xmap.frame)
        save_crystal_map(xmap, out / f"frame_{k:03d}.h5")
        title = f"{config.name}, seed {seed}" + (
            f", {sequence} frame {k + 1}/{len(frames)}" if sequence != "none" else ""
        )
        plot_scene_panel(xmap, out / f"frame_{k:03d}.png", title, names)
        stats.append(microstructure_statistics(xmap, config))
    with atomic_path(out / "config.yaml") as tmp:
        tmp.write_text(yaml.safe_dump(run.model_dump(mode="json"), sort_keys=False))
    summary = {
        "config": str(source),
        "name": config.name,
        "seed": seed,
        "sequence": sequence,
        "n_frames": len(frames),
        "shape_px": list(config.shape_px),
        "step_size_um": config.step_size_um,
        "frames": stats,
        "timings": {
            "generate_s": generate_s,
            "total_s": time.perf_counter() - t0,
        },
    }
    save_json(summary, out / "statistics.json")
    return summary
