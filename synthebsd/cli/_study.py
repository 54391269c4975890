"""Commands of the simulation side: the end-to-end study, scenes, master patterns, galleries.

Each command imports what it needs when it runs (``# lazy``): see :mod:`synthebsd.cli`.
"""

from __future__ import annotations

from pathlib import Path

import typer

from synthebsd.cli._errors import exit_on_user_error, refuse
from synthebsd.cli._options import CACHE_DIR

__all__ = ["demo", "scene", "masterpattern", "gallery"]


def demo(
    out: Path = typer.Option(Path("demo-output"), "--out", help="output folder"),
    seed: int | None = typer.Option(
        None, "--seed", min=0, help="random seed, scene and noise (default: the config's, 0)"
    ),
    config: Path | None = typer.Option(
        None, "--config", help="YAML study config to use instead of the default"
    ),
    cache_dir: Path | None = CACHE_DIR,
) -> None:
    """Run the default end-to-end study: scene, patterns, Hough, dictionary + refinement,
    the shipped network (alone and + refinement), errors against the truth."""
    # lazy: see synthebsd.cli
    from synthebsd.config import StudyConfig, load_config
    from synthebsd.workflows import format_summary, run_study

    with exit_on_user_error():
        cfg = load_config(config) if config is not None else StudyConfig()
    if seed is not None:
        cfg = cfg.model_copy(update={"seed": seed})
    summary = run_study(cfg, out, cache_dir)
    typer.echo("")
    typer.echo(format_summary(summary))
    typer.echo(f"\nOutputs written to {out.resolve()}")


def scene(
    config: str = typer.Argument(..., help="preset name (cu_li_llzto, ...) or YAML file"),
    out: Path = typer.Option(..., "--out", help="output folder"),
    seed: int | None = typer.Option(
        None, "--seed", min=0, help="random seed (default: the run file's, else 0)"
    ),
    sequence: str | None = typer.Option(
        None, "--sequence", help="none, plating or stripping (default: the run file's)"
    ),
    frames: int | None = typer.Option(
        None, "--frames", help="frames of a sequence (default: the run file's, else 5)"
    ),
) -> None:
    """Generate a cross-section (or in-situ sequence); write maps, panels and statistics.

    Writes frame_NNN.h5 (orix maps), frame_NNN.png (regions, IPF, grain boundaries,
    pores), statistics.json (measured next to requested) and config.yaml (the run, seed
    included: ``synthebsd scene DIR/config.yaml`` re-runs it) to --out.
    """
    # lazy: see synthebsd.cli
    from synthebsd.workflows import write_microstructure

    with exit_on_user_error(ValueError):
        summary = write_microstructure(config, out, seed, sequence, frames)
    typer.echo(
        f"{summary['name']}: {summary['n_frames']} frame(s) of {summary['shape_px']} px "
        f"in {summary['timings']['generate_s']:.2f} s"
    )
    typer.echo(f"Outputs written to {out.resolve()}")


def masterpattern(
    phase: str = typer.Argument(..., help="phase name, e.g. Li, Na, Cu"),
    out: Path = typer.Option(..., "--out", help="output .h5 file (EMsoft master-pattern layout)"),
    engine: str = typer.Option("dynamical", "--engine", help="dynamical (de-ebsd) or kinematical"),
    energy: float = typer.Option(20.0, "--energy", help="beam energy in kV"),
    half_size: int | None = typer.Option(
        None, "--half-size", help="Lambert half width in pixels (default: 1000 for Li, Na; 500)"
    ),
    temperature: float = typer.Option(293.0, "--temperature", help="K, for Debye–Waller factors"),
    cache_dir: Path | None = CACHE_DIR,
) -> None:
    """Compute (or take from the cache) one master pattern; write it and a PNG of both hemispheres.

    The file is readable with kikuchipy.load(FILE, projection="lambert", hemisphere="both");
    the PNG (FILE with .png) shows both hemispheres in the stereographic projection.
    """
    # lazy: see synthebsd.cli
    from synthebsd.config import MasterPatternConfig
    from synthebsd.phases import get_phase
    from synthebsd.simulate import get_master_pattern, master_pattern_key, save_master_pattern
    from synthebsd.viz import plot_master_pattern

    if out.suffix != ".h5":
        raise refuse(f"the output must be an .h5 file, got {out.name}")
    with exit_on_user_error(ValueError):
        config = MasterPatternConfig(engine=engine, half_size_px=half_size)
        ph = get_phase(phase, temperature_k=temperature)
    mp = get_master_pattern(ph, energy, config, cache_dir)
    save_master_pattern(out, mp, energy, {"key": master_pattern_key(ph, energy, config)})
    plot_master_pattern(out, out.with_suffix(".png"), f"{ph.name} {engine}, {energy:g} kV,")
    typer.echo(f"Wrote {out} and {out.with_suffix('.png')}")


def gallery(
    out: Path = typer.Option(..., "--out", help="output PNG"),
    phase: str = typer.Option("Li", "--phase", help="phase name, e.g. Li, Na, Cu"),
    engine: str = typer.Option("dynamical", "--engine", help="dynamical (de-ebsd) or kinematical"),
    half_size: int = typer.Option(500, "--half-size", help="master-pattern Lambert half width"),
    euler: tuple[float, float, float] = typer.Option(
        (30.0, 40.0, 20.0), "--euler", help="Bunge Euler angles in degrees"
    ),
    seed: int = typer.Option(0, "--seed", min=0, help="noise seed"),
    cache_dir: Path | None = CACHE_DIR,
) -> None:
    """One orientation under increasing dose and damage: camera noise, beam damage, FIB layer."""
    # lazy: see synthebsd.cli
    import numpy as np
    from orix.quaternion import Rotation

    from synthebsd.config import DetectorConfig, MasterPatternConfig
    from synthebsd.phases import get_phase
    from synthebsd.simulate import get_master_pattern, make_detector
    from synthebsd.workflows import write_pattern_gallery

    if out.suffix.lower() != ".png":
        raise refuse(f"the output must be a .png file, got {out.name}")
    with exit_on_user_error(ValueError):
        config = MasterPatternConfig(engine=engine, half_size_px=half_size)
        ph = get_phase(phase)
    detector_config = DetectorConfig()
    mp = get_master_pattern(ph, detector_config.energy_kv, config, cache_dir)
    rotation = Rotation.from_euler(np.deg2rad(euler))
    summary = write_pattern_gallery(
        out, mp, make_detector(detector_config), rotation, detector_config.energy_kv, seed
    )
    for row, panels in summary.items():
        factors = ", ".join(f"{p['contrast_factor']:.2f}" for p in panels)
        nccs = [p["ncc"] for p in panels if p["ncc"] is not None]
        ncc = f"; NCC {', '.join(f'{v:.2f}' for v in nccs)}" if nccs else ""
        typer.echo(f"{row}: contrast factors {factors}{ncc}")
    typer.echo(f"Wrote {out}")
