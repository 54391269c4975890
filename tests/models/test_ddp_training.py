"""DDP under torchrun's environment: two CPU processes (gloo) train one model in step."""

from __future__ import annotations

import json
import pickle
import socket
import subprocess
import sys

import numpy as np
import pytest
import torch
from safetensors.torch import load_file

from synthebsd.models._epochs import _EpochSampler


def test_ranks_split_each_epoch_into_disjoint_halves():
    one = _EpochSampler(10, seed=3, epoch=1, skip=0, rank=0, world=1).indices
    r0 = _EpochSampler(10, seed=3, epoch=1, skip=0, rank=0, world=2).indices
    r1 = _EpochSampler(10, seed=3, epoch=1, skip=0, rank=1, world=2).indices
    assert set(r0).isdisjoint(r1) and sorted(r0 + r1) == list(range(10))
    # Batch k of 2 ranks × b items holds the items of batch k of one process × 2b.
    assert sorted(r0[:2] + r1[:2]) == sorted(one[:4])
    assert _EpochSampler(10, 3, 2, 0, 0, 1).indices != one  # a new order every epoch
    assert _EpochSampler(10, 3, 1, 4, 0, 1).indices == one[4:]  # resume skips


def test_chunkwise_epochs_cover_every_item_once_and_read_each_chunk_in_one_window():
    chunks = [(0, 24), (24, 48), (48, 60), (60, 84), (84, 108), (108, 120)]
    one = _EpochSampler(120, 3, 1, 0, 0, 1, chunks, window=40).indices
    assert sorted(one) == list(range(120)) and one != sorted(one)
    assert _EpochSampler(120, 3, 1, 0, 0, 1, chunks, window=40).indices == one  # seeded
    assert _EpochSampler(120, 3, 2, 0, 0, 1, chunks, window=40).indices != one
    assert _EpochSampler(120, 3, 1, 7, 0, 1, chunks, window=40).indices == one[7:]
    chunk_of = {i: k for k, (a, b) in enumerate(chunks) for i in range(a, b)}
    # The order is windows of whole chunks (each >= 40 items but the last): a chunk is
    # read in one window only, so it is decoded once per epoch ...
    size = {k: b - a for k, (a, b) in enumerate(chunks)}
    closed, open_, taken, widths = set(), set(), 0, []
    for i in one:
        assert chunk_of[i] not in closed, f"chunk {chunk_of[i]} read in two windows"
        open_.add(chunk_of[i])
        taken += 1
        if taken == sum(size[k] for k in open_) and taken >= 40:
            closed |= open_
            widths.append(len(open_))
            open_, taken = set(), 0
    assert not open_ or taken == sum(size[k] for k in open_)
    # ... and a window mixes several chunks.
    assert max(widths) >= 2
    with pytest.raises(ValueError, match="cover 120 items"):
        _EpochSampler(121, 3, 1, 0, 0, 1, chunks, window=40)


# The two ranks are spawned from a fresh interpreter, not from pytest's process: a spawn
# from a process that already ran dask clusters and DataLoader workers blocked writing the
# child's start-up data into a pipe (seen in a full-suite run), where no in-process guard
# can fire. subprocess.run's timeout always can.
_SCRIPT = """
import os, pickle, sys

import numpy as np
import torch
import torch.multiprocessing as mp
from safetensors.torch import save_file


class ArrayItems(torch.utils.data.Dataset):
    def __init__(self, arrays, phase_names):
        self.arrays, self.phase_names = arrays, phase_names

    def __len__(self):
        return len(self.arrays["pattern"])

    def __getitem__(self, i):
        return {k: torch.as_tensor(v[i]) for k, v in self.arrays.items()}


def worker(rank, world, port, arrays, phase_names, out, config):
    os.environ.update({"RANK": str(rank), "WORLD_SIZE": str(world), "LOCAL_RANK": str(rank),
                       "MASTER_ADDR": "127.0.0.1", "MASTER_PORT": str(port)})
    import torch.distributed as dist

    from synthebsd.models import train

    torch.set_num_threads(1)
    dataset = ArrayItems(arrays, phase_names)
    result = train(config, dataset, out, phase_names=phase_names, progress=False)
    weights = {k: v.contiguous() for k, v in result["model"].state_dict().items()}
    save_file(weights, f"{out}/rank{rank}.safetensors")
    dist.destroy_process_group()


if __name__ == "__main__":
    with open(sys.argv[1], "rb") as f:
        job = pickle.load(f)
    mp.spawn(worker, args=(2, job["port"], job["arrays"], job["phase_names"], job["out"],
                           job["config"]), nprocs=2, join=True)
"""


def test_two_process_ddp_keeps_ranks_identical(pattern_dataset, tmp_path, tiny_config):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    config = tiny_config(steps=6, batch_size=8, log_every_steps=3, model_kwargs={"norm": "none"})
    keys = ("pattern", "quaternion", "phase_id", "region", "pc")
    arrays = {k: np.stack([pattern_dataset[i][k].numpy() for i in range(64)]) for k in keys}
    job = tmp_path / "job.pkl"
    job.write_bytes(
        pickle.dumps(
            {
                "port": port,
                "arrays": arrays,
                "phase_names": pattern_dataset.phase_names,
                "out": str(tmp_path),
                "config": config,
            }
        )
    )
    script = tmp_path / "ddp_job.py"
    script.write_text(_SCRIPT)
    try:
        run = subprocess.run(
            [sys.executable, str(script), str(job)],
            capture_output=True,
            text=True,
            timeout=300,  # a stuck rendezvous must fail, not hang the suite
        )
    except subprocess.TimeoutExpired:
        pytest.fail("the two DDP processes did not finish within 300 s")
    assert run.returncode == 0, run.stderr[-3000:]
    w0 = load_file(str(tmp_path / "rank0.safetensors"))
    w1 = load_file(str(tmp_path / "rank1.safetensors"))
    assert all(torch.equal(w0[k], w1[k]) for k in w0)
    saved = load_file(str(tmp_path / "model.safetensors"))
    assert all(torch.equal(saved[k], w0[k]) for k in w0)
    history = json.loads((tmp_path / "history.json").read_text())
    # Two ranks × 8 patterns per step.
    assert [h["step"] for h in history] == [3, 6]
    assert np.isfinite([h["loss"] for h in history]).all()
