"""Training data at scale: a sample stream, Zarr stores, dask scale-out, exports, torch data sets.

- :class:`PatternStream`: chunks of (patterns, labels) of a :class:`~synthebsd.config.DatasetConfig`,
  rendered on a torch device; every pattern a function of (seed, scene, stream, point)
  only (:mod:`synthebsd.conventions`);
- :class:`SyntheticPatternDataset` (torch ``IterableDataset``, sharded over DataLoader
  workers and DDP ranks), :class:`SyntheticSceneDataset` (whole scenes) and
  :class:`StoredPatternDataset` (map-style, over a store);
- :func:`generate_store`, :func:`verify_store`, :func:`open_store`: deterministic Zarr
  stores with a manifest and a content hash per chunk, written on dask;
- :func:`export_scene`: a stored scene as kikuchipy h5ebsd, EDAX .ang or orix HDF5.
"""

from synthebsd.datasets._distributed import default_cluster_size, generate_store
from synthebsd.datasets._export import (
    ANG_CONVENTIONS,
    export_scene,
    scene_detector,
    scene_signal,
    scene_truth,
    write_ang,
)
from synthebsd.datasets._masterpatterns import (
    dataset_master_pattern_keys,
    master_pattern,
    preload_master_patterns,
)
from synthebsd.datasets._scenes import (
    LABEL_DTYPES,
    Scene,
    SceneSpec,
    build_scene,
    fundamental_zone,
    scene_labels,
    scene_spec,
)
from synthebsd.datasets._store import (
    STORE_FORMAT,
    StoreError,
    VerifyReport,
    read_manifest,
    verify_store,
)
from synthebsd.datasets._stream import (
    Chunk,
    PatternStream,
    count_fractions,
    expected_on_device,
    item_tensor,
    render_rows,
    thin_patterns,
)

# The torch data sets subclass torch's classes; they (and torch) are imported on first use.
_TORCH_NAMES = (
    "StoredPatternDataset",
    "SyntheticPatternDataset",
    "SyntheticSceneDataset",
    "shard_info",
)


def __getattr__(name: str):
    if name in _TORCH_NAMES:
        from synthebsd.datasets import _torch  # lazy: torch takes seconds to import

        return getattr(_torch, name)
    raise AttributeError(f"module 'synthebsd.datasets' has no attribute {name!r}")


__all__ = [
    "ANG_CONVENTIONS",
    "LABEL_DTYPES",
    "STORE_FORMAT",
    "Chunk",
    "PatternStream",
    "Scene",
    "SceneSpec",
    "StoreError",
    "StoredPatternDataset",
    "SyntheticPatternDataset",
    "SyntheticSceneDataset",
    "VerifyReport",
    "build_scene",
    "count_fractions",
    "dataset_master_pattern_keys",
    "default_cluster_size",
    "expected_on_device",
    "export_scene",
    "fundamental_zone",
    "generate_store",
    "item_tensor",
    "master_pattern",
    "preload_master_patterns",
    "read_manifest",
    "render_rows",
    "scene_detector",
    "scene_labels",
    "scene_signal",
    "scene_spec",
    "scene_truth",
    "shard_info",
    "thin_patterns",
    "verify_store",
    "write_ang",
]
