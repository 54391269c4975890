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
    scene_labels,
    scene_spec,
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

__all__ = [
    "LABEL_DTYPES",
    "Chunk",
    "PatternStream",
    "Scene",
    "SceneSpec",
    "build_scene",
    "count_fractions",
    "dataset_master_pattern_keys",
    "expected_on_device",
    "item_tensor",
    "master_pattern",
    "preload_master_patterns",
    "render_rows",
    "scene_labels",
    "scene_spec",
    "thin_patterns",
]
