"""Stores: resumable bit for bit, corruption named, never overwritten unless asked."""

import shutil
from pathlib import Path

import numpy as np
import pytest
import zarr

from synthebsd.datasets import (
    PatternStream,
    StoreError,
    generate_store,
    read_manifest,
    verify_store,
)


def _files(path: Path) -> dict[str, bytes]:
    return {
        str(p.relative_to(path)): p.read_bytes() for p in sorted(path.rglob("*")) if p.is_file()
    }


def _generate(config, path, cache, **kwargs):
    return generate_store(
        config, 5, path, scheduler="synchronous", cache_dir=cache, progress=False, **kwargs
    )


@pytest.fixture(scope="module")
def reference_store(make_dataset_config, dataset_cache, tmp_path_factory):
    path = tmp_path_factory.mktemp("stores") / "reference.zarr"
    summary = _generate(make_dataset_config(), path, dataset_cache)
    assert summary["complete"] and summary["chunks_written"] == 12
    return path


def test_store_holds_the_stream(reference_store, make_dataset_config, dataset_cache):
    root = zarr.open_group(reference_store, mode="r")
    stream = PatternStream(make_dataset_config(), 5, cache_dir=dataset_cache)
    chunk = next(iter(stream.chunks([1])))
    stored = np.asarray(root["patterns"][1, 0:4]).reshape(-1, 32, 32)
    np.testing.assert_array_equal(stored, chunk.patterns.numpy())
    np.testing.assert_array_equal(
        root["labels/grain_id"][1, 0:4].ravel(), chunk.labels["grain_id"].numpy()
    )
    manifest = read_manifest(reference_store)
    assert manifest["complete"] and manifest["seed"] == 5 and len(manifest["chunks"]) == 12
    assert manifest["config"] == make_dataset_config().model_dump(mode="json")
    assert {"torch", "numpy", "kikuchipy", "zarr"} <= set(manifest["versions"])
    assert [k["phase"] for k in manifest["master_pattern_keys"]] == ["Li", "Cu"]
    assert manifest["phases"]["0"]["name"] == "Li"
    assert (
        len(manifest["scenes"]) == 3 and "scene.pores.porosity" in manifest["scenes"][0]["draws"]
    )
    assert verify_store(reference_store).passed


def test_interrupted_and_resumed_is_bit_identical(
    reference_store, make_dataset_config, dataset_cache, tmp_path
):
    path = tmp_path / "resumed.zarr"
    first = _generate(make_dataset_config(), path, dataset_cache, max_chunks=5)
    assert not first["complete"] and first["chunks_written"] == 5
    assert not read_manifest(path)["complete"]
    # A chunk recorded as finished whose shard was then damaged, and a half-written shard
    # that was never recorded: both must be rendered again, neither taken as done.
    recorded = path / "patterns" / "c" / "0" / "1" / "0" / "0" / "0"
    recorded.write_bytes(recorded.read_bytes()[:-100])
    half = path / "patterns" / "c" / "2" / "0" / "0" / "0" / "0"
    half.parent.mkdir(parents=True, exist_ok=True)
    half.write_bytes(b"\x00" * 1000)
    second = _generate(make_dataset_config(), path, dataset_cache, resume=True)
    assert second["complete"]
    assert second["chunks_kept"] == 4 and second["chunks_written"] == 8
    assert _files(path) == _files(reference_store)


def test_verify_names_one_flipped_byte(reference_store, tmp_path):
    path = tmp_path / "copy.zarr"
    shutil.copytree(reference_store, path)
    shard = path / "patterns" / "c" / "2" / "3" / "0" / "0" / "0"
    data = bytearray(shard.read_bytes())
    data[len(data) // 3] ^= 0x01
    shard.write_bytes(bytes(data))
    report = verify_store(path)
    assert not report.passed
    assert list(report.corrupt) == ["2/3"]
    assert "scene 2, map rows 12:16" in report.describe("2/3")
    assert len(report.ok) == 11
    label = path / "labels" / "region" / "c" / "0" / "2" / "0"
    label.unlink()  # a deleted chunk of a label reads as its fill value
    assert set(verify_store(path).corrupt) == {"0/2", "2/3"}


def test_existing_store_is_not_overwritten(
    reference_store, make_dataset_config, dataset_cache, tmp_path
):
    path = tmp_path / "store.zarr"
    shutil.copytree(reference_store, path)
    before = _files(path)
    with pytest.raises(StoreError, match="exists; not overwritten"):
        _generate(make_dataset_config(), path, dataset_cache)
    assert _files(path) == before
    with pytest.raises(StoreError, match="another configuration"):
        _generate(make_dataset_config(n_scenes=4), path, dataset_cache, resume=True)
    with pytest.raises(StoreError, match="seed 5"):
        generate_store(
            make_dataset_config(),
            6,
            path,
            resume=True,
            scheduler="synchronous",
            cache_dir=dataset_cache,
            progress=False,
        )
    assert _files(path) == before
    # Resuming a complete store re-verifies it and writes nothing.
    summary = _generate(make_dataset_config(), path, dataset_cache, resume=True)
    assert summary["chunks_written"] == 0 and summary["chunks_kept"] == 12
    assert _files(path) == before
    # --overwrite replaces a store, but never a folder that is not one.
    other = tmp_path / "notes"
    other.mkdir()
    (other / "thesis.txt").write_text("keep me")
    with pytest.raises(StoreError, match="not a synthebsd"):
        _generate(make_dataset_config(), other, dataset_cache, overwrite=True)
    assert (other / "thesis.txt").read_text() == "keep me"


def test_invalid_runs_fail_before_writing(make_dataset_config, dataset_cache, tmp_path):
    path = tmp_path / "never.zarr"
    # NZSP's cell is not orthogonal: the kinematical engine refuses it.
    from synthebsd.config import GrainConfig, LayerConfig

    config = make_dataset_config()
    scene = config.scenes[0].scene.model_copy(
        update={
            "electrolyte": LayerConfig(
                phase="NZSP", grains=GrainConfig(mean_ecd_um=1.5), amorphous=False
            )
        }
    )
    bad = config.model_copy(
        update={"scenes": [config.scenes[0].model_copy(update={"scene": scene})]}
    )
    with pytest.raises(ValueError, match="kinematical master pattern of NZSP"):
        _generate(bad, path, dataset_cache)
    assert not path.exists()
    with pytest.raises(StoreError, match="exclude"):
        _generate(config, path, dataset_cache, resume=True, overwrite=True)
    assert not path.exists()
