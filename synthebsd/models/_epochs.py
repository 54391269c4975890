"""The order of the training data, epoch by epoch: seeded, split across DDP ranks, resumable.

A map-style dataset is read in a permutation drawn from ``(seed, SHUFFLE_STREAM,
epoch)``; a dataset with ``chunk_ranges`` and a ``shuffle_window`` (a store) is permuted
chunk-wise, so that each stored chunk is decoded once per epoch. An iterable dataset is
read in its own order. A resumed epoch skips the batches already seen.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
from torch.utils.data import DataLoader, IterableDataset, Sampler

from synthebsd.config import TrainConfig

__all__ = ["SHUFFLE_STREAM", "epoch_batches"]

#: Seed stream of the training-data order, ``(seed, SHUFFLE_STREAM, epoch)``.
SHUFFLE_STREAM = 17


def _chunkwise_permutation(
    rng: np.random.Generator, chunk_ranges: list[tuple[int, int]], window: int
) -> np.ndarray:
    """The chunks in random order, then the items of every ``window`` items' worth of
    chunks shuffled together: each chunk is decoded once, batches still mix many chunks."""
    order = rng.permutation(len(chunk_ranges))
    out, group, size = [], [], 0
    for k in order:
        start, stop = chunk_ranges[k]
        group.append(np.arange(start, stop))
        size += stop - start
        if size >= window:
            out.append(rng.permutation(np.concatenate(group)))
            group, size = [], 0
    if group:
        out.append(rng.permutation(np.concatenate(group)))
    return np.concatenate(out) if out else np.zeros(0, dtype=np.int64)


class _EpochSampler(Sampler[int]):
    """The indices of one epoch for one rank, from a seeded permutation, after a skip.

    With ``chunk_ranges`` and ``window`` the permutation is chunk-wise
    (:func:`_chunkwise_permutation`); the ranges must cover ``range(n)``.
    """

    def __init__(
        self,
        n: int,
        seed: int,
        epoch: int,
        skip: int,
        rank: int,
        world: int,
        chunk_ranges: list[tuple[int, int]] | None = None,
        window: int | None = None,
    ):
        rng = np.random.default_rng([seed, SHUFFLE_STREAM, epoch])
        if chunk_ranges is not None and window is not None:
            perm = _chunkwise_permutation(rng, chunk_ranges, window)
            if len(perm) != n:
                raise ValueError(f"chunk_ranges cover {len(perm)} items, the dataset has {n}")
        else:
            perm = rng.permutation(n)
        per_rank = n // world
        self.indices = perm[: per_rank * world][rank::world][skip:].tolist()

    def __iter__(self) -> Iterator[int]:
        return iter(self.indices)

    def __len__(self) -> int:
        return len(self.indices)


def epoch_batches(dataset, config: TrainConfig, epoch: int, skip: int, rank: int, world: int):
    """Batches of one epoch from batch ``skip`` on (map-style: seeded order; drop_last)."""
    common = {"batch_size": config.batch_size, "num_workers": config.num_workers}
    if isinstance(dataset, IterableDataset):
        if hasattr(dataset, "set_epoch"):
            dataset.set_epoch(epoch)
        loader = DataLoader(dataset, drop_last=True, **common)
        return _skip(iter(loader), skip)
    window = getattr(dataset, "shuffle_window", None)
    sampler = _EpochSampler(
        len(dataset),
        config.seed,
        epoch,
        skip * config.batch_size,
        rank,
        world,
        getattr(dataset, "chunk_ranges", None) if window is not None else None,
        window,
    )
    return iter(DataLoader(dataset, sampler=sampler, drop_last=True, **common))


def _skip(it: Iterator, n: int) -> Iterator:
    for _ in range(n):
        next(it, None)
    return it
