"""Commands that index maps: the classical pipeline and a trained network.

Each command imports what it needs when it runs (``# lazy``): see :mod:`synthebsd.cli`.
"""

from __future__ import annotations

from pathlib import Path

import typer

from synthebsd.cli._errors import exit_on_user_error
from synthebsd.cli._options import CACHE_DIR

__all__ = ["index", "predict"]


def index(
    file: Path = typer.Argument(..., help="pattern map any kikuchipy.load reads"),
    phase: list[str] = typer.Option(..., "--phase", help="candidate phase (repeat for more)"),
    out: Path = typer.Option(..., "--out", help="output folder"),
    method: str = typer.Option("dictionary", "--method", help="dictionary or hough"),
    refine: bool = typer.Option(False, "--refine", help="refine orientations (NCC)"),
    refine_pc: str = typer.Option(
        "none", "--refine-pc", help="with --refine also fit the PC: none, map or pattern"
    ),
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
    nlpar: int | None = typer.Option(
        None,
        "--nlpar",
        help="first average each pattern with its similar neighbours within this many map "
        "points (NLPAR, PyEBSDIndex; 2-D maps), as for low-dose maps",
    ),
    cache_dir: Path | None = CACHE_DIR,
) -> None:
    """Index a measured map with the validated pipeline; write maps, figures and summary.json.

    Writes METHOD.h5 (orix map), METHOD_ipf.png, METHOD_score.png (and refined.* with
    --refine) and summary.json to --out.
    """
    # lazy: see synthebsd.cli
    from synthebsd.workflows import index_map

    with exit_on_user_error():
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
            nlpar_search_radius=nlpar,
            refine_pc=refine_pc,
        )
    typer.echo(
        f"{summary['n_patterns']} patterns, {summary['final']}: "
        f"{100 * summary['fraction_indexed']:.1f} % indexed, mean {summary['score']} "
        f"{summary['mean_score']}, {summary['patterns_per_second']:.1f} patterns/s ({method})"
    )
    typer.echo(f"Outputs written to {out.resolve()}")


def predict(
    checkpoint: Path = typer.Argument(
        ..., help="orientation checkpoint (.safetensors), or 'shipped' for the default one"
    ),
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
    nlpar: int | None = typer.Option(
        None,
        "--nlpar",
        help="the network reads each pattern averaged with its similar neighbours within "
        "this many map points (NLPAR, PyEBSDIndex; 2-D maps), as for low-dose maps",
    ),
    refine: bool = typer.Option(
        False,
        "--refine",
        help="also refine the network's orientations (NCC, no dictionary): neural_refined.*",
    ),
    energy: float = typer.Option(20.0, "--energy", help="beam energy in kV (--refine)"),
    engine: str = typer.Option(
        "dynamical", "--engine", help="master patterns of --refine: dynamical or kinematical"
    ),
    half_size: int | None = typer.Option(
        None, "--half-size", help="master-pattern Lambert half width (default: the phase's)"
    ),
    refine_pc: str = typer.Option(
        "none", "--refine-pc", help="with --refine also fit the PC: none, map or pattern"
    ),
    flip: bool | None = typer.Option(
        None,
        "--flip/--no-flip",
        help="average each pattern with its left-right mirror (exact for PCx = 0.5); "
        "default: as the checkpoint was calibrated",
    ),
    cache_dir: Path | None = CACHE_DIR,
) -> None:
    """Predict orientations, classes and uncertainties of a map with a trained model.

    Writes neural.h5 (orix map), neural_ipf.png, neural_uncertainty.png,
    neural_classes.png (and neural_refined.* with --refine) and summary.json to --out;
    warns when the map's projection centre or dose is outside the range the model was
    trained on.
    """
    # lazy: see synthebsd.cli
    import warnings

    from synthebsd.workflows import predict_map

    with exit_on_user_error():
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
                nlpar_search_radius=nlpar,
                refine=refine,
                energy_kv=energy,
                engine=engine,
                half_size_px=half_size,
                cache_dir=cache_dir,
                refine_pc=refine_pc,
                flip=flip,
            )
    for message in summary["warnings"]:
        typer.echo(f"warning: {message}", err=True)
    typer.echo(
        f"{summary['n_patterns']} patterns: {100 * summary['fraction_indexed']:.1f} % indexed "
        f"(predicted error <= {summary['max_uncertainty_deg']:g} deg), "
        f"{summary['patterns_per_second']:.0f} patterns/s"
    )
    if summary["refined"] is not None:
        r = summary["refined"]
        typer.echo(
            f"+ refinement: {100 * r['fraction_indexed']:.1f} % indexed (NCC >= "
            f"{r['min_ncc']:g}), {r['patterns_per_second']:.0f} patterns/s in all"
        )
    typer.echo(f"Outputs written to {out.resolve()}")
