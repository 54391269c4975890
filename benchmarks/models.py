"""Neural-model speed on the CPU: inference and training patterns/s, against a plain CNN.

    python benchmarks/models.py [--threads 2] [--batch 1024] [--repeats 3]

For each registered orientation model and for a plain 4-layer CNN (3 × 3 convolutions of
32-256 channels, each followed by 2 × 2 max pooling, two dense layers, a quaternion out;
the baseline of /work/shared/notes/ebsd-stack-facts.md, ~260 train / ~460 infer
patterns/s there), all in this run on the same patterns (60 × 60 Poisson counts; speed
does not depend on their content):

- inference: the deployed path of :func:`synthebsd.models.predict_orientations` (batch
  norm folded into the convolutions, channels-last), batches of ``--batch``;
- training: forward, loss (the symmetry-aware disorientation and the class and
  uncertainty heads for ours, 1 − |⟨q, q̂⟩| for the baseline), backward and an AdamW
  step, batches of 64.

Prints the median of ``--repeats`` runs and the ratio to the baseline of the same run;
the goal is ≥ 3,000 patterns/s inference on 2 cores.
"""

from __future__ import annotations

import argparse
import statistics
import time

import numpy as np
import torch
from torch import nn

from synthebsd.config import TrainConfig
from synthebsd.models import (
    create_model,
    fuse_batch_norm,
    list_models,
    orientation_losses,
    predict_tensors,
    symmetry_table,
)

GOAL_INFER = 3000.0


class PlainCNN(nn.Module):
    """4 × (3 × 3 conv + ReLU + 2 × 2 max pool), dense 256, quaternion (the baseline)."""

    def __init__(self):
        super().__init__()
        layers, c = [], 1
        for out in (32, 64, 128, 256):
            layers += [nn.Conv2d(c, out, 3, padding=1), nn.ReLU(inplace=True), nn.MaxPool2d(2)]
            c = out
        self.net = nn.Sequential(
            *layers, nn.Flatten(), nn.Linear(256 * 3 * 3, 256), nn.ReLU(), nn.Linear(256, 4)
        )

    def forward(self, x):
        q = self.net((x - x.mean()) / (x.std() + 1e-6))
        return q / q.norm(dim=1, keepdim=True)


def _rate(fn, n: int, repeats: int) -> float:
    fn()  # warm-up (allocator, oneDNN primitives)
    rates = []
    for _ in range(repeats):
        t = time.perf_counter()
        fn()
        rates.append(n / (time.perf_counter() - t))
    return statistics.median(rates)


def _batch(n: int, rng: np.random.Generator) -> dict[str, torch.Tensor]:
    q = rng.normal(size=(n, 4))
    return {
        "pattern": torch.from_numpy(rng.poisson(800, (n, 1, 60, 60)).astype(np.float32)),
        "quaternion": torch.from_numpy(
            (q / np.linalg.norm(q, axis=1, keepdims=True)).astype(np.float32)
        ),
        "phase_id": torch.from_numpy(rng.integers(-1, 2, n)),
        "region": torch.from_numpy(rng.integers(0, 4, n)),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--batch", type=int, default=1024, help="inference batch")
    parser.add_argument("--train-batch", type=int, default=64)
    parser.add_argument("--train-steps", type=int, default=10, help="steps per timed run")
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    rng = np.random.default_rng(0)
    infer_x = _batch(args.batch, rng)["pattern"]
    train_b = _batch(args.train_batch, rng)
    ops = torch.as_tensor(symmetry_table({0: "Li", 1: "Cu"}), dtype=torch.float32)
    n_train = args.train_batch * args.train_steps

    def train_rate(model, loss_fn) -> float:
        opt = torch.optim.AdamW(model.parameters(), lr=1e-4)
        model.train()

        def run():
            for _ in range(args.train_steps):
                loss = loss_fn(model)
                opt.zero_grad()
                loss.backward()
                opt.step()

        return _rate(run, n_train, args.repeats)

    base = PlainCNN().eval()
    with torch.no_grad():
        base_infer = _rate(lambda: base(infer_x), args.batch, args.repeats)
    base_train = train_rate(
        base,
        lambda m: (1 - (m(train_b["pattern"]) * train_b["quaternion"]).sum(1).abs()).mean(),
    )
    print(f"torch {torch.__version__}, {args.threads} threads, 60 x 60 patterns")
    print(
        f"{'model':24s} {'weights':>9s} {'infer/s':>9s} {'x base':>7s} {'train/s':>9s} {'x base':>7s}"
    )
    print(f"{'plain 4-layer CNN':24s} {sum(p.numel() for p in base.parameters()):9,d} "
          f"{base_infer:9.0f} {1:7.2f} {base_train:9.0f} {1:7.2f}")  # fmt: skip
    config = TrainConfig()
    for name in list_models("orientation_*"):
        model = create_model(name)
        deployed = fuse_batch_norm(model).to(memory_format=torch.channels_last)
        infer = _rate(
            lambda m=deployed: predict_tensors(m, infer_x, args.batch), args.batch, args.repeats
        )
        train = train_rate(model, lambda m: orientation_losses(m, train_b, ops, config)[0])
        flag = "" if infer >= GOAL_INFER else f"  (goal {GOAL_INFER:.0f}/s missed)"
        print(f"{name:24s} {sum(p.numel() for p in model.parameters()):9,d} {infer:9.0f} "
              f"{infer / base_infer:7.2f} {train:9.0f} {train / base_train:7.2f}{flag}")  # fmt: skip


if __name__ == "__main__":
    main()
