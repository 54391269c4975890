"""``synthebsd train CONFIG --out DIR``: a registered model trained on streamed or stored data.

:func:`train_run` builds the training data of a :class:`~synthebsd.config.TrainRunConfig`
(an on-the-fly :class:`~synthebsd.datasets.SyntheticPatternDataset` read through a seeded
shuffle buffer, or a :class:`~synthebsd.datasets.StoredPatternDataset`), the optional
held-out data, and runs :func:`synthebsd.models.train` into ``out_dir``, which then holds

- ``model.safetensors`` (the checkpoint, when all steps are done), ``last.safetensors``
  and ``last_state.pt`` (to resume: run the same command again);
- ``history.json`` (learning curves), ``metrics.json`` (held-out metrics),
  ``learning_curves.png``;
- ``config.yaml`` (the run's configuration) and ``summary.json`` (steps, wall time,
  patterns per second, the machine's load, the held-out metrics).
"""

from __future__ import annotations

import itertools
import os
import time
from pathlib import Path
from typing import Any

import numpy as np
import yaml

from synthebsd.config import TrainConfig, TrainDataConfig, TrainRunConfig
from synthebsd.io import atomic_path, save_json

__all__ = ["build_training_data", "train_run", "with_measured_detector"]

#: Seed stream of the shuffle buffer, ``(seed, SHUFFLE_BUFFER_STREAM, epoch)``.
SHUFFLE_BUFFER_STREAM = 171


def _shuffled(dataset, size: int, seed: int):
    """A torch ``IterableDataset``: ``dataset``'s items through a seeded shuffle buffer."""
    from torch.utils.data import IterableDataset  # lazy: torch takes seconds to import

    class ShuffleBuffer(IterableDataset):
        def __init__(self) -> None:
            super().__init__()
            self.dataset, self.size, self.seed, self.epoch = dataset, size, seed, 0
            self.phase_names = dataset.phase_names
            self.detector = dataset.detector
            self.forward_model_key = getattr(dataset, "forward_model_key", None)

        def set_epoch(self, epoch: int) -> None:
            self.epoch = int(epoch)
            self.dataset.set_epoch(epoch)

        def __len__(self) -> int:
            return len(self.dataset)

        def __iter__(self):
            rng = np.random.default_rng([self.seed, SHUFFLE_BUFFER_STREAM, self.epoch])
            buffer: list = []
            for item in self.dataset:
                if len(buffer) < self.size:
                    buffer.append(item)
                    continue
                j = int(rng.integers(self.size))
                yield buffer[j]
                buffer[j] = item
            for j in rng.permutation(len(buffer)):
                yield buffer[j]

    return ShuffleBuffer()


def _limited(dataset, n: int):
    """The first ``n`` items of an iterable data set (held-out sets)."""
    from torch.utils.data import IterableDataset  # lazy: torch takes seconds to import

    class Limited(IterableDataset):
        def __iter__(self):
            return itertools.islice(iter(dataset), n)

    return Limited()


def build_training_data(part: TrainDataConfig, cache_dir: str | Path | None = None):
    """The torch data set of one data source (training: shuffled; with ``max_patterns``: cut).

    Returns
    -------
    dataset
        A torch ``Dataset`` or ``IterableDataset`` with ``phase_names``, ``detector`` and
        ``forward_model_key`` attributes.
    """
    from torch.utils.data import Subset  # lazy: torch takes seconds to import

    from synthebsd import datasets  # lazy: imports the pattern stack

    if part.stream is not None:
        ds = datasets.SyntheticPatternDataset(
            part.stream, part.seed, part.device, part.augment, cache_dir
        )
        ds.forward_model_key = datasets.dataset_master_pattern_keys(part.stream)
        if part.max_patterns is not None:
            limited = _limited(ds, part.max_patterns)
            limited.phase_names, limited.detector = ds.phase_names, ds.detector
            limited.forward_model_key = ds.forward_model_key
            return limited
        return _shuffled(ds, part.shuffle_buffer, part.seed)
    window = part.shuffle_buffer if part.max_patterns is None else None
    ds = datasets.StoredPatternDataset(part.store, part.augment, shuffle_window=window)
    key = datasets.dataset_master_pattern_keys(ds.config)
    if part.max_patterns is not None and part.max_patterns < len(ds):
        index = np.linspace(0, len(ds) - 1, part.max_patterns).astype(int).tolist()
        sub = Subset(ds, index)
        sub.phase_names, sub.detector = ds.phase_names, ds.detector
        ds = sub
    ds.forward_model_key = key
    return ds


def with_measured_detector(
    config: TrainRunConfig, patterns_path: str | Path
) -> tuple[TrainRunConfig, dict[str, Any]]:
    """The run with the detector of a measured pattern file, to train a model for that map.

    The file's detector (any file :func:`kikuchipy.load` opens: shape, mean projection
    centre in the Bruker convention, sample and camera tilts) and beam energy replace
    those of the streamed training and held-out data. The screen pixel size stays the
    configuration's: files rarely carry it (kikuchipy assumes 1 µm), and it only sets how
    far the PC moves across a map.

    Parameters
    ----------
    config
        A run on streamed data (``data.stream``).
    patterns_path
        The measured patterns.

    Returns
    -------
    config, info
        The changed run, and what was taken from the file (JSON-ready).

    Raises
    ------
    ValueError
        If the run trains on a store (its patterns were rendered with its own detector),
        the file cannot be read, or its detector does not fit synthebsd's detector model.
    """
    from synthebsd.io import load_patterns  # lazy: kikuchipy
    from synthebsd.simulate import detector_config  # lazy: the pattern stack
    from synthebsd.workflows._index_map import detector_for_signal

    if config.data.stream is None:
        raise ValueError(
            "A measured detector applies to streamed training data (data.stream); a store's "
            "patterns were rendered with the detector it was generated with"
        )
    signal = load_patterns(patterns_path, lazy=True)
    detector, info = detector_for_signal(signal)
    beam = signal.metadata.get_item("Acquisition_instrument.SEM.beam_energy")
    stream = config.data.stream
    energy = stream.detector.energy_kv if beam is None else float(beam)
    measured = detector_config(detector, energy_kv=energy, px_size_um=stream.detector.px_size_um)
    info |= {"file": str(patterns_path), "energy_kv": energy,
             "energy_source": "configuration" if beam is None else "file"}  # fmt: skip

    def _part(part: TrainDataConfig | None) -> TrainDataConfig | None:
        if part is None or part.stream is None:
            return part
        return part.model_copy(
            update={"stream": part.stream.model_copy(update={"detector": measured})}
        )

    changed = config.model_copy(
        update={"data": _part(config.data), "validation": _part(config.validation)}
    )
    # re-validate: the data-set configs check their detector against everything else
    return TrainRunConfig.model_validate(changed.model_dump()), info


def _with_input_shape(train: TrainConfig, shape: tuple[int, int]) -> TrainConfig:
    if "input_shape_px" in train.model_kwargs:
        given = tuple(train.model_kwargs["input_shape_px"])
        if given != tuple(shape):
            raise ValueError(
                f"train.model_kwargs.input_shape_px is {given} but the data's patterns are "
                f"{tuple(shape)} px"
            )
        return train
    kwargs = {**train.model_kwargs, "input_shape_px": [int(n) for n in shape]}
    return train.model_copy(update={"model_kwargs": kwargs})


def train_run(
    config: TrainRunConfig,
    out_dir: str | Path,
    *,
    resume: bool = True,
    stop_after_steps: int | None = None,
    progress: bool = True,
    cache_dir: str | Path | None = None,
) -> dict[str, Any]:
    """Train the run's model and write checkpoints, curves, metrics and a summary.

    Parameters
    ----------
    config
        Data source(s) and training settings.
    out_dir
        Output folder; a run already there (``last_state.pt``) is continued when
        ``resume`` and its settings agree.
    resume
        Continue an interrupted run in ``out_dir``.
    stop_after_steps
        Stop once this many steps are done (with a checkpoint to resume from).
    progress
        Show the progress bar (loss, patterns/s, ETA).
    cache_dir
        Master-pattern cache; default ``$SYNTHEBSD_CACHE`` or ``~/.cache/synthebsd``.

    Returns
    -------
    summary
        What ``summary.json`` holds (steps done, complete, wall time, patterns per
        second, load average, held-out metrics, the paths written).
    """
    from synthebsd import models  # lazy: torch

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    data = build_training_data(config.data, cache_dir)
    val = (
        build_training_data(config.validation, cache_dir)
        if config.validation is not None
        else None
    )
    train_config = _with_input_shape(config.train, tuple(data.detector.shape))
    run = config.model_copy(update={"train": train_config})
    with atomic_path(out / "config.yaml") as tmp:
        tmp.write_text(yaml.safe_dump(run.model_dump(mode="json"), sort_keys=False))
    t0 = time.perf_counter()
    load_before = os.getloadavg()
    result = models.train(
        train_config,
        data,
        out,
        val_dataset=val,
        resume=resume,
        stop_after_steps=stop_after_steps,
        progress=progress,
    )
    seconds = time.perf_counter() - t0
    rates = [h["patterns_per_second"] for h in result["history"] if h.get("patterns_per_second")]
    summary = {
        "model": train_config.model,
        "steps_done": result["step"],
        "steps": train_config.steps,
        "complete": result["step"] >= train_config.steps,
        "seconds_this_call": seconds,
        "median_patterns_per_second": float(np.median(rates)) if rates else None,
        "load_average_before": list(load_before),
        "load_average_after": list(os.getloadavg()),
        "cpu_count": os.cpu_count(),
        "validation": result["metrics"],
        "checkpoint": str(result["checkpoint"]) if "checkpoint" in result else None,
        "last": str(result["last"]),
    }
    save_json(summary, out / "summary.json")
    return summary
