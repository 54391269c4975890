"""The training loop: seeded, resumable to the same state, CPU or GPU, DDP under torchrun.

:func:`train` builds the registered model from a :class:`~synthebsd.config.TrainConfig`,
trains it on any torch ``Dataset`` or ``IterableDataset`` that yields the dataset
contract's items (one pattern per item for orientation models, one scene per item for
segmentation models) and writes into ``out_dir``:

- ``last.safetensors`` + ``last_state.pt``: the latest checkpoint and everything needed
  to continue from it (optimiser, schedule, random states, data position, history);
- ``model.safetensors``: the final checkpoint (:func:`~synthebsd.models.load_checkpoint`);
- ``history.json`` (learning curves), ``metrics.json`` (validation metrics),
  ``learning_curves.png``.

Determinism: weights are initialised from ``seed``; a map-style dataset is read in a
permutation drawn from ``(seed, SHUFFLE_STREAM, epoch)``, split across DDP ranks (a
dataset with ``chunk_ranges`` and a ``shuffle_window``, such as a store, is permuted
chunk-wise: the chunks in random order, the items of each window of chunks mixed); an
iterable dataset is read in its own (deterministic) order. A run resumed from
``last_state.pt`` skips the batches already seen in the current epoch and ends with the
same weights, bit for bit, as an uninterrupted run on the same machine and thread count.
"""

from __future__ import annotations

import math
import os
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch.utils.data import DataLoader

from synthebsd.config import TrainConfig
from synthebsd.io import atomic_path, save_json
from synthebsd.models._checkpoint import detector_metadata, save_checkpoint
from synthebsd.models._epochs import SHUFFLE_STREAM, epoch_batches
from synthebsd.models._registry import create_model
from synthebsd.models._rotation import symmetry_table
from synthebsd.models._tasks import (
    evaluate_orientation,
    evaluate_segmentation,
    orientation_losses,
    pattern_coverage,
    segmentation_losses,
)
from synthebsd.phases import get_phase
from synthebsd.viz import plot_learning_curves

__all__ = ["CLASS_NAMES", "SHUFFLE_STREAM", "resolve_device", "train"]

_STATE_FORMAT = "synthebsd-train-state/1"
#: Names of the class codes: the Region codes, then grain boundaries (segmentation only).
CLASS_NAMES = ["collector", "metal", "pore", "electrolyte", "grain_boundary"]
_RESUME_KEYS = (
    "model", "model_kwargs", "seed", "batch_size", "learning_rate", "friedel", "init_from"
)  # fmt: skip


def resolve_device(device: str | torch.device) -> torch.device:
    """``"auto"`` → the local CUDA device when there is one, else the CPU."""
    if str(device) == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda", int(os.environ.get("LOCAL_RANK", 0)))
        return torch.device("cpu")
    device = torch.device(device)
    if device.type == "cuda" and not torch.cuda.is_available():
        raise ValueError("device 'cuda' requested but torch sees no CUDA device")
    return device


def _distributed() -> tuple[int, int]:
    """(rank, world size); starts the process group under torchrun (WORLD_SIZE > 1)."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world <= 1:
        return 0, 1
    import torch.distributed as dist  # lazy: only under torchrun

    if not dist.is_initialized():
        dist.init_process_group("nccl" if torch.cuda.is_available() else "gloo")
    return dist.get_rank(), dist.get_world_size()


def _barrier(world: int) -> None:
    if world > 1:
        import torch.distributed as dist  # lazy: only under torchrun

        dist.barrier()


def _lr_factor(step: int, config: TrainConfig) -> float:
    """Linear warm-up to 1, then a cosine decay to ``final_lr_fraction``."""
    if step < config.warmup_steps:
        return (step + 1) / config.warmup_steps
    span = max(1, config.steps - config.warmup_steps)
    t = min(1.0, (step - config.warmup_steps) / span)
    low = config.final_lr_fraction
    return low + (1 - low) * 0.5 * (1 + math.cos(math.pi * t))


def _phase_names(dataset, phase_names: dict[int, str] | None) -> dict[int, str]:
    names = phase_names if phase_names is not None else getattr(dataset, "phase_names", None)
    if not names:
        raise ValueError("Training needs the phase names: pass phase_names or a dataset with them")
    names = {int(k): str(v) for k, v in names.items() if int(k) >= 0}
    for v in names.values():
        get_phase(v)  # an unknown phase fails here, with the list of known ones
    return names


# Training-state coverage keys -> the checkpoint's, which name their units.
_COVERAGE_KEYS = {
    "pc_min": "pc_bruker_min",
    "pc_max": "pc_bruker_max",
    "dose_min": "dose_counts_min",
    "dose_max": "dose_counts_max",
}


def _new_state(config: TrainConfig) -> dict[str, Any]:
    return {
        "format": _STATE_FORMAT,
        "step": 0,
        "epoch": 0,
        "epoch_batches": 0,
        "history": [],
        "coverage": dict.fromkeys(_COVERAGE_KEYS),
        "config": config.model_dump(mode="json"),
    }


class _Coverage:
    """Running range of the training patterns' dose estimates and PCs, on the device."""

    def __init__(self, saved: dict, device: torch.device):
        def t(v):
            return None if v is None else torch.tensor(v, dtype=torch.float64, device=device)

        self.lo = {"dose": t(saved["dose_min"]), "pc": t(saved["pc_min"])}
        self.hi = {"dose": t(saved["dose_max"]), "pc": t(saved["pc_max"])}

    def update(self, dose: torch.Tensor, pc: torch.Tensor | None) -> None:
        for key, values in (("dose", dose.reshape(-1, 1)), ("pc", pc)):
            if values is None or values.numel() == 0:
                continue
            values = values.double()
            lo, hi = values.amin(dim=0), values.amax(dim=0)
            if key == "dose":
                lo, hi = lo[0], hi[0]
            old_lo, old_hi = self.lo[key], self.hi[key]
            self.lo[key] = lo if old_lo is None else torch.minimum(old_lo, lo)
            self.hi[key] = hi if old_hi is None else torch.maximum(old_hi, hi)

    def as_dict(self) -> dict:
        def v(t):
            return None if t is None else t.cpu().tolist()

        return {
            "dose_min": v(self.lo["dose"]),
            "dose_max": v(self.hi["dose"]),
            "pc_min": v(self.lo["pc"]),
            "pc_max": v(self.hi["pc"]),
        }


def _resume_state(out: Path, config: TrainConfig, model, optimiser, scheduler) -> dict | None:
    """Load ``last_state.pt`` and ``last.safetensors`` into the objects; None if absent."""
    from safetensors.torch import load_file  # lazy: safetensors imports torch

    state_path, weights_path = out / "last_state.pt", out / "last.safetensors"
    if not state_path.is_file() or not weights_path.is_file():
        return None
    state = torch.load(state_path, weights_only=True)
    if state.get("format") != _STATE_FORMAT:
        raise ValueError(f"{state_path} is not a synthebsd training state")
    before = {k: state["config"].get(k) for k in _RESUME_KEYS}
    now = {k: config.model_dump(mode="json").get(k) for k in _RESUME_KEYS}
    if before != now:
        changed = [k for k in _RESUME_KEYS if before[k] != now[k]]
        raise ValueError(
            f"{out} holds a run with other settings ({', '.join(changed)}); use another "
            "folder or resume=False"
        )
    model.load_state_dict(load_file(str(weights_path)))
    if state["step"] != state["weights_step"]:
        raise ValueError(f"{state_path} and {weights_path} are from different steps")
    optimiser.load_state_dict(state.pop("optimiser"))
    scheduler.load_state_dict(state.pop("scheduler"))
    torch.set_rng_state(state.pop("torch_rng"))
    if torch.cuda.is_available() and "cuda_rng" in state:
        torch.cuda.set_rng_state_all(state.pop("cuda_rng"))
    return state


def _metadata(state: dict, phase_names, detector, config, forward_model_key, model) -> dict:
    return {
        "phases": {str(k): v for k, v in sorted(phase_names.items())},
        "symmetry": {
            "friedel": config.friedel,
            "point_groups": {
                str(k): get_phase(v).point_group.name for k, v in phase_names.items()
            },
        },
        "classes": CLASS_NAMES[: model.config.n_classes],
        "detector": detector_metadata(detector) if detector is not None else None,
        "forward_model_key": forward_model_key,
        "coverage": {saved: state["coverage"][key] for key, saved in _COVERAGE_KEYS.items()},
        "max_uncertainty_deg": config.max_uncertainty_deg,
        "training": {
            "step": state["step"],
            "config": config.model_dump(mode="json"),
            "initialised_from": state.get("initialised_from"),
        },
    }


def _initialise_from(path: Path, model, config: TrainConfig, state: dict) -> None:
    """Load an earlier stage's weights into ``model``; its coverage carries over.

    Raises
    ------
    CheckpointError
        If the checkpoint is unreadable or holds another model or model configuration.
    """
    from synthebsd.models._checkpoint import CheckpointError, load_checkpoint

    ck = load_checkpoint(path)
    if type(ck.model) is not type(model) or ck.model.config != model.config:
        raise CheckpointError(
            f"init_from {path} holds {ck.metadata['model']['name']} with another configuration "
            f"than the {config.model} trained here: an earlier stage must train the same network"
        )
    model.load_state_dict(ck.model.state_dict())
    cov = ck.metadata.get("coverage") or {}
    state["coverage"] = {key: cov.get(saved) for key, saved in _COVERAGE_KEYS.items()}
    state["initialised_from"] = {
        "path": str(path),
        "weights_sha256": ck.metadata.get("weights_sha256"),
        "step": (ck.metadata.get("training") or {}).get("step"),
    }


def train(
    config: TrainConfig,
    dataset,
    out_dir: str | Path,
    *,
    phase_names: dict[int, str] | None = None,
    detector=None,
    val_dataset=None,
    forward_model_key: str | None = None,
    resume: bool = True,
    stop_after_steps: int | None = None,
    progress: bool = True,
) -> dict[str, Any]:
    """Train a registered model; write checkpoints, learning curves and metrics.

    Parameters
    ----------
    config
        Model name and overrides, seed, steps, batch size, optimiser and loss settings.
    dataset
        A torch ``Dataset`` or ``IterableDataset`` of the dataset contract's items, with
        ``phase_names`` and ``detector`` attributes (or pass them).
    out_dir
        Output folder (created); an existing run there is continued when ``resume``.
    phase_names
        Phase id → name; default ``dataset.phase_names``.
    detector
        The training detector (kikuchipy ``EBSDDetector``); default ``dataset.detector``.
    val_dataset
        Held-out items scored at ``validate_every_steps`` and at the end.
    forward_model_key
        Key of the pattern model that made the data; default
        ``dataset.forward_model_key`` if it has one.
    resume
        Continue from ``out_dir/last_state.pt`` if present (the settings that define the
        run must be the same; ``steps`` may grow).
    stop_after_steps
        Stop (with a checkpoint) once this many steps are done, as an interruption would.
    progress
        Show a tqdm bar (loss, patterns/s, ETA) on rank 0.

    Returns
    -------
    result
        ``step``, ``history`` (log entries), ``metrics`` (validation, or None), the
        trained ``model`` (unwrapped from DDP) and the paths of ``checkpoint`` (when all
        steps are done) and ``last``.
    """
    from tqdm.auto import tqdm  # lazy: tqdm picks its front end at import

    rank, world = _distributed()
    device = resolve_device(config.device)
    if config.num_threads is not None and device.type == "cpu":
        torch.set_num_threads(config.num_threads)
    phase_names = _phase_names(dataset, phase_names)
    detector = detector if detector is not None else getattr(dataset, "detector", None)
    if forward_model_key is None:
        forward_model_key = getattr(dataset, "forward_model_key", None)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)

    torch.manual_seed(config.seed)
    model = create_model(config.model, **config.model_kwargs).to(device)
    task = model.task
    optimiser = torch.optim.AdamW(
        model.parameters(), lr=config.learning_rate, weight_decay=config.weight_decay
    )
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimiser, lambda s: _lr_factor(s, config))
    state = _resume_state(out, config, model, optimiser, scheduler) if resume else None
    if state is None:
        state = _new_state(config)
        if config.init_from is not None:
            _initialise_from(config.init_from, model, config, state)
    state["config"] = config.model_dump(mode="json")
    coverage = _Coverage(state["coverage"], device)
    operators = torch.as_tensor(symmetry_table(phase_names, config.friedel), dtype=torch.float32)
    operators = operators.to(device)
    net = model
    if world > 1:
        from torch.nn.parallel import DistributedDataParallel  # lazy: only under torchrun

        net = DistributedDataParallel(
            model, device_ids=[device.index] if device.type == "cuda" else None
        )

    def save(final: bool) -> Path:
        state["coverage"] = coverage.as_dict()
        meta = _metadata(state, phase_names, detector, config, forward_model_key, model)
        if rank != 0:
            return out / "model.safetensors"
        if final:
            return save_checkpoint(out / "model.safetensors", model, meta)
        save_checkpoint(out / "last.safetensors", model, meta)
        snapshot = {
            **state,
            "weights_step": state["step"],
            "optimiser": optimiser.state_dict(),
            "scheduler": scheduler.state_dict(),
            "torch_rng": torch.get_rng_state(),
        }
        if torch.cuda.is_available():
            snapshot["cuda_rng"] = torch.cuda.get_rng_state_all()
        with atomic_path(out / "last_state.pt") as tmp:
            torch.save(snapshot, tmp)
        save_json(state["history"], out / "history.json")
        return out / "last.safetensors"

    def validate() -> dict | None:
        if val_dataset is None:
            return None
        loader = DataLoader(
            val_dataset, batch_size=config.batch_size, num_workers=config.num_workers
        )
        if task == "orientation":
            return evaluate_orientation(net, loader, operators, device, config.max_uncertainty_deg)
        return evaluate_segmentation(net, loader, device)

    stop = min(config.steps, stop_after_steps) if stop_after_steps is not None else config.steps
    bar = tqdm(
        total=config.steps,
        initial=state["step"],
        disable=not progress or rank != 0,
        desc=f"train {config.model}",
        unit="step",
    )
    net.train()
    t_last, seen_last = time.perf_counter(), 0
    metrics = None
    while state["step"] < stop:
        batches = epoch_batches(
            dataset, config, state["epoch"], state["epoch_batches"], rank, world
        )
        got_any = False
        for batch in batches:
            got_any = True
            batch = {k: v.to(device, non_blocking=True) for k, v in batch.items()}
            coverage.update(*pattern_coverage(batch, task))
            if task == "orientation":
                loss, parts = orientation_losses(net, batch, operators, config)
            else:
                loss, parts = segmentation_losses(net, batch, config)
            optimiser.zero_grad(set_to_none=True)
            loss.backward()
            if config.grad_clip_norm is not None:
                torch.nn.utils.clip_grad_norm_(model.parameters(), config.grad_clip_norm)
            optimiser.step()
            scheduler.step()
            state["step"] += 1
            state["epoch_batches"] += 1
            n = len(next(iter(batch.values()))) * world
            seen_last += (
                n if task == "orientation" else n * int(np.prod(batch["region"].shape[1:]))
            )
            step = state["step"]
            if step % config.log_every_steps == 0 or step == stop:
                if not torch.isfinite(loss):  # checked when logging: a check is a GPU sync
                    raise FloatingPointError(f"Loss is {float(loss)} at step {step}")
                dt = time.perf_counter() - t_last
                entry = {
                    "step": step,
                    "loss": float(loss.detach()),
                    **{k: float(v) for k, v in parts.items()},
                    "lr": float(scheduler.get_last_lr()[0]),
                    "patterns_per_second": seen_last / dt if dt > 0 else None,
                }
                state["history"].append(entry)
                bar.set_postfix(
                    loss=f"{entry['loss']:.4g}", pps=f"{entry['patterns_per_second'] or 0:.0f}"
                )
                t_last, seen_last = time.perf_counter(), 0
            if config.validate_every_steps and step % config.validate_every_steps == 0:
                metrics = validate()
                state["history"].append({"step": step, "validation": metrics})
            bar.update(1)
            if step % config.checkpoint_every_steps == 0 or step == stop:
                save(final=False)
                _barrier(world)
            if step >= stop:
                break
        else:
            if not got_any:
                raise ValueError(
                    f"The dataset yields no batch of {config.batch_size} items in epoch {state['epoch']}"
                )
            state["epoch"] += 1
            state["epoch_batches"] = 0
    bar.close()
    result = {"step": state["step"], "history": state["history"], "metrics": None, "model": model}
    result["last"] = out / "last.safetensors"
    if state["step"] >= config.steps:
        metrics = validate() if val_dataset is not None else metrics
        result["metrics"] = metrics
        result["checkpoint"] = save(final=True)
        if rank == 0:
            save_json(state["history"], out / "history.json")
            save_json({"step": state["step"], "validation": metrics}, out / "metrics.json")
            plot_learning_curves(state["history"], out / "learning_curves.png", config.model)
        _barrier(world)
    return result
