"""DDP under torchrun's environment: two CPU processes (gloo) train one model in step."""

from __future__ import annotations

import os
import socket
import time

import numpy as np
import pytest
import torch
import torch.multiprocessing as mp
from safetensors.torch import load_file, save_file

from synthebsd.models._train import _EpochSampler


def test_ranks_split_each_epoch_into_disjoint_halves():
    one = _EpochSampler(10, seed=3, epoch=1, skip=0, rank=0, world=1).indices
    r0 = _EpochSampler(10, seed=3, epoch=1, skip=0, rank=0, world=2).indices
    r1 = _EpochSampler(10, seed=3, epoch=1, skip=0, rank=1, world=2).indices
    assert set(r0).isdisjoint(r1) and sorted(r0 + r1) == list(range(10))
    # Batch k of 2 ranks × b items holds the items of batch k of one process × 2b.
    assert sorted(r0[:2] + r1[:2]) == sorted(one[:4])
    assert _EpochSampler(10, 3, 2, 0, 0, 1).indices != one  # a new order every epoch
    assert _EpochSampler(10, 3, 1, 4, 0, 1).indices == one[4:]  # resume skips


class _ArrayItems(torch.utils.data.Dataset):
    """Items held as NumPy arrays: they pickle plainly to the spawned processes (tensors
    would travel as shared-memory file descriptors, which can deadlock a busy spawn)."""

    def __init__(self, dataset, n):
        keys = ("pattern", "quaternion", "phase_id", "region", "pc")
        self.arrays = {k: np.stack([dataset[i][k].numpy() for i in range(n)]) for k in keys}
        self.phase_names = dataset.phase_names

    def __len__(self):
        return len(self.arrays["pattern"])

    def __getitem__(self, i):
        return {k: torch.as_tensor(v[i]) for k, v in self.arrays.items()}


def _worker(rank, world, port, dataset, out, config):
    os.environ.update(
        {
            "RANK": str(rank),
            "WORLD_SIZE": str(world),
            "LOCAL_RANK": str(rank),
            "MASTER_ADDR": "127.0.0.1",
            "MASTER_PORT": str(port),
        }  # fmt: skip
    )
    import torch.distributed as dist

    from synthebsd.models import train

    torch.set_num_threads(1)
    result = train(config, dataset, out, phase_names=dataset.phase_names, progress=False)
    weights = {k: v.contiguous() for k, v in result["model"].state_dict().items()}
    save_file(weights, f"{out}/rank{rank}.safetensors")
    dist.destroy_process_group()


def test_two_process_ddp_keeps_ranks_identical(pattern_dataset, tmp_path, tiny_config):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    config = tiny_config(steps=6, batch_size=8, log_every_steps=3, model_kwargs={"norm": "none"})
    ctx = mp.spawn(
        _worker,
        args=(2, port, _ArrayItems(pattern_dataset, 64), str(tmp_path), config),
        nprocs=2,
        join=False,
    )
    deadline = time.monotonic() + 300  # a stuck rendezvous must fail, not hang the suite
    while not ctx.join(timeout=5):
        if time.monotonic() > deadline:
            for p in ctx.processes:
                p.terminate()
            pytest.fail("the two DDP processes did not finish within 300 s")
    w0 = load_file(str(tmp_path / "rank0.safetensors"))
    w1 = load_file(str(tmp_path / "rank1.safetensors"))
    assert all(torch.equal(w0[k], w1[k]) for k in w0)
    saved = load_file(str(tmp_path / "model.safetensors"))
    assert all(torch.equal(saved[k], w0[k]) for k in w0)
    history = __import__("json").loads((tmp_path / "history.json").read_text())
    # Two ranks × 8 patterns per step.
    assert [h["step"] for h in history] == [3, 6]
    assert np.isfinite([h["loss"] for h in history]).all()
