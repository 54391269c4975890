"""Command-line interface: ``synthebsd demo``, ``scene``, ``index``, ``predict``, ``train``,
``evaluate``, ``masterpattern``, ``gallery``, and for training data ``generate``, ``verify`` and ``export``.

Each command imports what it needs when it runs (``# lazy`` below): the EBSD stack
(kikuchipy, torch) takes seconds to import, and ``synthebsd --help`` should not wait for it.
"""

from __future__ import annotations

from pathlib import Path

import typer

app = typer.Typer(add_completion=False, no_args_is_help=True, help=__doc__)


@app.callback()
def _main() -> None:
    """synthebsd: synthetic EBSD ground truth for Li/Na metal anodes."""


@app.command()
def demo(
    out: Path = typer.Option(Path("demo-output"), "--out", help="output folder"),
    seed: int | None = typer.Option(
        None, "--seed", min=0, help="random seed, scene and noise (default: the config's, 0)"
    ),
    config: Path | None = typer.Option(
        None, "--config", help="YAML study config to use instead of the default"
    ),
    cache_dir: Path | None = typer.Option(None, "--cache-dir", help="master-pattern cache folder"),
) -> None:
    """Run the default end-to-end study: scene, patterns, Hough + dictionary indexing, errors."""
    # lazy: see the module docstring
    from synthebsd.config import ConfigError, StudyConfig, load_config
    from synthebsd.workflows import format_summary, run_study

    try:
        cfg = load_config(config) if config is not None else StudyConfig()
    except ConfigError as e:
        typer.echo(f"error: {e}", err=True)
        raise typer.Exit(2) from e
    if seed is not None:
        cfg = cfg.model_copy(update={"seed": seed})
    summary = run_study(cfg, out, cache_dir)
    typer.echo("")
    typer.echo(format_summary(summary))
    typer.echo(f"\nOutputs written to {out.resolve()}")


@app.command("index")
def index(
    file: Path = typer.Argument(..., help="pattern map any kikuchipy.load reads"),
    phase: list[str] = typer.Option(..., "--phase", help="candidate phase (repeat for more)"),
    out: Path = typer.Option(..., "--out", help="output folder"),
    method: str = typer.Option("dictionary", "--method", help="dictionary or hough"),
    refine: bool = typer.Option(False, "--refine", help="refine orientations (NCC)"),
    backend: str = typer.Option(
        "torch", "--backend", help="dictionary and refinement: torch (default) or kikuchipy"
    ),
    pc: tuple[float, float, float] | None = typer.Option(
        None, "--pc", help="projection centre PCx PCy PCz, Bruker convention (default: file's)"
    ),
    sample_tilt: float | None = typer.Option(
        None, "--sample-tilt", help="sample tilt in degrees (default: file's)"
    ),
    energy: float = typer.Option(20.0, "--energy", help="beam energy in kV"),
    engine: str = typer.Option("dynamical", "--engine", help="dynamical (de-ebsd) or kinematical"),
    resolution: float = typer.Option(3.0, "--resolution", help="dictionary sampling in degrees"),
    half_size: int | None = typer.Option(
        None, "--half-size", help="master-pattern Lambert half width (default: the phase's)"
    ),
    min_score: float = typer.Option(0.2, "--min-score", help="NCC below which: not indexed"),
    smooth: bool = typer.Option(
        True, "--smooth/--no-smooth", help="smooth master patterns to the detector resolution"
    ),
    cache_dir: Path | None = typer.Option(None, "--cache-dir", help="master-pattern cache folder"),
) -> None:
    """Index a measured map with the validated pipeline; write maps, figures and summary.json.

    Writes METHOD.h5 (orix map), METHOD_ipf.png, METHOD_score.png (and refined.* with
    --refine) and summary.json to --out.
    """
    # lazy: see the module docstring
    from pydantic import ValidationError

    from synthebsd.workflows import index_map

    try:
        summary = index_map(
            file,
            phase,
            method=method,
            refine=refine,
            out_dir=out,
            pc_bruker=pc,
            sample_tilt_deg=sample_tilt,
            energy_kv=energy,
            engine=engine,
            dictionary_resolution_deg=resolution,
            cache_dir=cache_dir,
            half_size_px=half_size,
            min_score=min_score,
            smooth=smooth,
            backend=backend,
        )
    except (FileNotFoundError, ValueError, ValidationError) as e:
        typer.echo(f"error: {' '.join(str(e).split()) or type(e).__name__}", err=True)
        raise typer.Exit(2) from e
    typer.echo(
        f"{summary['n_patterns']} patterns, {summary['final']}: "
        f"{100 * summary['fraction_indexed']:.1f} % indexed, mean {summary['score']} "
        f"{summary['mean_score']}, {summary['patterns_per_second']:.1f} patterns/s ({method})"
    )
    typer.echo(f"Outputs written to {out.resolve()}")


@app.command("predict")
def predict(
    checkpoint: Path = typer.Argument(..., help="orientation checkpoint (.safetensors)"),
    patterns: Path = typer.Argument(..., help="pattern map any kikuchipy.load reads"),
    out: Path = typer.Option(..., "--out", help="output folder"),
    segmentation: Path | None = typer.Option(
        None, "--segmentation", help="segmentation checkpoint whose classes to use"
    ),
    pc: tuple[float, float, float] | None = typer.Option(
        None, "--pc", help="projection centre PCx PCy PCz, Bruker convention (default: file's)"
    ),
    sample_tilt: float | None = typer.Option(
        None, "--sample-tilt", help="sample tilt in degrees (default: file's)"
    ),
    max_uncertainty: float | None = typer.Option(
        None, "--max-uncertainty", help="predicted error (deg) above which: not indexed"
    ),
    batch_size: int = typer.Option(512, "--batch-size", min=1, help="patterns per batch"),
    device: str = typer.Option("cpu", "--device", help="torch device: cpu, cuda, cuda:1, ..."),
) -> None:
    """Predict orientations, classes and uncertainties of a map with a trained model.

    Writes neural.h5 (orix map), neural_ipf.png, neural_uncertainty.png,
    neural_classes.png and summary.json to --out; warns when the map's projection centre
    or dose is outside the range the model was trained on.
    """
    # lazy: see the module docstring
    import warnings

    from synthebsd.workflows import predict_map

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # the summary's warnings are printed below
            summary = predict_map(
                checkpoint,
                patterns,
                out,
                segmentation=segmentation,
                pc_bruker=pc,
                sample_tilt_deg=sample_tilt,
                max_uncertainty_deg=max_uncertainty,
                batch_size=batch_size,
                device=device,
            )
    except (FileNotFoundError, ValueError) as e:  # CheckpointError etc. are ValueErrors
        typer.echo(f"error: {' '.join(str(e).split()) or type(e).__name__}", err=True)
        raise typer.Exit(2) from e
    for message in summary["warnings"]:
        typer.echo(f"warning: {message}", err=True)
    typer.echo(
        f"{summary['n_patterns']} patterns: {100 * summary['fraction_indexed']:.1f} % indexed "
        f"(predicted error <= {summary['max_uncertainty_deg']:g} deg), "
        f"{summary['patterns_per_second']:.0f} patterns/s"
    )
    typer.echo(f"Outputs written to {out.resolve()}")


@app.command("train")
def train(
    config: Path = typer.Argument(..., help="training run YAML (synthebsd.config.TrainRunConfig)"),
    out: Path = typer.Option(..., "--out", help="output folder (a run there is resumed)"),
    steps: int | None = typer.Option(None, "--steps", min=1, help="override train.steps"),
    resume: bool = typer.Option(
        True, "--resume/--no-resume", help="continue an interrupted run in --out"
    ),
    stop_after: int | None = typer.Option(
        None, "--stop-after", min=1, help="stop (resumably) after this many steps"
    ),
    device: str | None = typer.Option(None, "--device", help="auto, cpu or cuda"),
    cache_dir: Path | None = typer.Option(None, "--cache-dir", help="master-pattern cache folder"),
) -> None:
    """Train a registered model on an on-the-fly stream or a stored set.

    Shows loss, patterns/s and ETA; writes model.safetensors, last.safetensors +
    last_state.pt (run the same command again to resume), history.json, metrics.json,
    learning_curves.png, config.yaml and summary.json to --out. Under torchrun it trains
    with DDP.
    """
    # lazy: see the module docstring
    from synthebsd.config import ConfigError, load_train_run_config
    from synthebsd.workflows import train_run

    try:
        cfg = load_train_run_config(config)
        changes = {k: v for k, v in (("steps", steps), ("device", device)) if v is not None}
        if changes:
            cfg = cfg.model_copy(
                update={"train": cfg.train.model_validate(cfg.train.model_dump() | changes)}
            )
        summary = train_run(
            cfg, out, resume=resume, stop_after_steps=stop_after, cache_dir=cache_dir
        )
    except (FileNotFoundError, ValueError) as e:  # ConfigError, StoreError: ValueError
        message = str(e) if isinstance(e, ConfigError) else " ".join(str(e).split())
        typer.echo(f"error: {message or type(e).__name__}", err=True)
        raise typer.Exit(2) from e
    state = "complete" if summary["complete"] else "interrupted (resumable)"
    rate = summary["median_patterns_per_second"]
    typer.echo(
        f"{summary['model']}: {summary['steps_done']}/{summary['steps']} steps, {state}, "
        f"{summary['seconds_this_call']:.0f} s" + (f", {rate:.0f} patterns/s" if rate else "")
    )
    if summary["validation"]:
        v = summary["validation"]
        typer.echo(
            f"held-out: median {v.get('median_error_deg')} deg, within 5 deg "
            f"{v.get('fraction_within_5deg')}, class accuracy {v.get('class_accuracy')}"
        )
    typer.echo(f"Outputs written to {out.resolve()}")


@app.command("evaluate")
def evaluate(
    checkpoint: str = typer.Argument(
        ..., help="orientation checkpoint (.safetensors) or 'shipped'"
    ),
    out: Path = typer.Option(..., "--out", help="output folder"),
    config: Path | None = typer.Option(
        None, "--config", help="YAML evaluate config (held-out cases); default: the built-in"
    ),
    cache_dir: Path | None = typer.Option(None, "--cache-dir", help="master-pattern cache folder"),
) -> None:
    """Score a checkpoint on held-out scenes beside Hough and dictionary + refinement.

    One study per case (other seeds, grain and pore sizes, another preset's geometry,
    several doses, beam damage) in --out/CASE/, then summary.json (one table: every case
    and method, pooled rows, the goals reached), evaluation.png and calibration.png.
    """
    # lazy: see the module docstring
    from synthebsd.config import ConfigError, load_evaluate_config
    from synthebsd.workflows import evaluate_checkpoint, format_evaluation

    try:
        cfg = load_evaluate_config(config) if config is not None else None
        summary = evaluate_checkpoint(checkpoint, out, cfg, cache_dir)
    except (FileNotFoundError, ValueError) as e:  # CheckpointError etc. are ValueErrors
        message = str(e) if isinstance(e, ConfigError) else " ".join(str(e).split())
        typer.echo(f"error: {message or type(e).__name__}", err=True)
        raise typer.Exit(2) from e
    typer.echo("")
    typer.echo(format_evaluation(summary))
    typer.echo(f"\nOutputs written to {out.resolve()}")


@app.command("masterpattern")
def masterpattern(
    phase: str = typer.Argument(..., help="phase name, e.g. Li, Na, Cu"),
    out: Path = typer.Option(..., "--out", help="output .h5 file (EMsoft master-pattern layout)"),
    engine: str = typer.Option("dynamical", "--engine", help="dynamical (de-ebsd) or kinematical"),
    energy: float = typer.Option(20.0, "--energy", help="beam energy in kV"),
    half_size: int | None = typer.Option(
        None, "--half-size", help="Lambert half width in pixels (default: 1000 for Li, Na; 500)"
    ),
    temperature: float = typer.Option(293.0, "--temperature", help="K, for Debye–Waller factors"),
    cache_dir: Path | None = typer.Option(None, "--cache-dir", help="master-pattern cache folder"),
) -> None:
    """Compute (or take from the cache) one master pattern; write it and a PNG of both hemispheres.

    The file is readable with kikuchipy.load(FILE, projection="lambert", hemisphere="both");
    the PNG (FILE with .png) shows both hemispheres in the stereographic projection.
    """
    # lazy: see the module docstring
    from pydantic import ValidationError

    from synthebsd.config import MasterPatternConfig
    from synthebsd.phases import get_phase
    from synthebsd.simulate import get_master_pattern, master_pattern_key, save_master_pattern
    from synthebsd.viz import plot_master_pattern

    if out.suffix != ".h5":
        typer.echo(f"error: the output must be an .h5 file, got {out.name}", err=True)
        raise typer.Exit(2)
    try:
        config = MasterPatternConfig(engine=engine, half_size_px=half_size)
        ph = get_phase(phase, temperature_k=temperature)
    except (ValidationError, ValueError) as e:
        typer.echo(f"error: {e}", err=True)
        raise typer.Exit(2) from e
    mp = get_master_pattern(ph, energy, config, cache_dir)
    save_master_pattern(out, mp, energy, {"key": master_pattern_key(ph, energy, config)})
    plot_master_pattern(out, out.with_suffix(".png"), f"{ph.name} {engine}, {energy:g} kV,")
    typer.echo(f"Wrote {out} and {out.with_suffix('.png')}")


@app.command("scene")
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
    # lazy: see the module docstring
    from synthebsd.workflows import write_microstructure

    try:
        summary = write_microstructure(config, out, seed, sequence, frames)
    except ValueError as e:  # ConfigError is a ValueError
        typer.echo(f"error: {e}", err=True)
        raise typer.Exit(2) from e
    typer.echo(
        f"{summary['name']}: {summary['n_frames']} frame(s) of {summary['shape_px']} px "
        f"in {summary['timings']['generate_s']:.2f} s"
    )
    typer.echo(f"Outputs written to {out.resolve()}")


@app.command("gallery")
def gallery(
    out: Path = typer.Option(..., "--out", help="output PNG"),
    phase: str = typer.Option("Li", "--phase", help="phase name, e.g. Li, Na, Cu"),
    engine: str = typer.Option("dynamical", "--engine", help="dynamical (de-ebsd) or kinematical"),
    half_size: int = typer.Option(500, "--half-size", help="master-pattern Lambert half width"),
    euler: tuple[float, float, float] = typer.Option(
        (30.0, 40.0, 20.0), "--euler", help="Bunge Euler angles in degrees"
    ),
    seed: int = typer.Option(0, "--seed", min=0, help="noise seed"),
    cache_dir: Path | None = typer.Option(None, "--cache-dir", help="master-pattern cache folder"),
) -> None:
    """One orientation under increasing dose and damage: camera noise, beam damage, FIB layer."""
    # lazy: see the module docstring
    import numpy as np
    from orix.quaternion import Rotation
    from pydantic import ValidationError

    from synthebsd.config import DetectorConfig, MasterPatternConfig
    from synthebsd.phases import get_phase
    from synthebsd.simulate import get_master_pattern, make_detector
    from synthebsd.workflows import write_pattern_gallery

    if out.suffix.lower() != ".png":
        typer.echo(f"error: the output must be a .png file, got {out.name}", err=True)
        raise typer.Exit(2)
    try:
        config = MasterPatternConfig(engine=engine, half_size_px=half_size)
        ph = get_phase(phase)
    except (ValidationError, ValueError) as e:
        typer.echo(f"error: {' '.join(str(e).split())}", err=True)
        raise typer.Exit(2) from e
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


@app.command("generate")
def generate(
    config: Path = typer.Argument(
        ..., help="data-set YAML config (synthebsd.config.DatasetConfig)"
    ),
    out: Path = typer.Option(..., "--out", help="output store (a Zarr folder)"),
    seed: int | None = typer.Option(
        None, "--seed", min=0, help="data-set seed (default: the store's with --resume, else 0)"
    ),
    resume: bool = typer.Option(
        False, "--resume", help="continue an interrupted store (finished chunks re-verified)"
    ),
    overwrite: bool = typer.Option(False, "--overwrite", help="replace an existing store"),
    scheduler: str | None = typer.Option(
        None,
        "--scheduler",
        help="dask.distributed scheduler ADDRESS (default: a LocalCluster sized to this "
        "machine; 'synchronous': this process only)",
    ),
    workers: int | None = typer.Option(
        None, "--workers", min=1, help="LocalCluster workers (default: one per core)"
    ),
    memory: float | None = typer.Option(
        None, "--memory-per-worker", help="LocalCluster memory limit per worker, GiB"
    ),
    cache_dir: Path | None = typer.Option(None, "--cache-dir", help="master-pattern cache folder"),
) -> None:
    """Render a data set into a Zarr store: patterns, labels, manifest with a hash per chunk.

    Never overwrites an existing store unless --overwrite is given. Workers of an existing
    cluster (--scheduler) must see the store and the master-pattern cache.
    """
    # lazy: see the module docstring
    from synthebsd.workflows import generate_dataset

    try:
        summary = generate_dataset(
            config,
            out,
            seed=seed,
            resume=resume,
            overwrite=overwrite,
            scheduler=scheduler,
            n_workers=workers,
            memory_per_worker_gib=memory,
            cache_dir=cache_dir,
        )
    except (FileNotFoundError, ValueError, OSError) as e:  # ConfigError, StoreError: ValueError
        typer.echo(f"error: {e}", err=True)
        raise typer.Exit(2) from e
    state = "complete" if summary["complete"] else "incomplete"
    rate = summary["patterns_per_second"]
    typer.echo(
        f"{summary['store']}: {state}, {summary['patterns_in_store']} patterns (seed "
        f"{summary['seed']}); wrote {summary['chunks_written']} chunks, kept "
        f"{summary['chunks_kept']}, {summary['seconds']:.1f} s"
        + (f", {rate:.0f} patterns/s" if rate else "")
    )


@app.command("verify")
def verify(
    store: Path = typer.Argument(..., help="a store written by synthebsd generate"),
) -> None:
    """Re-hash every chunk of a store; name the corrupt and missing ones (exit code 1)."""
    # lazy: see the module docstring
    from synthebsd.workflows import verify_dataset

    try:
        report = verify_dataset(store)
    except ValueError as e:  # StoreError
        typer.echo(f"error: {e}", err=True)
        raise typer.Exit(2) from e
    for entry in report["corrupt"] + report["missing"]:
        typer.echo(f"{entry['chunk']}: {entry['where']}: {entry['problem']}", err=True)
    verdict = "ok" if report["passed"] else "FAILED"
    typer.echo(
        f"{store}: {verdict}: {report['n_ok']}/{report['n_chunks']} chunks match, "
        f"{len(report['corrupt'])} corrupt, {len(report['missing'])} missing"
        + ("" if report["complete"] else " (store incomplete)")
    )
    if not report["passed"]:
        raise typer.Exit(1)


@app.command("export")
def export(
    store: Path = typer.Argument(..., help="a store written by synthebsd generate"),
    out_dir: Path = typer.Argument(..., help="output folder"),
    scene: int = typer.Option(..., "--scene", min=0, help="scene index"),
    to: str = typer.Option(
        ..., "--to", help="h5ebsd (patterns), ang (truth, EDAX) or orix (truth)"
    ),
) -> None:
    """Write one stored scene as kikuchipy h5ebsd, EDAX .ang or orix HDF5 into OUT_DIR."""
    # lazy: see the module docstring
    from synthebsd.workflows import export_dataset_scene

    try:
        path = export_dataset_scene(store, scene, to, out_dir)
    except ValueError as e:  # StoreError too
        typer.echo(f"error: {e}", err=True)
        raise typer.Exit(2) from e
    typer.echo(f"Wrote {path}")


@app.command("benchmark")
def benchmark(
    config: Path | None = typer.Argument(
        None, help="YAML benchmark config (default: the built-in grid)"
    ),
    out: Path = typer.Option(..., "--out", help="output folder"),
    quick: bool = typer.Option(False, "--quick", help="the small quick grid (minutes)"),
    resume: bool = typer.Option(False, "--resume", help="keep grid points already finished"),
    scheduler: str | None = typer.Option(
        None, "--scheduler", help="dask.distributed scheduler address (default: in-process)"
    ),
    cache_dir: Path | None = typer.Option(None, "--cache-dir", help="master-pattern cache folder"),
) -> None:
    """Indexing-accuracy benchmark: every method over dose, damage and model mismatch."""
    # lazy: see the module docstring
    from synthebsd.config import BenchmarkConfig, ConfigError, load_benchmark_config
    from synthebsd.workflows import run_benchmark

    try:
        cfg = load_benchmark_config(config) if config is not None else BenchmarkConfig()
        results = run_benchmark(cfg, out, quick, resume, scheduler, cache_dir)
    except (ConfigError, ValueError, FileNotFoundError) as e:
        typer.echo(f"error: {e}", err=True)
        raise typer.Exit(2) from e
    typer.echo(
        f"{results['n_tasks']} tasks ({results['resumed_tasks']} resumed) in "
        f"{results['run_s']:.0f} s; results.json, results.csv, summary.csv and "
        f"{len(results['figures'])} figures in {out.resolve()}"
    )


@app.command("insitu")
def insitu(
    config: Path | None = typer.Argument(
        None, help="YAML in-situ config (default: the built-in run)"
    ),
    out: Path = typer.Option(..., "--out", help="output folder"),
    cache_dir: Path | None = typer.Option(None, "--cache-dir", help="master-pattern cache folder"),
) -> None:
    """In-situ validation: plating and stripping frames with accumulating beam damage."""
    # lazy: see the module docstring
    from synthebsd.config import ConfigError, InsituConfig, load_insitu_config
    from synthebsd.workflows import run_insitu

    try:
        cfg = load_insitu_config(config) if config is not None else InsituConfig()
        results = run_insitu(cfg, out, cache_dir)
    except (ConfigError, ValueError, FileNotFoundError) as e:
        typer.echo(f"error: {e}", err=True)
        raise typer.Exit(2) from e
    typer.echo(
        f"{results['n_frames_indexed']} frames indexed in {results['run_s']:.0f} s; "
        f"insitu.json and figures in {out.resolve()}"
    )
