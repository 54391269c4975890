"""Zarr stores of a data set: layout, manifest, content hashes, journal and verification.

A store is a Zarr (v3) group:

- ``patterns``: uint16 (scenes, map rows, map cols, pattern rows, pattern cols), one
  compressed (Blosc-zstd, bit shuffle) inner chunk per pattern, sharded by chunk
  (``rows_per_chunk`` map rows of one scene per shard file), so one pattern reads alone;
- ``labels/<name>``: the per-pattern labels (:data:`~synthebsd.datasets.LABEL_DTYPES`),
  shape (scenes, map rows, map cols, ...), chunked like the shards;
- ``manifest.json``: the full validated configuration, seed, package versions, the
  nominal detector, phases, master-pattern keys, what was drawn for each scene, and,
  once complete, the SHA-256 content hash of every chunk;
- ``chunks.jsonl`` while incomplete: one line per finished chunk with its hash, appended
  only after the chunk is written, so an interrupted run never counts a half-written
  chunk as done (and a resumed run re-verifies every listed chunk anyway).

A chunk's hash covers the decoded arrays (patterns and every label, in a fixed order), so
it does not depend on the compressor, and any change to a stored byte that changes (or
breaks the decoding of) a value is found by :func:`verify_store`.
"""

from __future__ import annotations

import hashlib
import json
import os
import platform
import shutil
from dataclasses import dataclass, field
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

import numpy as np
import zarr
from zarr.codecs import BloscCodec

from synthebsd.config import DatasetConfig
from synthebsd.datasets._scenes import LABEL_DTYPES
from synthebsd.io import atomic_path
from synthebsd.phases import get_phase

__all__ = [
    "STORE_FORMAT",
    "StoreError",
    "VerifyReport",
    "block_arrays_hash",
    "chunk_key",
    "create_store",
    "package_versions",
    "read_block",
    "read_journal",
    "read_manifest",
    "record_chunk",
    "finish_store",
    "verify_store",
    "write_block",
]

STORE_FORMAT = "synthebsd-dataset/1"
MANIFEST = "manifest.json"
JOURNAL = "chunks.jsonl"
_PACKAGES = (
    "synthebsd",
    "numpy",
    "scipy",
    "torch",
    "kikuchipy",
    "orix",
    "de-ebsd",
    "diffsims",
    "zarr",
    "numcodecs",
    "dask",
    "distributed",
)


class StoreError(ValueError):
    """A store that cannot be used as asked (exists, is not a store, does not match)."""


def package_versions() -> dict[str, str]:
    """Versions of Python and of the packages that make a store's bytes."""
    out = {"python": platform.python_version()}
    for name in _PACKAGES:
        try:
            out[name] = version(name)
        except PackageNotFoundError:
            out[name] = "not installed"
    return out


def chunk_key(scene: int, block: int) -> str:
    """The manifest key of chunk ``block`` (row block) of scene ``scene``."""
    return f"{scene}/{block}"


def _phases(config: DatasetConfig) -> dict[str, dict[str, Any]]:
    out = {}
    for pid, name in config.phase_names.items():
        phase = get_phase(name)
        out[str(pid)] = {
            "name": phase.name,
            "space_group": int(phase.space_group.number),
            "point_group": phase.point_group.name,
            "lattice_angstrom_deg": [round(float(v), 6) for v in phase.structure.lattice.abcABG()],
        }
    return out


def create_store(
    path: str | Path,
    config: DatasetConfig,
    seed: int,
    master_pattern_keys: list[dict],
    scenes: list[dict],
) -> Path:
    """Create an empty store (arrays and manifest) at ``path``, atomically.

    Everything is written into a temporary folder beside ``path`` and renamed, so a store
    either exists completely or not at all.

    Raises
    ------
    StoreError
        If ``path`` exists.
    """
    path = Path(path)
    if path.exists():
        raise StoreError(f"{path} exists; not overwritten")
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.partial-{os.getpid()}")
    shutil.rmtree(tmp, ignore_errors=True)
    try:
        n_scenes = config.n_scenes
        n_rows, n_cols = config.map_shape
        rows, cols = config.detector.shape_px
        step = config.rows_per_chunk
        codec = BloscCodec(cname="zstd", clevel=config.compression_level, shuffle="bitshuffle")
        root = zarr.open_group(tmp, mode="w", zarr_format=3)
        root.attrs["synthebsd"] = {"format": STORE_FORMAT, "manifest": MANIFEST}
        root.create_array(
            "patterns",
            shape=(n_scenes, n_rows, n_cols, rows, cols),
            chunks=(1, 1, 1, rows, cols),
            shards=(1, step, n_cols, rows, cols),
            dtype="uint16",
            compressors=codec,
            fill_value=0,
            dimension_names=("scene", "map_row", "map_col", "pattern_row", "pattern_col"),
        )
        labels = root.create_group("labels")
        for name, (dtype, tail) in LABEL_DTYPES.items():
            labels.create_array(
                name,
                shape=(n_scenes, n_rows, n_cols, *tail),
                chunks=(1, step, n_cols, *tail),
                dtype=dtype,
                compressors=codec,
                fill_value=0,
            )
        manifest = {
            "format": STORE_FORMAT,
            "complete": False,
            "seed": int(seed),
            "config": config.model_dump(mode="json"),
            "versions": package_versions(),
            "map_shape": [n_rows, n_cols],
            "pattern_shape": [rows, cols],
            "rows_per_chunk": step,
            "detector": config.detector.model_dump(mode="json")
            | {"pc_convention": "bruker", "per_pattern_pc": "labels/pc"},
            "phases": _phases(config),
            "master_pattern_keys": master_pattern_keys,
            "conventions": {
                "orientations": "orix quaternions (w, x, y, z): passive, sample -> crystal",
                "sample_frame": "x along map columns, y down map rows, z out of the surface",
                "maps": "(row, col), origin top left",
                "patterns": "counts (ADU with the camera model), detector (row, col)",
            },
            "scenes": scenes,
            "chunks": {},
        }
        _write_manifest(tmp, manifest)
        os.replace(tmp, path)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return path


def _write_manifest(path: Path, manifest: dict) -> None:
    text = json.dumps(manifest, indent=1, sort_keys=True, allow_nan=False)
    with atomic_path(Path(path) / MANIFEST) as tmp:
        tmp.write_text(text + "\n")


def read_manifest(path: str | Path) -> dict:
    """The manifest of a store.

    Raises
    ------
    StoreError
        If ``path`` is not a synthebsd store or its manifest is unreadable.
    """
    path = Path(path)
    file = path / MANIFEST
    if not file.is_file():
        raise StoreError(f"{path} is not a synthebsd data-set store (no {MANIFEST})")
    try:
        manifest = json.loads(file.read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as e:
        raise StoreError(f"The manifest of {path} is unreadable: {e}") from e
    if not isinstance(manifest, dict) or manifest.get("format") != STORE_FORMAT:
        raise StoreError(f"{file} is not a {STORE_FORMAT} manifest")
    return manifest


def _block_arrays(
    patterns: np.ndarray, labels: dict[str, np.ndarray]
) -> list[tuple[str, np.ndarray]]:
    out = [("patterns", np.ascontiguousarray(patterns, dtype=np.uint16))]
    for name, (dtype, _) in LABEL_DTYPES.items():
        out.append((f"labels/{name}", np.ascontiguousarray(labels[name], dtype=dtype)))
    return out


def block_arrays_hash(arrays: list[tuple[str, np.ndarray]]) -> str:
    """SHA-256 of named arrays: each name, dtype, shape and C-order bytes, in order."""
    h = hashlib.sha256()
    for name, a in arrays:
        h.update(f"{name}|{a.dtype.str}|{a.shape}|".encode())
        h.update(np.ascontiguousarray(a).tobytes())
    return h.hexdigest()


def write_block(
    path: str | Path,
    scene: int,
    row_start: int,
    patterns: np.ndarray,
    labels: dict[str, np.ndarray],
) -> str:
    """Write one chunk (map rows ``row_start:`` of ``scene``) and return its content hash.

    ``patterns`` is (rows, map cols, pattern rows, pattern cols); each label (rows, map
    cols, ...). Whole shards are written, so concurrent writers of different chunks never
    touch the same file.
    """
    root = zarr.open_group(path, mode="r+")
    arrays = _block_arrays(patterns, labels)
    stop = row_start + patterns.shape[0]
    for name, a in arrays:
        array = root[name]
        # Remove what an interrupted run may have left: zarr would read (and fail to
        # decode) a half-written shard before replacing it.
        block = row_start // array.metadata.chunk_grid.chunk_shape[1]
        coords = (scene, block) + (0,) * (array.ndim - 2)
        (Path(path) / name / array.metadata.encode_chunk_key(coords)).unlink(missing_ok=True)
        array[scene, row_start:stop] = a
    return block_arrays_hash(arrays)


def read_block(
    root: zarr.Group, scene: int, row_start: int, row_stop: int
) -> list[tuple[str, np.ndarray]]:
    """The arrays of one chunk as stored (decoded), in hashing order."""
    names = ["patterns", *(f"labels/{n}" for n in LABEL_DTYPES)]
    return [(name, np.asarray(root[name][scene, row_start:row_stop])) for name in names]


def record_chunk(path: str | Path, key: str, digest: str) -> None:
    """Append a finished chunk to the journal (flushed to disk before returning)."""
    with open(Path(path) / JOURNAL, "a") as f:
        f.write(json.dumps({"chunk": key, "sha256": digest}) + "\n")
        f.flush()
        os.fsync(f.fileno())


def read_journal(path: str | Path) -> dict[str, str]:
    """Chunks recorded as finished: key → hash (a torn last line is ignored)."""
    file = Path(path) / JOURNAL
    out: dict[str, str] = {}
    if not file.is_file():
        return out
    for line in file.read_text().splitlines():
        try:
            entry = json.loads(line)
            out[str(entry["chunk"])] = str(entry["sha256"])
        except (json.JSONDecodeError, KeyError, TypeError):
            continue  # an interrupted append
    return out


def finish_store(path: str | Path, chunks: dict[str, str]) -> None:
    """Write every chunk hash into the manifest, mark it complete and drop the journal."""
    manifest = read_manifest(path)
    manifest["chunks"] = dict(sorted(chunks.items(), key=lambda kv: _key_order(kv[0])))
    manifest["complete"] = True
    _write_manifest(Path(path), manifest)
    (Path(path) / JOURNAL).unlink(missing_ok=True)


def _key_order(key: str) -> tuple[int, int]:
    scene, block = key.split("/")
    return int(scene), int(block)


def expected_chunks(manifest: dict) -> list[tuple[int, int, int, int]]:
    """(scene, block, row_start, row_stop) of every chunk of a store."""
    n_scenes = manifest["config"]["n_scenes"]
    n_rows = manifest["map_shape"][0]
    step = manifest["rows_per_chunk"]
    return [
        (k, b, r, min(r + step, n_rows))
        for k in range(n_scenes)
        for b, r in enumerate(range(0, n_rows, step))
    ]


@dataclass
class VerifyReport:
    """What :func:`verify_store` found: chunks that match, are corrupt or are missing."""

    path: Path
    complete: bool
    n_chunks: int
    ok: list[str] = field(default_factory=list)
    corrupt: dict[str, str] = field(default_factory=dict)
    missing: list[str] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        """True when the store is complete and every chunk matches its hash."""
        return self.complete and not self.corrupt and not self.missing

    def describe(self, key: str) -> str:
        """Where chunk ``key`` lives: scene, map rows and shard file."""
        scene, block = _key_order(key)
        manifest = read_manifest(self.path)
        step = manifest["rows_per_chunk"]
        stop = min((block + 1) * step, manifest["map_shape"][0])
        return f"scene {scene}, map rows {block * step}:{stop} (patterns/c/{scene}/{block}/0/0/0)"


def verify_store(path: str | Path, chunks: dict[str, str] | None = None) -> VerifyReport:
    """Re-hash chunks of a store and compare with the recorded hashes.

    Parameters
    ----------
    path
        The store.
    chunks
        Key → hash to check; default every recorded chunk (the manifest's when complete,
        else the journal's).

    Returns
    -------
    report
        Matching, corrupt (with the reason: other content, or why it cannot be decoded)
        and missing chunks (expected but never recorded).

    Raises
    ------
    StoreError
        If ``path`` is not a store.
    """
    path = Path(path)
    manifest = read_manifest(path)
    recorded = manifest["chunks"] if manifest["complete"] else read_journal(path)
    if chunks is None:
        chunks = recorded
    layout = {chunk_key(k, b): (k, r0, r1) for k, b, r0, r1 in expected_chunks(manifest)}
    report = VerifyReport(path, bool(manifest["complete"]), len(layout))
    try:
        root = zarr.open_group(path, mode="r")
    except Exception as e:  # zarr raises many kinds for a damaged group
        raise StoreError(f"{path}: cannot open the Zarr group: {e}") from e
    for key in sorted(chunks, key=_key_order):
        if key not in layout:
            report.corrupt[key] = "not a chunk of this store's layout"
            continue
        k, r0, r1 = layout[key]
        try:
            digest = block_arrays_hash(read_block(root, k, r0, r1))
        except Exception as e:  # a damaged shard fails to decode in codec-specific ways
            report.corrupt[key] = f"cannot be decoded: {type(e).__name__}: {e}"
            continue
        if digest == chunks[key]:
            report.ok.append(key)
        else:
            report.corrupt[key] = "content differs from its recorded SHA-256"
    if manifest["complete"] or chunks is recorded:
        report.missing = [k for k in sorted(layout, key=_key_order) if k not in recorded]
    return report
