"""A store written by a two-worker dask LocalCluster equals the one written in-process."""

from pathlib import Path

from synthebsd.datasets import generate_store


def _files(path: Path) -> dict[str, bytes]:
    return {
        str(p.relative_to(path)): p.read_bytes() for p in sorted(path.rglob("*")) if p.is_file()
    }


def test_local_cluster_store_equals_single_process(make_dataset_config, dataset_cache, tmp_path):
    from distributed import Client, LocalCluster

    config = make_dataset_config(n_scenes=4)
    single = tmp_path / "single.zarr"
    generate_store(
        config, 2, single, scheduler="synchronous", cache_dir=dataset_cache, progress=False
    )
    # Worker processes, as the default cluster uses; an address reaches them like a remote one.
    with LocalCluster(
        n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None
    ) as cluster:
        with Client(cluster) as client:
            # Worker processes may register late on a loaded machine.
            client.wait_for_workers(2, timeout=300)
            assert len(client.scheduler_info()["workers"]) == 2
        on_dask = tmp_path / "dask.zarr"
        summary = generate_store(
            config,
            2,
            on_dask,
            scheduler=cluster.scheduler_address,
            cache_dir=dataset_cache,
            progress=False,
        )
    assert summary["complete"] and summary["chunks_written"] == 16
    assert _files(on_dask) == _files(single)
