"""Torch data sets: rendered on the fly (patterns or whole scenes) or read from a store.

Items follow the interface agreed with :mod:`synthebsd.models`: one dict of tensors per
pattern (``pattern`` (1, rows, cols) float32 counts, ``quaternion``, ``quaternion_fz``,
``phase_id``, ``region``, ``pore``, ``grain_id``, ``dose_e_per_nm2``,
``damage_fraction``, ``mixing_self_weight``, ``pc``, ``scene``, ``row``, ``col``, and
``count_fraction``), or one dict per scene with the whole maps.

The on-the-fly data sets shard scenes over ``DataLoader`` workers and DDP ranks: shard
``g = rank × workers + worker`` of ``G = world size × workers`` renders the scenes
``k ≡ g (mod G)``, so no two shards yield the same sample and the union is the data set.
An item depends only on (configuration, seed, scene, point), so it is the same however
the data set is sharded.
"""

from __future__ import annotations

from collections import OrderedDict
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import zarr

# Not lazy: the data sets subclass torch's. ``synthebsd.datasets`` imports this module
# only when one of its names is first used, so importing the package stays fast.
from torch.utils.data import Dataset, IterableDataset

from synthebsd.config import AugmentConfig, DatasetConfig
from synthebsd.datasets._scenes import LABEL_DTYPES
from synthebsd.datasets._store import StoreError, read_manifest
from synthebsd.datasets._stream import (
    PatternStream,
    count_fractions,
    item_tensor,
    thin_patterns,
)
from synthebsd.simulate import make_detector

if TYPE_CHECKING:
    import torch
    from kikuchipy.detectors import EBSDDetector

__all__ = [
    "StoredPatternDataset",
    "SyntheticPatternDataset",
    "SyntheticSceneDataset",
    "shard_info",
]


def shard_info() -> tuple[int, int]:
    """(this shard, number of shards) over DataLoader workers × DDP ranks."""
    import torch.distributed as dist  # lazy: torch
    from torch.utils.data import get_worker_info  # lazy: torch

    rank, world = 0, 1
    if dist.is_available() and dist.is_initialized():
        rank, world = dist.get_rank(), dist.get_world_size()
    info = get_worker_info()
    worker, workers = (info.id, info.num_workers) if info is not None else (0, 1)
    return rank * workers + worker, world * workers


def _items(chunk_patterns: torch.Tensor, labels: dict[str, torch.Tensor]):
    for j in range(chunk_patterns.shape[0]):
        item = {"pattern": chunk_patterns[j].unsqueeze(0)}
        item |= {name: values[j] for name, values in labels.items()}
        yield item


class _Synthetic(IterableDataset):
    def __init__(
        self,
        config: DatasetConfig,
        seed: int,
        device: str = "cpu",
        augment: AugmentConfig | None = None,
        cache_dir: str | Path | None = None,
        num_threads: int | None = None,
    ) -> None:
        super().__init__()
        self.config = config
        self.seed = int(seed)
        self.device = str(device)
        self.augment = augment
        self.cache_dir = cache_dir
        self.num_threads = num_threads
        self.epoch = 0

    def set_epoch(self, epoch: int) -> None:
        """Draw the augmentations of ``epoch`` (the data set itself does not change)."""
        self.epoch = int(epoch)

    def _stream(self) -> PatternStream:
        return PatternStream(
            self.config,
            self.seed,
            self.device,
            self.augment,
            self.epoch,
            self.cache_dir,
            self.num_threads,
        )

    def _my_scenes(self) -> range:
        shard, shards = shard_info()
        return range(shard, self.config.n_scenes, shards)

    @property
    def phase_names(self) -> dict[int, str]:
        """Phase id → phase name (metal 0, collector 1, electrolyte 2 when crystalline)."""
        return self.config.phase_names

    @property
    def detector_shape(self) -> tuple[int, int]:
        """Pattern (rows, cols)."""
        return tuple(self.config.detector.shape_px)

    @property
    def detector(self) -> EBSDDetector:
        """The nominal detector (kikuchipy, Bruker PC); scenes jitter its PC."""
        return make_detector(self.config.detector)


class SyntheticPatternDataset(_Synthetic):
    """Patterns of a data set rendered on the fly, one item per pattern.

    Parameters
    ----------
    config
        The data set (:class:`~synthebsd.config.DatasetConfig`).
    seed
        Its seed.
    device
        Where patterns are rendered, noised and returned.
    augment
        Optional physics-based augmentations (:class:`~synthebsd.config.AugmentConfig`),
        drawn per epoch (:meth:`set_epoch`).
    cache_dir
        Master-pattern cache folder; default ``$SYNTHEBSD_CACHE``.
    num_threads
        CPU threads per process rendering chunks (default torch's thread count: 1 in
        DataLoader workers).
    """

    def __len__(self) -> int:
        return self.config.n_scenes * int(np.prod(self.config.map_shape))

    def __iter__(self):
        stream = self._stream()
        for chunk in stream.chunks(self._my_scenes()):
            yield from _items(chunk.patterns, chunk.labels)


class SyntheticSceneDataset(_Synthetic):
    """Whole scenes of a data set rendered on the fly, one item per scene.

    Items: ``patterns`` (H, W, rows, cols) float32, maps ``region``, ``phase_id``,
    ``pore``, ``grain_id`` (H, W), ``quaternion`` and ``quaternion_fz`` (H, W, 4), ``pc``
    (H, W, 3), ``dose_e_per_nm2``, ``damage_fraction``, ``mixing_self_weight`` (H, W) and
    ``scene`` (). Parameters as :class:`SyntheticPatternDataset`.
    """

    def __len__(self) -> int:
        return self.config.n_scenes

    def __iter__(self):
        import torch  # lazy: torch takes seconds to import

        stream = self._stream()
        n_rows, n_cols = self.config.map_shape
        scene_chunks: list = []
        for chunk in stream.chunks(self._my_scenes()):
            scene_chunks.append(chunk)
            if chunk.row_stop < n_rows:
                continue
            patterns = torch.cat([c.patterns for c in scene_chunks])
            item = {"patterns": patterns.reshape(n_rows, n_cols, *patterns.shape[1:])}
            for name in LABEL_DTYPES:
                values = torch.cat([c.labels[name] for c in scene_chunks])
                item[name] = values.reshape(n_rows, n_cols, *values.shape[1:])
            item["scene"] = torch.tensor(chunk.scene, dtype=torch.int64, device=patterns.device)
            scene_chunks = []
            yield item


class StoredPatternDataset(Dataset):
    """Map-style data set over a store written by ``synthebsd generate``.

    Item ``i`` is pattern ``i`` in C order over (scene, map row, map col); the items
    equal those of :class:`SyntheticPatternDataset` for the store's configuration and
    seed.

    Reading is per stored chunk (``rows_per_chunk`` map rows of one scene, one shard
    file): an item decodes its whole chunk, and the last ``cached_chunks`` chunks stay
    decoded per process. Read in a random order over the whole store, every item decodes
    a chunk; a sampler that draws items chunk by chunk (:attr:`chunk_ranges`, as
    :func:`synthebsd.models.train` does with ``shuffle_window``) decodes each chunk once
    per epoch. The labels of every scene (63 bytes per pattern) are read once per process.

    Parameters
    ----------
    store_path
        The store (complete).
    augment
        Only ``count_fraction`` applies to stored patterns (exact binomial thinning of
        counts, drawn per pattern and epoch as on the fly); the augmentations that change
        the rendering need :class:`SyntheticPatternDataset`.
    shuffle_window
        Patterns a training sampler mixes at a time (rounded up to whole chunks); ``None``
        asks for a permutation of the whole store.
    cached_chunks
        Decoded chunks kept per process (default: enough for ``shuffle_window``, and 1).

    Raises
    ------
    StoreError
        If the store is not one, or is incomplete.
    ValueError
        For an augmentation that stored patterns cannot take.
    """

    def __init__(
        self,
        store_path: str | Path,
        augment: AugmentConfig | None = None,
        shuffle_window: int | None = None,
        cached_chunks: int | None = None,
    ) -> None:
        super().__init__()
        if shuffle_window is not None and shuffle_window < 1:
            raise ValueError(f"shuffle_window must be >= 1 pattern, got {shuffle_window}")
        if cached_chunks is not None and cached_chunks < 1:
            raise ValueError(f"cached_chunks must be >= 1, got {cached_chunks}")
        self.path = Path(store_path)
        manifest = read_manifest(self.path)
        if not manifest["complete"]:
            raise StoreError(
                f"{self.path} is incomplete; finish it with `synthebsd generate --resume`"
            )
        config = DatasetConfig.model_validate(manifest["config"])
        if augment is not None and augment.renders:
            raise ValueError(
                "PC jitter and extra damage re-render patterns; stored patterns take only "
                "count_fraction (use SyntheticPatternDataset for the others)"
            )
        if augment is not None and augment.count_fraction is not None:
            camera = config.patterns.camera.enabled or "patterns.camera.enabled" in config.vary
            if camera:
                raise ValueError(
                    "count_fraction thins Poisson counts; this store has camera ADU (gain, "
                    "read noise, offset), which thinning would not model"
                )
        self.config = config
        self.seed = int(manifest["seed"])
        self.augment = augment
        self.epoch = 0
        self._phase_names = {int(k): v["name"] for k, v in manifest["phases"].items()}
        self._map_shape = tuple(manifest["map_shape"])
        self._rows_per_chunk = int(manifest["rows_per_chunk"])
        self.shuffle_window = shuffle_window
        if cached_chunks is None:
            per_chunk = self._rows_per_chunk * self._map_shape[1]
            cached_chunks = 1 + -(-(shuffle_window or 1) // per_chunk)
        self.cached_chunks = int(cached_chunks)
        self._root: zarr.Group | None = None
        self._labels: dict[str, np.ndarray] | None = None
        self._chunks: OrderedDict[tuple[int, int], np.ndarray] = OrderedDict()

    def __getstate__(self) -> dict[str, Any]:
        state = dict(self.__dict__)
        state["_root"] = None  # each DataLoader worker opens the store itself
        state["_labels"] = None
        state["_chunks"] = OrderedDict()
        return state

    def set_epoch(self, epoch: int) -> None:
        """Draw the augmentations of ``epoch``."""
        self.epoch = int(epoch)

    @property
    def phase_names(self) -> dict[int, str]:
        """Phase id → phase name."""
        return dict(self._phase_names)

    @property
    def detector_shape(self) -> tuple[int, int]:
        """Pattern (rows, cols)."""
        return tuple(self.config.detector.shape_px)

    @property
    def detector(self) -> EBSDDetector:
        """The nominal detector (kikuchipy, Bruker PC); ``pc`` gives each pattern's."""
        return make_detector(self.config.detector)

    def __len__(self) -> int:
        return self.config.n_scenes * int(np.prod(self._map_shape))

    @property
    def chunk_ranges(self) -> list[tuple[int, int]]:
        """(first item, stop) of every stored chunk, in item order."""
        n_rows, n_cols = self._map_shape
        step = self._rows_per_chunk
        return [
            (
                scene * n_rows * n_cols + r0 * n_cols,
                scene * n_rows * n_cols + min(r0 + step, n_rows) * n_cols,
            )
            for scene in range(self.config.n_scenes)
            for r0 in range(0, n_rows, step)
        ]

    def _group(self) -> zarr.Group:
        if self._root is None:
            self._root = zarr.open_group(self.path, mode="r")
        return self._root

    def _all_labels(self) -> dict[str, np.ndarray]:
        if self._labels is None:
            root = self._group()
            self._labels = {name: np.asarray(root[f"labels/{name}"][...]) for name in LABEL_DTYPES}
        return self._labels

    def _chunk_patterns(self, scene: int, row: int) -> np.ndarray:
        """The decoded patterns (rows of the chunk, cols, rows_px, cols_px) around ``row``."""
        key = (scene, row // self._rows_per_chunk)
        if key in self._chunks:
            self._chunks.move_to_end(key)
        else:
            if len(self._chunks) >= self.cached_chunks:
                self._chunks.popitem(last=False)  # the least recently used
            r0 = key[1] * self._rows_per_chunk
            self._chunks[key] = np.asarray(
                self._group()["patterns"][scene, r0 : r0 + self._rows_per_chunk]
            )
        return self._chunks[key]

    def __getitem__(self, i: int) -> dict[str, torch.Tensor]:
        import torch  # lazy: torch takes seconds to import

        n = len(self)
        if not -n <= i < n:
            raise IndexError(f"index {i} out of range for {n} patterns")
        i %= n
        n_rows, n_cols = self._map_shape
        scene, point = divmod(int(i), n_rows * n_cols)
        row, col = divmod(point, n_cols)
        raw = self._chunk_patterns(scene, row)[row % self._rows_per_chunk, col]
        pattern = torch.from_numpy(raw.astype(np.float32))[None]
        fraction = count_fractions(self.augment, self.seed, scene, np.array([point]), self.epoch)
        if fraction[0] < 1.0:
            pattern = thin_patterns(
                pattern, fraction, self.seed, scene, np.array([point]), self.epoch
            )
        labels = self._all_labels()
        item = {"pattern": pattern}
        item |= {name: item_tensor(values[scene, row, col]) for name, values in labels.items()}
        item |= {
            "scene": item_tensor(np.int64(scene)),
            "row": item_tensor(np.int64(row)),
            "col": item_tensor(np.int64(col)),
            "count_fraction": item_tensor(np.float32(fraction[0])),
        }
        return item
