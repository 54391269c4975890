"""The sample stream: chunks of (patterns, labels) of a data set, rendered on a torch device.

A chunk is ``rows_per_chunk`` map rows of one scene (:class:`Chunk`). Its expected
intensities come from the scene's :class:`~synthebsd.simulate.PatternModel`:

- with no optional model beyond the study's (``PatternModel.plain``: no damage, mixing
  or surface layer) they are computed on the device from the model's own
  renderers, Kikuchi scaling, yields and background (:func:`expected_on_device`), so
  nothing leaves a GPU; tested equal to ``PatternModel.expected`` to float32 rounding;
- otherwise ``PatternModel.expected`` computes them (NumPy, float64) and they are copied
  to the device.

Noise is drawn on the device with one generator per map row (seeded from (seed,
``DATASET_NOISE_STREAM``, scene, first flat index of the row)), so a pattern does not
depend on the chunk, thread or worker that rendered it (see
:mod:`synthebsd.simulate.patterns._camera` for what is bit-stable and what only
statistically equal).
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from synthebsd.config import AugmentConfig, DatasetConfig
from synthebsd.conventions import AUGMENT_STREAM, DATASET_NOISE_STREAM, stream_rng
from synthebsd.datasets._scenes import Scene, build_scene
from synthebsd.simulate import (
    camera_counts_torch,
    make_detector,
    poisson_counts_torch,
    pore_shadow,
    thin_counts_torch,
    torch_generator,
    torch_threads,
)

if TYPE_CHECKING:
    import torch
    from kikuchipy.detectors import EBSDDetector

__all__ = [
    "Chunk",
    "PatternStream",
    "count_fractions",
    "expected_on_device",
    "item_tensor",
    "render_rows",
    "thin_patterns",
]


def item_tensor(values: np.ndarray, device: str | torch.device = "cpu") -> torch.Tensor:
    """Labels as the data sets yield them: integers int64, flags bool, the rest float32."""
    import torch  # lazy: torch takes seconds to import

    values = np.asarray(values)
    if values.dtype == bool:
        dtype = torch.bool
    elif np.issubdtype(values.dtype, np.integer):
        dtype = torch.int64
    else:
        dtype = torch.float32
    if not values.flags.c_contiguous:
        values = values.copy()  # (np.ascontiguousarray would turn a 0-d array into 1-d)
    return torch.from_numpy(values).to(device=device, dtype=dtype)


@dataclass(repr=False)
class Chunk:
    """Map rows ``row_start:row_stop`` of scene ``scene``: patterns and per-pattern labels.

    ``patterns`` is a float32 tensor (n, rows, cols) of whole-number counts (ADU with the
    camera model), ``labels`` a dict of tensors (n, ...) as in :data:`LABEL_DTYPES` plus
    ``scene``, ``row``, ``col`` (and ``count_fraction``, 1 without that augmentation),
    all on the stream's device.
    """

    scene: int
    row_start: int
    row_stop: int
    patterns: torch.Tensor
    labels: dict[str, torch.Tensor]

    def __repr__(self) -> str:
        return (
            f"Chunk(scene {self.scene}, rows {self.row_start}:{self.row_stop}, "
            f"{self.patterns.shape[0]} patterns on {self.patterns.device})"
        )

    def __len__(self) -> int:
        return int(self.patterns.shape[0])


def _device_path(scene: Scene) -> bool:
    """Whether :func:`expected_on_device` reproduces this scene's ``PatternModel``."""
    return scene.model.plain


def expected_on_device(scene: Scene, start: int, stop: int) -> torch.Tensor:
    """Expected counts (float32, (n, rows, cols)) of points ``start:stop``, on the device.

    For scenes whose model is ``plain``: λ = S · y · b · (1 + C · k̃), with the model's
    renderers (k̃ scaled by each master pattern's statistics as
    :func:`~synthebsd.simulate.scale_kikuchi` does), yields and background, in float32 on
    the model's device. Other scenes: ``PatternModel.expected`` (float64 on the host),
    copied to the device.
    """
    import torch  # lazy: torch takes seconds to import

    model = scene.model
    device = torch.device(model.device)
    if not _device_path(scene):
        lam = model.expected(start, stop, num_threads=1)
        return torch.from_numpy(lam).to(device=device, dtype=torch.float32)
    with torch.inference_mode():  # the renderer returns inference tensors
        return _plain_expected(scene, np.arange(start, stop), device)


def _plain_expected(scene: Scene, index: np.ndarray, device: torch.device) -> torch.Tensor:
    """λ = S · y · b · s · (1 + C · k̃) of the points' diffracting material (a pore's
    floor, with its rim shadow s), each with its own PC, as ``PatternModel.expected``."""
    import torch  # lazy: torch takes seconds to import

    model = scene.model
    sources = model.diffracting
    phase_id = sources.phase_id[index]
    point = sources.point[index]
    rows, cols = model.detector.shape
    kikuchi = torch.zeros((index.size, rows, cols), dtype=torch.float32, device=device)
    for pid, renderer in model.renderers.items():
        sel = np.nonzero(phase_id == pid)[0]
        if sel.size == 0:
            continue
        mean, std = model.kikuchi_stats[pid]
        size = renderer.default_chunk_size()  # cache-sized pieces on a CPU
        for part in np.array_split(sel, -(-sel.size // size)):
            pc_index = index[part] if renderer.n_pcs > 1 else None
            data = renderer.render_chunk(scene.matrices[point[part]], pc_index)
            data = data.sub_(mean).div_(3 * std).clamp_(-1.0, 1.0)
            kikuchi[torch.from_numpy(part).to(device)] = data

    def on_device(array: np.ndarray) -> torch.Tensor:
        return torch.from_numpy(np.asarray(array, dtype=np.float32)).to(device)

    contrast = on_device(model.contrast(phase_id))
    lam = kikuchi.mul_(contrast[:, None, None]).add_(1.0)
    lam.mul_(on_device(model.backgrounds(index)))
    lam.mul_(on_device(model.yield_[index])[:, None, None]).mul_(float(model.scale))
    shadowed = np.nonzero(sources.shadow_ratio[index] > 0)[0]
    if shadowed.size:
        shadow = pore_shadow(model.detector, sources.shadow_ratio[index[shadowed]])
        lam[torch.from_numpy(shadowed).to(device)] *= on_device(shadow)
    return lam


def render_rows(scene: Scene, seed: int, row_start: int, row_stop: int) -> torch.Tensor:
    """Noisy patterns of map rows ``row_start:row_stop`` (float32 counts, on the device).

    Row ``r`` of scene ``k`` draws its noise from the generator of (seed,
    ``DATASET_NOISE_STREAM``, k, r × columns): Poisson counts saturating at 65,535, or
    the camera model's ADU when ``patterns.camera`` is on.
    """
    import torch  # lazy: torch takes seconds to import

    n_cols = scene.shape[1]
    lam = expected_on_device(scene, row_start * n_cols, row_stop * n_cols)
    camera = scene.spec.patterns.camera
    # A plain tensor, not an inference one: training saves its inputs for backward.
    out = torch.empty(lam.shape, dtype=torch.float32, device=lam.device)
    for r in range(row_start, row_stop):
        gen = torch_generator(
            seed, DATASET_NOISE_STREAM, scene.spec.index, r * n_cols, device=lam.device
        )
        sl = slice((r - row_start) * n_cols, (r - row_start + 1) * n_cols)
        if camera.enabled:
            out[sl] = camera_counts_torch(lam[sl], camera, gen)
        else:
            out[sl] = poisson_counts_torch(lam[sl], gen)
    return out


def count_fractions(
    augment: AugmentConfig, seed: int, scene: int, index: np.ndarray, epoch: int = 0
) -> np.ndarray:
    """The ``count_fraction`` augmentation's keep probability of each flat point ``index``.

    Log-uniform in the configured range, one value per pattern from (seed,
    ``AUGMENT_STREAM``, scene, epoch, point); 1 when the augmentation is off.
    """
    if augment is None or augment.count_fraction is None:
        return np.ones(len(index))
    low, high = np.log(augment.count_fraction)
    return np.array(
        [
            np.exp(stream_rng(seed, AUGMENT_STREAM, scene, epoch, int(i)).uniform(low, high))
            for i in index
        ]
    )


def thin_patterns(
    patterns: torch.Tensor,
    fractions: np.ndarray,
    seed: int,
    scene: int,
    index: np.ndarray,
    epoch: int = 0,
) -> torch.Tensor:
    """Binomial thinning of each pattern to its fraction (generator per pattern and epoch)."""
    import torch  # lazy: torch takes seconds to import

    out = patterns.clone()
    for j, i in enumerate(index):
        if fractions[j] >= 1.0:
            continue
        gen = torch_generator(
            seed, AUGMENT_STREAM, scene, epoch, int(i), 1, device=patterns.device
        )
        frac = torch.tensor([fractions[j]], dtype=torch.float32, device=patterns.device)
        out[j : j + 1] = thin_counts_torch(patterns[j : j + 1], frac, gen)
    return out


class PatternStream:
    """Chunks of (patterns, labels) of a data set, rendered on the fly.

    Parameters
    ----------
    config
        The data set.
    seed
        Its seed (with ``config``, it fixes every pattern).
    device
        torch device for rendering, noise and the returned tensors.
    augment
        Optional training-time augmentations (:class:`~synthebsd.config.AugmentConfig`).
    epoch
        Index of the augmentation draws (change it per training epoch).
    cache_dir
        Master-pattern cache folder (default ``$SYNTHEBSD_CACHE``).
    num_threads
        CPU threads rendering chunks concurrently (each with one torch thread); default
        torch's thread count. On a GPU one thread feeds the device.
    """

    def __init__(
        self,
        config: DatasetConfig,
        seed: int,
        device: str = "cpu",
        augment: AugmentConfig | None = None,
        epoch: int = 0,
        cache_dir: str | Path | None = None,
        num_threads: int | None = None,
    ) -> None:
        import torch  # lazy: torch takes seconds to import

        if seed < 0:
            raise ValueError(f"seed must be >= 0, got {seed}")
        self.config = config
        self.seed = int(seed)
        self.device = torch.device(device)
        self.augment = augment
        self.epoch = int(epoch)
        self.cache_dir = cache_dir
        if self.device.type != "cpu":
            num_threads = 1
        self.num_threads = max(1, int(num_threads or torch.get_num_threads()))

    @property
    def phase_names(self) -> dict[int, str]:
        """Phase id → phase name."""
        return self.config.phase_names

    @property
    def detector(self) -> EBSDDetector:
        """The nominal detector (scenes jitter its projection centre)."""
        return make_detector(self.config.detector)

    @property
    def detector_shape(self) -> tuple[int, int]:
        """Pattern (rows, cols)."""
        return tuple(self.config.detector.shape_px)

    @property
    def map_shape(self) -> tuple[int, int]:
        """Map (rows, cols) of every scene."""
        return self.config.map_shape

    @property
    def n_patterns(self) -> int:
        """Patterns in the whole data set."""
        return self.config.n_scenes * int(np.prod(self.map_shape))

    def scene(self, index: int) -> Scene:
        """Build scene ``index`` (map, detector, pattern model, labels)."""
        return build_scene(
            self.config,
            self.seed,
            index,
            str(self.device),
            self.cache_dir,
            self.augment,
            self.epoch,
        )

    def blocks(self, scenes: Iterable[int] | None = None) -> list[tuple[int, int, int]]:
        """(scene, row_start, row_stop) of every chunk of ``scenes`` (default all), in order."""
        scenes = range(self.config.n_scenes) if scenes is None else scenes
        n_rows = self.map_shape[0]
        step = self.config.rows_per_chunk
        return [(k, r, min(r + step, n_rows)) for k in scenes for r in range(0, n_rows, step)]

    def render_chunk(self, scene: Scene, row_start: int, row_stop: int) -> Chunk:
        """One chunk of a built scene: patterns (with augmentations) and labels."""

        k = scene.spec.index
        n_cols = scene.shape[1]
        index = np.arange(row_start * n_cols, row_stop * n_cols)
        patterns = render_rows(scene, self.seed, row_start, row_stop)
        fractions = count_fractions(self.augment, self.seed, k, index, self.epoch)
        if self.augment is not None and self.augment.count_fraction is not None:
            patterns = thin_patterns(patterns, fractions, self.seed, k, index, self.epoch)
        rows, cols = np.divmod(index, n_cols)
        values = {name: v[index] for name, v in scene.labels.items()} | {
            "scene": np.full(index.size, k),
            "row": rows,
            "col": cols,
            "count_fraction": fractions,
        }
        labels = {name: item_tensor(v, self.device) for name, v in values.items()}
        return Chunk(k, row_start, row_stop, patterns, labels)

    def chunks(
        self,
        scenes: Iterable[int] | None = None,
        blocks: list[tuple[int, int, int]] | None = None,
    ) -> Iterator[Chunk]:
        """Yield the chunks of ``scenes`` (default: every scene) in order.

        ``blocks`` instead names the chunks, as (scene, row_start, row_stop). On the CPU,
        ``num_threads`` threads render chunks concurrently (at most twice as many in
        flight); each scene is built once, by the first of its chunks to run.
        """
        blocks = self.blocks(scenes) if blocks is None else list(blocks)
        cache = _SceneCache(self, blocks)

        def task(block: tuple[int, int, int]) -> Chunk:
            k, r0, r1 = block
            with torch_threads(1 if self.device.type == "cpu" else None):
                chunk = self.render_chunk(cache.get(k), r0, r1)
            cache.done(k)
            return chunk

        if self.num_threads == 1 or len(blocks) == 1:
            for block in blocks:
                yield task(block)
            return
        with ThreadPoolExecutor(self.num_threads, thread_name_prefix="synthebsd-stream") as pool:
            pending: deque[Future] = deque()
            try:
                for block in blocks:
                    pending.append(pool.submit(task, block))
                    if len(pending) >= 2 * self.num_threads:
                        yield pending.popleft().result()
                while pending:
                    yield pending.popleft().result()
            finally:
                for future in pending:  # the consumer stopped early or a chunk failed
                    future.cancel()

    def __iter__(self) -> Iterator[Chunk]:
        return self.chunks()


class _SceneCache:
    """Scenes built once for all their chunks, dropped after their last chunk."""

    def __init__(self, stream: PatternStream, blocks: list[tuple[int, int, int]]) -> None:
        self._stream = stream
        self._left: dict[int, int] = {}
        for k, _, _ in blocks:
            self._left[k] = self._left.get(k, 0) + 1
        self._futures: dict[int, Future] = {}
        self._lock = threading.Lock()

    def get(self, k: int) -> Scene:
        with self._lock:
            future = self._futures.get(k)
            owner = future is None
            if owner:
                future = self._futures[k] = Future()
        if owner:
            try:
                future.set_result(self._stream.scene(k))
            except BaseException as e:
                future.set_exception(e)
        return future.result()

    def done(self, k: int) -> None:
        with self._lock:
            self._left[k] -= 1
            if self._left[k] == 0:
                self._futures.pop(k, None)
