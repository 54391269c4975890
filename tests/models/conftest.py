"""Tiny training data shaped like the dataset contract, made with the pattern pipeline.

``render_patterns`` on small generated cross-sections (Cu | Li | non-indexable LLZTO,
with pores) with the session's kinematical Li and Cu master patterns: every item carries
the contract's keys (docs: /work/briefs/dataset-interface.md, synthebsd.datasets).
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
from orix.quaternion import Orientation
from torch.utils.data import Dataset

from synthebsd.config import PatternConfig
from synthebsd.phases import get_phase
from synthebsd.simulate import render_patterns

PHASE_NAMES = {0: "Li", 1: "Cu"}


def _labels(xmap) -> dict[str, np.ndarray]:
    q = xmap.rotations.data.astype(np.float32)
    fz = q.copy()
    for pid, name in PHASE_NAMES.items():
        m = xmap.phase_id == pid
        if m.any():
            o = Orientation(xmap.rotations[m], symmetry=get_phase(name).point_group)
            fz[m] = o.reduce().data
    return {
        "quaternion": q,
        "quaternion_fz": fz,
        "phase_id": xmap.phase_id.astype(np.int64),
        "region": np.asarray(xmap.prop["region"], dtype=np.int64),
        "pore": np.asarray(xmap.prop["pore"], dtype=bool),
        "grain_id": np.asarray(xmap.prop["grain_id"], dtype=np.int64),
    }


class ContractPatternDataset(Dataset):
    """One pattern per item, the contract's keys (map-style, in memory)."""

    def __init__(self, scenes, detector):
        self.phase_names = dict(PHASE_NAMES)
        self.detector = detector
        self.detector_shape = tuple(detector.shape)
        self.forward_model_key = "test-kinematical"
        items = []
        for s, (xmap, patterns) in enumerate(scenes):
            lab = _labels(xmap)
            rows, cols = np.unravel_index(np.arange(xmap.size), xmap.shape)
            pc = np.asarray(detector.pc, dtype=np.float32).reshape(3)
            for i in range(xmap.size):
                items.append(
                    {
                        "pattern": torch.from_numpy(patterns[i].astype(np.float32))[None],
                        **{k: torch.as_tensor(v[i]) for k, v in lab.items()},
                        "dose_e_per_nm2": torch.tensor(0.0),
                        "damage_fraction": torch.tensor(0.0),
                        "mixing_self_weight": torch.tensor(1.0),
                        "pc": torch.from_numpy(pc),
                        "scene": torch.tensor(s),
                        "row": torch.tensor(int(rows[i])),
                        "col": torch.tensor(int(cols[i])),
                    }
                )
        self.items = items

    def __len__(self):
        return len(self.items)

    def __getitem__(self, i):
        return self.items[i]


class ContractSceneDataset(Dataset):
    """One whole scene per item (``SyntheticSceneDataset``'s keys)."""

    def __init__(self, scenes, detector):
        self.phase_names = dict(PHASE_NAMES)
        self.detector = detector
        self.detector_shape = tuple(detector.shape)
        self.items = []
        for s, (xmap, patterns) in enumerate(scenes):
            lab = _labels(xmap)
            shape = xmap.shape
            self.items.append(
                {
                    "patterns": torch.from_numpy(
                        patterns.reshape(*shape, *detector.shape).astype(np.float32)
                    ),
                    **{
                        k: torch.as_tensor(v.reshape(*shape, *v.shape[1:]))
                        for k, v in lab.items()
                        if k != "quaternion_fz"
                    },
                    "scene": torch.tensor(s),
                }
            )

    def __len__(self):
        return len(self.items)

    def __getitem__(self, i):
        return self.items[i]


def render_scene(make_cell, master_patterns, detector, seed, dose=1000.0, **cell):
    xmap = make_cell(seed, **cell)
    mps = {0: master_patterns["Li"], 1: master_patterns["Cu"]}
    config = PatternConfig(dose_counts=dose)
    patterns = render_patterns(xmap, mps, detector, config, 20.0, seed, 0, xmap.size)
    return xmap, patterns


@pytest.fixture(scope="session")
def scenes(make_cell, master_patterns, detector):
    """Three 10 × 12 cross-sections (Cu, Li, pores, LLZTO), 360 patterns."""
    cell = {"shape_px": (10, 12), "collector_um": 1.5, "metal_um": 2.5, "porosity": 0.3}
    return [render_scene(make_cell, master_patterns, detector, seed, **cell) for seed in (0, 1, 2)]


@pytest.fixture(scope="session")
def pattern_dataset(scenes, detector):
    return ContractPatternDataset(scenes, detector)


@pytest.fixture(scope="session")
def scene_dataset(scenes, detector):
    return ContractSceneDataset(scenes, detector)


@pytest.fixture(autouse=True)
def one_thread():
    """Tiny batches: one thread (two spin-wait on a shared 2-core machine, 10× slower)."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def tiny_config(**changes):
    from synthebsd.config import TrainConfig

    settings = {
        "model": "orientation_cnn_tiny",
        "steps": 60,
        "batch_size": 16,
        "learning_rate": 3e-3,
        "warmup_steps": 5,
        "checkpoint_every_steps": 1000,
        "log_every_steps": 10,
        "device": "cpu",
        "num_threads": 1,
    }
    return TrainConfig(**{**settings, **changes})


@pytest.fixture(scope="session", name="tiny_config")
def tiny_config_fixture():
    """:func:`tiny_config` as a fixture."""
    return tiny_config


@pytest.fixture(scope="session")
def trained(pattern_dataset, tmp_path_factory):
    """A tiny orientation model trained for 60 steps on the 360 patterns (seconds)."""
    from synthebsd.models import train

    torch.set_num_threads(1)
    out = tmp_path_factory.mktemp("trained")
    result = train(tiny_config(), pattern_dataset, out, progress=False)
    return result


@pytest.fixture(scope="session")
def random_rotations():
    """``random_rotations(n, seed)``: seeded uniform rotations (orix's ``random`` takes no
    seed)."""
    from orix.quaternion import Rotation

    def make(n: int, seed: int) -> Rotation:
        q = np.random.default_rng(seed).normal(size=(n, 4))
        return Rotation(q / np.linalg.norm(q, axis=1, keepdims=True))

    return make
