"""Generate a cross-section (or an in-situ sequence) and write ground truth, figures and
measured statistics: what ``synthebsd scene CONFIG --out DIR`` does.

Output folder:

- ``frame_000.h5``, ``frame_001.h5``, …: orix HDF5 crystal maps (``orix.io.load``), with
  properties ``grain_id``, ``pore``, ``region`` and ``misorientation_deg``;
- ``frame_000.png``, …: panels of regions, IPF-Y colours, grain boundaries and pores;
- ``statistics.json``: per frame the measured grain sizes, texture spread, intragranular
  misorientation and porosity next to the requested values, and the timings;
- ``config.yaml``: the exact configuration (``synthebsd scene config.yaml`` re-runs it).

Every file is written under a temporary name and renamed when complete.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any, Literal

import yaml

from synthebsd.analyze import microstructure_statistics
from synthebsd.config import load_microstructure_config
from synthebsd.io import atomic_path, save_crystal_map, save_json
from synthebsd.simulate import generate_microstructure, plating_sequence, stripping_sequence
from synthebsd.viz import plot_scene_panel

__all__ = ["write_microstructure"]


def write_microstructure(
    source: str | Path,
    out_dir: str | Path,
    seed: int = 0,
    sequence: Literal["none", "plating", "stripping"] = "none",
    n_frames: int = 1,
) -> dict[str, Any]:
    """Generate a scene or sequence from a preset or YAML file and write it to a folder.

    Parameters
    ----------
    source
        Preset name (:func:`~synthebsd.config.list_presets`) or YAML file.
    out_dir
        Output folder (created if needed).
    seed
        Random seed (≥ 0).
    sequence
        ``none`` (one scene), ``plating`` or ``stripping``.
    n_frames
        Frames of a sequence (≥ 2); ignored for ``none``.

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
    if seed < 0:
        raise ValueError(f"seed must be ≥ 0, got {seed}")
    if sequence not in ("none", "plating", "stripping"):
        raise ValueError(f"sequence must be none, plating or stripping, got {sequence!r}")
    if sequence != "none" and n_frames < 2:
        raise ValueError(f"a {sequence} sequence needs --frames ≥ 2, got {n_frames}")
    config = load_microstructure_config(source)
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
        tmp.write_text(yaml.safe_dump(config.model_dump(mode="json"), sort_keys=False))
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
