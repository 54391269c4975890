"""Neural-model speed: inference and training patterns/s against a plain CNN, CPU or --device.

    python benchmarks/models.py [--threads 2] [--batch 1024] [--repeats 5] \
        [--device cpu] [--out benchmark-models]

For each registered orientation model and for a plain 4-layer CNN (3 × 3 convolutions of
32-256 channels, each followed by 2 × 2 max pooling, two dense layers, a quaternion out;
the baseline of /work/shared/notes/ebsd-stack-facts.md, ~260 train / ~460 infer
patterns/s there), all in this run on the same patterns (60 × 60 Poisson counts; speed
does not depend on their content):

- inference: the deployed path of :func:`synthebsd.models.predict_orientations` (batch
  norm folded into the convolutions, channels-last), batches of ``--batch``, alone, with
  the test-time flip (each pattern averaged with its mirror: twice the network) and with
  the flip pairs of 4 turned copies too (± 5°, ± 10°: ten times the network);
- training: forward, loss (the symmetry-aware disorientation and the class and
  uncertainty heads for ours, 1 − |⟨q, q̂⟩| for the baseline), backward and an AdamW
  step, batches of 64.

Everything runs on ``--device`` (``cuda`` on a GPU machine: the GPU rates; ``meta``
checks only that every tensor follows the models' device, its rates mean nothing).
Prints the median of ``--repeats`` interleaved runs and the ratio to the baseline of the
same run, and writes them to ``--out`` as ``models.json`` with a bar chart,
``models_rates.png``; the goal is ≥ 3,000 patterns/s inference on 2 cores.
"""

from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path

import numpy as np
import torch
from torch import nn

from synthebsd.config import TrainConfig
from synthebsd.models import (
    InferenceViews,
    class_symmetry_table,
    create_model,
    detector_normal,
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


def _synchronize(device: torch.device) -> None:
    """Wait for the device's queued work (CUDA runs asynchronously; a timer would stop
    at the launch, not at the end)."""
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def _interleaved(fns: dict[str, tuple], repeats: int, device: torch.device) -> dict[str, float]:
    """Median rate of each ``name: (fn, n_items)``, runs interleaved round-robin.

    On a machine shared with other jobs the load changes from second to second; running
    every candidate once per round puts all of them under the same conditions, so the
    ratios hold even when the absolute numbers do not.
    """
    for fn, _ in fns.values():
        fn()  # warm-up (allocator, oneDNN primitives, CUDA kernels)
    rates: dict[str, list[float]] = {k: [] for k in fns}
    for _ in range(repeats):
        for name, (fn, n) in fns.items():
            _synchronize(device)
            t = time.perf_counter()
            fn()
            _synchronize(device)
            rates[name].append(n / (time.perf_counter() - t))
    return {k: statistics.median(v) for k, v in rates.items()}


def _batch(n: int, rng: np.random.Generator, device: torch.device) -> dict[str, torch.Tensor]:
    q = rng.normal(size=(n, 4))
    batch = {
        "pattern": torch.from_numpy(rng.poisson(800, (n, 1, 60, 60)).astype(np.float32)),
        "quaternion": torch.from_numpy(
            (q / np.linalg.norm(q, axis=1, keepdims=True)).astype(np.float32)
        ),
        "phase_id": torch.from_numpy(rng.integers(-1, 2, n)),
        "region": torch.from_numpy(rng.integers(0, 4, n)),
    }
    return {k: v.to(device) for k, v in batch.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--batch", type=int, default=1024, help="inference batch")
    parser.add_argument("--train-batch", type=int, default=64)
    parser.add_argument("--train-steps", type=int, default=10, help="steps per timed run")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--device", default="cpu", help="torch device: cpu, cuda, meta")
    parser.add_argument("--out", type=Path, default=Path("benchmark-models"))
    args = parser.parse_args()
    device = torch.device(args.device)
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    rng = np.random.default_rng(0)
    infer_x = _batch(args.batch, rng, device)["pattern"]
    train_b = _batch(args.train_batch, rng, device)
    ops = torch.as_tensor(symmetry_table({0: "Li", 1: "Cu"}), dtype=torch.float32, device=device)
    class_ops = torch.as_tensor(
        class_symmetry_table({0: "Li", 1: "Cu"}), dtype=torch.float32, device=device
    )
    axis, centre = tuple(detector_normal(70.0, 0.0)), (14.5, 29.5)  # the demo's detector
    flip = InferenceViews(class_ops, (), axis, centre)
    turned = InferenceViews(class_ops, (5.0, -5.0, 10.0, -10.0), axis, centre)
    n_train = args.train_batch * args.train_steps

    def train_run(model, loss_fn):
        opt = torch.optim.AdamW(model.parameters(), lr=1e-4)
        model.train()

        def run():
            for _ in range(args.train_steps):
                loss = loss_fn(model)
                opt.zero_grad()
                loss.backward()
                opt.step()

        return run, n_train

    def no_grad(fn):
        def run():
            with torch.no_grad():
                fn()

        return run

    base = PlainCNN().to(device)
    base_eval = PlainCNN().to(device).eval()
    base_eval.load_state_dict(base.state_dict())
    infer = {"plain 4-layer CNN": (no_grad(lambda: base_eval(infer_x)), args.batch)}
    train = {
        "plain 4-layer CNN": train_run(
            base,
            lambda m: (1 - (m(train_b["pattern"]) * train_b["quaternion"]).sum(1).abs()).mean(),
        )
    }
    weights = {"plain 4-layer CNN": sum(p.numel() for p in base.parameters())}
    config = TrainConfig()
    for name in list_models("orientation_*"):
        model = create_model(name).to(device)
        deployed = fuse_batch_norm(model).to(memory_format=torch.channels_last)
        infer[name] = (lambda m=deployed: predict_tensors(m, infer_x, args.batch), args.batch)
        infer[f"{name} + flip"] = (
            lambda m=deployed: predict_tensors(m, infer_x, args.batch, flip),
            args.batch,
        )
        infer[f"{name} + flip, 4 turns"] = (
            lambda m=deployed: predict_tensors(m, infer_x, args.batch, turned),
            args.batch,
        )
        train[name] = train_run(model, lambda m: orientation_losses(m, train_b, ops, config)[0])
        weights[name] = sum(p.numel() for p in model.parameters())
    infer_rate = _interleaved(infer, args.repeats, device)
    train_rate = _interleaved(train, args.repeats, device)
    b_inf, b_tr = infer_rate["plain 4-layer CNN"], train_rate["plain 4-layer CNN"]
    print(f"torch {torch.__version__}, {_where(args)}, 60 x 60 patterns, "
          f"median of {args.repeats} interleaved runs")  # fmt: skip
    print(
        f"{'model':40s} {'weights':>9s} {'infer/s':>9s} {'x base':>7s} {'train/s':>9s} {'x base':>7s}"
    )
    for name in infer:
        inf = infer_rate[name]
        flag = (
            ""
            if name.startswith("plain") or inf >= GOAL_INFER or device.type != "cpu"
            else f"  (goal {GOAL_INFER:.0f}/s missed)"
        )
        n_weights = weights[name.split(" + ")[0]]
        training = (
            f"{train_rate[name]:9.0f} {train_rate[name] / b_tr:7.2f}"
            if name in train_rate
            else f"{'-':>9s} {'-':>7s}"
        )
        print(f"{name:40s} {n_weights:9,d} {inf:9.0f} {inf / b_inf:7.2f} {training}{flag}")
    _write(args, weights, infer_rate, train_rate)


def _where(args) -> str:
    """What the rates were measured on, in words."""
    if args.device == "cpu":
        return f"{args.threads} CPU threads"
    name = torch.cuda.get_device_name(args.device) if args.device.startswith("cuda") else ""
    return f"{args.device} {name}".strip()


def _write(args, weights: dict, infer_rate: dict, train_rate: dict) -> None:
    """``models.json`` and ``models_rates.png`` in ``args.out``."""
    from synthebsd.io import save_json
    from synthebsd.viz import new_figure, save_figure

    base = "plain 4-layer CNN"
    rows = {
        name: {
            "weights": weights[name.split(" + ")[0]],
            "inference_per_second": rate,
            "inference_vs_plain_cnn": rate / infer_rate[base],
            "training_per_second": train_rate.get(name),
            "training_vs_plain_cnn": (
                train_rate[name] / train_rate[base] if name in train_rate else None
            ),
            # the goal is set for 2 CPU cores
            "meets_inference_goal": rate >= GOAL_INFER if args.device == "cpu" else None,
        }
        for name, rate in infer_rate.items()
    }
    args.out.mkdir(parents=True, exist_ok=True)
    settings = {k: v for k, v in vars(args).items() if k != "out"}
    summary = {
        "torch": torch.__version__,
        "measured_on": _where(args),
        "settings": settings,
        "goal_inference_per_second": GOAL_INFER,
        "models": rows,
    }
    save_json(summary, args.out / "models.json")
    fig = new_figure((8, 3.5))
    ax = fig.add_subplot()
    names = list(rows)
    ax.barh(names, [rows[n]["inference_per_second"] for n in names], color="C0")
    ax.axvline(GOAL_INFER, color="k", ls="--", lw=1, label=f"goal {GOAL_INFER:.0f}/s")
    ax.invert_yaxis()  # in the printed order
    ax.set_xscale("log")
    ax.set_xlabel(f"inference patterns/s, {_where(args)} (median of {args.repeats})")
    ax.legend(fontsize=8)
    save_figure(fig, args.out / "models_rates.png")
    print(f"written to {args.out}")


if __name__ == "__main__":
    main()
