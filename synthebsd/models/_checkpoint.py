"""Checkpoints: safetensors weights with JSON metadata in the same file, checked on load.

One ``.safetensors`` file holds the weights and, in its header, the metadata as JSON
(key ``"synthebsd"``): the model's registry name and config, the phase list and the
symmetry used, the detector (shape, Bruker projection centre, tilts), the pattern
normalisation, the forward-model key of the training data, the projection-centre and
dose range the training covered, the training settings, the held-out calibrations
(``uncertainty_calibration``, ``pc_correction``, and ``test_time_flip`` and
``test_time_rotations_deg`` when the calibration was fitted on predictions averaged over
test-time views), package versions and a SHA-256
of the weights. Loading rebuilds the model from the registry, verifies the checksum and
refuses patterns, detectors or phases that do not fit, with errors that say what
differs; inputs outside the covered range raise :class:`OutsideTrainingRangeWarning`.
"""

from __future__ import annotations

import hashlib
import json
import warnings
from dataclasses import dataclass
from importlib import metadata as importlib_metadata
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import torch
from torch import nn

import synthebsd
from synthebsd.io import atomic_path, json_ready
from synthebsd.models._registry import create_model

if TYPE_CHECKING:
    from kikuchipy.detectors import EBSDDetector

__all__ = [
    "CHECKPOINT_FORMAT",
    "Checkpoint",
    "CheckpointError",
    "IncompatibleInputError",
    "OutsideTrainingRangeWarning",
    "detector_metadata",
    "load_checkpoint",
    "package_versions",
    "read_checkpoint_metadata",
    "save_checkpoint",
    "weights_sha256",
]

#: Format tag written into every checkpoint; loading refuses any other.
CHECKPOINT_FORMAT = "synthebsd-checkpoint/1"
_KEY = "synthebsd"
_TILT_TOLERANCE_DEG = 1.0


class CheckpointError(ValueError):
    """A checkpoint file that cannot be used: unreadable, truncated, corrupt or foreign."""


class IncompatibleInputError(ValueError):
    """Patterns, a detector or phases that do not fit the checkpoint's model."""


class OutsideTrainingRangeWarning(UserWarning):
    """Inputs outside the projection-centre or dose range the model was trained on."""


def package_versions() -> dict[str, str | None]:
    """Versions of synthebsd and the packages a checkpoint depends on (None: missing)."""
    out: dict[str, str | None] = {"synthebsd": synthebsd.__version__}
    for name in ("torch", "roma", "safetensors", "orix", "kikuchipy", "numpy"):
        try:
            out[name] = importlib_metadata.version(name)
        except importlib_metadata.PackageNotFoundError:
            out[name] = None
    return out


def detector_metadata(detector: EBSDDetector) -> dict[str, Any]:
    """JSON-ready description of a kikuchipy detector (one PC: the mean, Bruker)."""
    pc = np.asarray(detector.pc, dtype=float).reshape(-1, 3).mean(axis=0)
    return {
        "shape_px": [int(n) for n in detector.shape],
        "pc_bruker": [float(v) for v in pc],
        "sample_tilt_deg": float(detector.sample_tilt),
        "camera_tilt_deg": float(detector.tilt),
        "azimuthal_deg": float(detector.azimuthal),
        "twist_deg": float(detector.twist),
        "binning": int(detector.binning),
        "px_size_um": float(detector.px_size),
    }


def weights_sha256(state: dict[str, torch.Tensor]) -> str:
    """SHA-256 over the names, dtypes, shapes and bytes of a state dict, in name order."""
    h = hashlib.sha256()
    for name in sorted(state):
        t = state[name].detach().cpu().contiguous()
        h.update(f"{name}|{t.dtype}|{tuple(t.shape)}|".encode())
        h.update(t.reshape(-1).view(torch.uint8).numpy().tobytes() if t.numel() else b"")
    return h.hexdigest()


@dataclass
class Checkpoint:
    """A loaded model and its metadata (see the module docstring for the fields)."""

    model: nn.Module
    metadata: dict[str, Any]
    path: Path | None = None

    @property
    def task(self) -> str:
        return self.metadata["task"]

    @property
    def phase_names(self) -> dict[int, str]:
        """Phase id → name, as in the training data (metal 0, collector 1, ...)."""
        return {int(k): v for k, v in self.metadata["phases"].items()}

    @property
    def detector_shape(self) -> tuple[int, int]:
        return tuple(self.metadata["detector"]["shape_px"])

    @property
    def max_uncertainty_deg(self) -> float:
        """Predicted error (°) above which an orientation model calls a point not indexed."""
        return float(self.metadata.get("max_uncertainty_deg", 5.0))

    @property
    def uncertainty_calibration(self) -> dict | None:
        """The held-out calibration of the predicted error
        (:func:`~synthebsd.models.fit_uncertainty_calibration`), or None."""
        return self.metadata.get("uncertainty_calibration")

    @property
    def test_time_flip(self) -> bool:
        """Whether predictions average each pattern with its mirror
        (:func:`~synthebsd.models.predict_with_flip`); its calibration was fitted so."""
        return bool(self.metadata.get("test_time_flip", False))

    @property
    def test_time_rotations_deg(self) -> tuple[float, ...]:
        """In-plane turns (degrees) of the extra flip pairs its predictions average
        (:class:`~synthebsd.models.InferenceViews`); its calibration was fitted so."""
        return tuple(float(r) for r in self.metadata.get("test_time_rotations_deg", ()))

    @property
    def pc_correction(self) -> dict | None:
        """The held-out fit of the rotation a PC offset makes the network read
        (:func:`~synthebsd.models.fit_pc_correction`), or None."""
        return self.metadata.get("pc_correction")

    def check_patterns(self, shape: tuple[int, ...]) -> None:
        """Refuse patterns whose (rows, cols) differ from the training detector's."""
        got = tuple(int(n) for n in shape[-2:])
        if got != self.detector_shape:
            raise IncompatibleInputError(
                f"Patterns are {got} px (rows, cols) but this checkpoint was trained on "
                f"{self.detector_shape} px patterns: bin or crop them, or train for this detector"
            )

    def check_phases(self, names: list[str] | tuple[str, ...]) -> None:
        """Refuse a phase list that differs from the checkpoint's (as sets of names)."""
        have = sorted(self.phase_names.values())
        if sorted(names) != have:
            raise IncompatibleInputError(
                f"Phases {sorted(names)} do not fit this checkpoint, trained on {have}"
            )

    def check_detector(self, detector: EBSDDetector) -> list[str]:
        """Refuse another pattern shape or tilt; warn outside the covered PC range.

        Returns
        -------
        warnings
            The messages of the :class:`OutsideTrainingRangeWarning` issued (also warned).
        """
        self.check_patterns(tuple(detector.shape))
        trained = self.metadata["detector"]
        given = detector_metadata(detector)
        for key in ("sample_tilt_deg", "camera_tilt_deg"):
            if abs(given[key] - trained[key]) > _TILT_TOLERANCE_DEG:
                raise IncompatibleInputError(
                    f"The detector's {key} is {given[key]:g} but this checkpoint was trained "
                    f"with {trained[key]:g} (tolerance {_TILT_TOLERANCE_DEG:g}°)"
                )
        coverage = self.metadata.get("coverage") or {}
        lo, hi = coverage.get("pc_bruker_min"), coverage.get("pc_bruker_max")
        messages = []
        if lo is not None and hi is not None:
            pcs = np.asarray(detector.pc, dtype=float).reshape(-1, 3)
            for i, name in enumerate(("PCx", "PCy", "PCz")):
                a, b = float(pcs[:, i].min()), float(pcs[:, i].max())
                if a < lo[i] - 1e-6 or b > hi[i] + 1e-6:
                    messages.append(
                        f"{name} {a:.4f}-{b:.4f} is outside the trained range "
                        f"{lo[i]:.4f}-{hi[i]:.4f}"
                    )
        for m in messages:
            warnings.warn(m, OutsideTrainingRangeWarning, stacklevel=2)
        return messages

    def check_dose(self, dose_counts: float) -> list[str]:
        """Warn when a map's estimated dose (counts at the background peak) is outside range."""
        coverage = self.metadata.get("coverage") or {}
        lo, hi = coverage.get("dose_counts_min"), coverage.get("dose_counts_max")
        if lo is None or hi is None or lo <= dose_counts <= hi:
            return []
        m = f"Dose {dose_counts:.4g} counts/pixel is outside the trained range {lo:.4g}-{hi:.4g}"
        warnings.warn(m, OutsideTrainingRangeWarning, stacklevel=2)
        return [m]


def save_checkpoint(path: str | Path, model: nn.Module, metadata: dict[str, Any]) -> Path:
    """Write weights and metadata to one ``.safetensors`` file, atomically.

    Parameters
    ----------
    path
        Output file (``.safetensors``).
    model
        A model from :func:`~synthebsd.models.create_model` (``model_name`` and ``config``
        are recorded); a DDP wrapper is unwrapped.
    metadata
        Further metadata (phases, detector, coverage, training, ...); ``format``,
        ``task``, ``model``, ``versions`` and ``weights_sha256`` are filled in here.

    Returns
    -------
    path
    """
    from safetensors.torch import save_file  # lazy: safetensors imports torch

    path = Path(path)
    if path.suffix != ".safetensors":
        raise ValueError(f"Checkpoints are .safetensors files, got {path.name}")
    model = getattr(model, "module", model)
    state = {k: v.detach().cpu().contiguous() for k, v in model.state_dict().items()}
    meta = {
        **metadata,
        "format": CHECKPOINT_FORMAT,
        "task": model.task,
        "model": {"name": model.model_name, "config": model.config.model_dump(mode="json")},
        "versions": package_versions(),
        "weights_sha256": weights_sha256(state),
    }
    text = json.dumps(json_ready(meta), allow_nan=False, sort_keys=True)
    with atomic_path(path) as tmp:
        save_file(state, tmp, metadata={_KEY: text})
    return path


def read_checkpoint_metadata(path: str | Path) -> dict[str, Any]:
    """The metadata of a checkpoint without loading its weights.

    Raises
    ------
    FileNotFoundError
        If ``path`` does not exist.
    CheckpointError
        If the file is not a readable safetensors file or holds no synthebsd metadata.
    """
    from safetensors import safe_open  # lazy: safetensors imports torch

    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"No checkpoint file {path}")
    try:
        with safe_open(str(path), framework="pt") as f:
            header = f.metadata() or {}
    except Exception as e:  # safetensors raises SafetensorError, OSError, ...
        raise CheckpointError(
            f"{path} is not a readable safetensors checkpoint (truncated or corrupt?): {e}"
        ) from e
    if _KEY not in header:
        raise CheckpointError(f"{path} is a safetensors file without synthebsd metadata")
    try:
        meta = json.loads(header[_KEY])
    except json.JSONDecodeError as e:
        raise CheckpointError(f"{path}: its metadata is not valid JSON ({e})") from e
    if meta.get("format") != CHECKPOINT_FORMAT:
        raise CheckpointError(
            f"{path} has checkpoint format {meta.get('format')!r}; this synthebsd reads "
            f"{CHECKPOINT_FORMAT!r}"
        )
    return meta


def load_checkpoint(path: str | Path, device: str | torch.device = "cpu") -> Checkpoint:
    """Load a checkpoint: rebuild the registered model, verify and load its weights.

    Parameters
    ----------
    path
        A file written by :func:`save_checkpoint`.
    device
        Device to put the model on; the model is in eval mode.

    Raises
    ------
    FileNotFoundError
        If ``path`` does not exist.
    CheckpointError
        If the file is truncated or corrupt (unreadable, or weights that do not match
        their SHA-256), has no or foreign metadata, or names a model or weights that this
        synthebsd cannot build.
    """
    from safetensors.torch import load_file  # lazy: safetensors imports torch

    path = Path(path)
    meta = read_checkpoint_metadata(path)
    try:
        state = load_file(str(path))
    except Exception as e:
        raise CheckpointError(f"Cannot read the weights in {path} (truncated?): {e}") from e
    if weights_sha256(state) != meta.get("weights_sha256"):
        raise CheckpointError(f"The weights in {path} do not match their checksum: corrupt file")
    try:
        model = create_model(meta["model"]["name"], **meta["model"]["config"])
        model.load_state_dict(state, strict=True)
    except (KeyError, ValueError, RuntimeError) as e:
        raise CheckpointError(f"{path} describes a model this synthebsd cannot build: {e}") from e
    model.to(device).eval()
    return Checkpoint(model=model, metadata=meta, path=path)
