"""Commands of the neural side: training and held-out evaluation.

Each command imports what it needs when it runs (``# lazy``): see :mod:`synthebsd.cli`.
"""

from __future__ import annotations

from pathlib import Path

import typer

from synthebsd.cli._errors import exit_on_user_error
from synthebsd.cli._options import CACHE_DIR

__all__ = ["calibrate", "evaluate", "train"]


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
    init_from: Path | None = typer.Option(
        None, "--init-from", help="start from this checkpoint's weights (override train.init_from)"
    ),
    store: Path | None = typer.Option(
        None, "--store", help="train on this stored set (override data: a store's path)"
    ),
    detector_from: Path | None = typer.Option(
        None,
        "--detector-from",
        help="measured patterns (any file kikuchipy.load opens) whose detector and beam "
        "energy the streamed data takes",
    ),
    cache_dir: Path | None = CACHE_DIR,
) -> None:
    """Train a registered model on an on-the-fly stream or a stored set.

    With --detector-from the training and held-out streams take the file's pattern shape,
    projection centre, tilts and beam energy, so that the model fits that map.

    Shows loss, patterns/s and ETA; writes model.safetensors, last.safetensors +
    last_state.pt (run the same command again to resume), history.json, metrics.json,
    learning_curves.png, config.yaml and summary.json to --out. Under torchrun it trains
    with DDP.
    """
    # lazy: see synthebsd.cli
    from synthebsd.config import TrainDataConfig, load_train_run_config
    from synthebsd.workflows import train_run, with_measured_detector

    with exit_on_user_error():
        cfg = load_train_run_config(config)
        if store is not None:  # the run's data read from this store, mixed as configured
            data = cfg.data.model_dump(exclude={"stream"}) | {"store": store}
            cfg = cfg.model_copy(update={"data": TrainDataConfig.model_validate(data)})
        if detector_from is not None:
            cfg, info = with_measured_detector(cfg, detector_from)
            typer.echo(
                f"Detector from {detector_from}: {info['shape_px'][0]} x {info['shape_px'][1]} "
                f"px, PC (Bruker) {tuple(round(v, 4) for v in info['pc'])}, sample tilt "
                f"{info['sample_tilt_deg']:.1f} deg, {info['energy_kv']:.1f} kV"
            )
        changes = {
            k: v
            for k, v in (("steps", steps), ("device", device), ("init_from", init_from))
            if v is not None
        }
        if changes:
            cfg = cfg.model_copy(
                update={"train": cfg.train.model_validate(cfg.train.model_dump() | changes)}
            )
        summary = train_run(
            cfg, out, resume=resume, stop_after_steps=stop_after, cache_dir=cache_dir
        )
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


def calibrate(
    checkpoint: str = typer.Argument(
        ..., help="orientation checkpoint (.safetensors) or 'shipped'"
    ),
    config: Path = typer.Argument(
        ..., help="training run YAML whose 'validation' data are the held-out patterns"
    ),
    out: Path = typer.Option(..., "--out", help="output folder"),
    device: str = typer.Option("cpu", "--device", help="cpu or cuda"),
    cache_dir: Path | None = CACHE_DIR,
    pc_correction: bool = typer.Option(
        False,
        "--pc-correction/--no-pc-correction",
        help="first fit the rotation a projection-centre offset makes the network read "
        "(for maps far from the training PC whose PC is known well)",
    ),
    flip: bool = typer.Option(
        False,
        "--flip/--no-flip",
        help="calibrate predictions averaged with each pattern's left-right mirror, and "
        "mark the checkpoint to predict so (needs a training PCx of 0.5)",
    ),
    rotations: str | None = typer.Option(
        None,
        "--rotations",
        help="with --flip, also average the flip pairs of each pattern turned in its plane "
        "about the PC by these angles, e.g. '5,-5,10,-10' (two network passes each)",
    ),
) -> None:
    """Calibrate a checkpoint's predicted error on held-out patterns (isotonic fit).

    Writes --out/model.safetensors (the same weights, the calibration in its metadata,
    applied by predict, evaluate and the study; with --pc-correction also the PC
    correction), calibration_raw.png, calibration.png and summary.json (held-out metrics
    before and after, in-sample).
    """
    # lazy: see synthebsd.cli
    from synthebsd.config import load_train_run_config
    from synthebsd.workflows import calibrate_run

    with exit_on_user_error():
        cfg = load_train_run_config(config)
        try:
            turns = tuple(float(v) for v in rotations.split(",")) if rotations else ()
        except ValueError:
            raise ValueError(
                f"--rotations takes angles in degrees, e.g. '5,-5', got {rotations!r}"
            ) from None
        summary = calibrate_run(
            checkpoint, cfg, out, device=device, cache_dir=cache_dir,
            pc_correction=pc_correction, flip=flip, rotations_deg=turns,
        )  # fmt: skip

    def rounded(value):
        return None if value is None else round(value, 3)

    fit = summary["pc_correction"]
    if fit is None and pc_correction:
        typer.echo(f"No PC correction: {summary['pc_correction_skipped']}")
    elif fit is not None:
        typer.echo(
            f"PC correction on {fit['n_points']} points: median error "
            f"{fit['median_error_deg']:.3f} -> {fit['median_error_deg_corrected']:.3f} deg"
        )
    for name, m in summary["metrics_in_sample"].items():
        typer.echo(
            f"{name}: predicted < 2 deg within 2 deg "
            f"{rounded(m['fraction_within_2deg_of_predicted_below_2deg'])}, mean predicted "
            f"{rounded(m['mean_predicted_error_deg'])} deg against "
            f"{rounded(m['mean_error_deg'])} observed, not indexed "
            f"{rounded(m['fraction_not_indexed'])}"
        )
    typer.echo(f"Outputs written to {out.resolve()}")


def evaluate(
    checkpoint: str = typer.Argument(
        ..., help="orientation checkpoint (.safetensors) or 'shipped'"
    ),
    out: Path = typer.Option(..., "--out", help="output folder"),
    config: Path | None = typer.Option(
        None, "--config", help="YAML evaluate config (held-out cases); default: the built-in"
    ),
    cache_dir: Path | None = CACHE_DIR,
) -> None:
    """Score a checkpoint on held-out scenes beside Hough and dictionary + refinement.

    One study per case (other seeds, grain and pore sizes, another preset's geometry,
    several doses, beam damage, and physics the default training never had: optics,
    camera, specimen) in --out/CASE/, then summary.json (one table: every case and method,
    pooled rows, the goals reached, the unseen physics beside its twins), evaluation.png
    and calibration.png.
    """
    # lazy: see synthebsd.cli
    from synthebsd.config import load_evaluate_config
    from synthebsd.workflows import evaluate_checkpoint, format_evaluation

    with exit_on_user_error():
        cfg = load_evaluate_config(config) if config is not None else None
        summary = evaluate_checkpoint(checkpoint, out, cfg, cache_dir)
    typer.echo("")
    typer.echo(format_evaluation(summary))
    typer.echo(f"\nOutputs written to {out.resolve()}")
