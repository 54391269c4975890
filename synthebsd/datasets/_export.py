"""A stored scene in the files users already read: kikuchipy h5ebsd, EDAX .ang, orix HDF5.

- ``h5ebsd``: the patterns as a kikuchipy EBSD signal (``kikuchipy.load`` gives the map
  step sizes in µm and the detector: shape, Bruker projection centre(s), tilts);
- ``ang``: the ground truth through orix's EDAX TSL ``.ang`` writer, with the frame
  conventions spelled out in the header (kikuchipy #748 lists what silently differs
  between tools) and the scene's projection centre in the EDAX TSL convention;
- ``orix``: the ground truth as an orix HDF5 crystal map with every label as a property.

Every value comes from the store itself (never re-simulated), so an export equals the
store's content.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Literal

import numpy as np
import zarr
from orix import io as orix_io
from orix.crystal_map import CrystalMap, PhaseList
from orix.quaternion import Rotation

from synthebsd.datasets._scenes import LABEL_DTYPES
from synthebsd.datasets._store import StoreError, read_manifest
from synthebsd.io import atomic_path, euler_fixes, save_crystal_map, save_patterns
from synthebsd.phases import get_phase

if TYPE_CHECKING:
    from kikuchipy.detectors import EBSDDetector
    from kikuchipy.signals import EBSD

__all__ = [
    "ANG_CONVENTIONS",
    "export_scene",
    "scene_detector",
    "scene_signal",
    "scene_truth",
    "write_ang",
]

ExportFormat = Literal["h5ebsd", "ang", "orix"]

#: Header lines of an exported .ang file (after orix's own), stating every convention.
ANG_CONVENTIONS = (
    "synthebsd ground truth (synthetic: these are the true orientations, not indexed ones)",
    "Euler angles: Bunge (Z X Z) phi1 PHI phi2 in radians, passive rotations from the",
    "  sample frame to the crystal frame (orix and EDAX TSL convention; MTEX reads them",
    "  with convertSpatial2EulerReferenceFrame or setting2, see its .ang import docs)",
    "Sample frame: x along the map columns (right), y down the map rows, z out of the",
    "  surface, as orix, kikuchipy and EDAX TSL; Bruker and Oxford sample frames differ",
    "  from it by 90 degrees about z (kikuchipy issue 748)",
    "x-star y-star z-star above: projection centre in the EDAX TSL convention (x* y* from",
    "  the bottom left in units of the detector width, z* in units of the width)",
)


def _open(store: str | Path, scene: int) -> tuple[dict, zarr.Group]:
    manifest = read_manifest(store)
    n = manifest["config"]["n_scenes"]
    if not 0 <= scene < n:
        raise ValueError(f"Scene {scene} is not in {store} (scenes 0 … {n - 1})")
    if not manifest["complete"]:
        raise StoreError(f"{store} is incomplete; finish it with `synthebsd generate --resume`")
    return manifest, zarr.open_group(store, mode="r")


def _labels(root: zarr.Group, scene: int) -> dict[str, np.ndarray]:
    return {name: np.asarray(root[f"labels/{name}"][scene]) for name in LABEL_DTYPES}


def scene_detector(store: str | Path, scene: int) -> EBSDDetector:
    """The detector of a stored scene: one projection centre, or one per pattern if they vary."""
    from kikuchipy.detectors import EBSDDetector  # lazy: kikuchipy takes seconds

    manifest, root = _open(store, scene)
    pc = np.asarray(root["labels/pc"][scene], dtype=np.float64)
    flat = pc.reshape(-1, 3)
    if np.all(flat == flat[0]):
        pc = flat[0]
    det = manifest["detector"]
    return EBSDDetector(
        shape=tuple(manifest["pattern_shape"]),
        pc=pc,
        sample_tilt=det["sample_tilt_deg"],
        tilt=det["camera_tilt_deg"],
        convention="bruker",
    )


def scene_signal(store: str | Path, scene: int) -> EBSD:
    """The patterns of a stored scene as a kikuchipy EBSD signal (µm steps, detector)."""
    from kikuchipy.signals import EBSD  # lazy: kikuchipy takes seconds

    manifest, root = _open(store, scene)
    signal = EBSD(np.asarray(root["patterns"][scene]))
    step = manifest["scenes"][scene]["step_size_um"]
    for axis, name in zip(signal.axes_manager.navigation_axes[::-1], ("y", "x"), strict=True):
        axis.scale = step
        axis.units = "um"
        axis.name = name
    signal.detector = scene_detector(store, scene)
    return signal


def scene_truth(store: str | Path, scene: int) -> CrystalMap:
    """The ground truth of a stored scene as an orix crystal map, labels as properties."""
    manifest, root = _open(store, scene)
    labels = _labels(root, scene)
    n_rows, n_cols = manifest["map_shape"]
    step = manifest["scenes"][scene]["step_size_um"]
    y, x = np.meshgrid(np.arange(n_rows) * step, np.arange(n_cols) * step, indexing="ij")
    phases = {int(pid): info["name"] for pid, info in manifest["phases"].items()}
    phase_id = labels["phase_id"].ravel().astype(int)
    present = sorted(set(np.unique(phase_id[phase_id >= 0]).tolist()) | set(phases))
    phase_list = PhaseList(phases=[get_phase(phases[p]) for p in present], ids=present)
    pc = labels["pc"].reshape(-1, 3).astype(np.float64)
    prop = {
        "region": labels["region"].ravel().astype(np.int64),
        "grain_id": labels["grain_id"].ravel().astype(np.int64),
        "pore": labels["pore"].ravel().astype(np.int8),
        "dose_e_per_nm2": labels["dose_e_per_nm2"].ravel().astype(np.float64),
        "damage_fraction": labels["damage_fraction"].ravel().astype(np.float64),
        "mixing_self_weight": labels["mixing_self_weight"].ravel().astype(np.float64),
        "pcx": pc[:, 0],
        "pcy": pc[:, 1],
        "pcz": pc[:, 2],
    }
    quat = labels["quaternion"].reshape(-1, 4).astype(np.float64)
    return CrystalMap(
        rotations=Rotation(quat),
        phase_id=phase_id,
        x=x.ravel(),
        y=y.ravel(),
        phase_list=phase_list,
        prop=prop,
        scan_unit="um",
    )


def write_ang(xmap: CrystalMap, detector: EBSDDetector, path: Path) -> None:
    """Write a crystal map as EDAX TSL ``.ang`` (orix's writer) with the frames stated.

    The header gets the projection centre of ``detector`` in the EDAX TSL convention
    (x*, y*, z*; the mean if it varies), its sample and camera tilts, and the lines of
    :data:`ANG_CONVENTIONS`; ``region`` and ``grain_id`` are extra columns. orix and
    MTEX read the file; points without a phase are written as not indexed (CI −1), and
    orix writes 0 in their extra columns (the orix HDF5 export keeps every label).
    """
    with atomic_path(path) as tmp:
        orix_io.save(tmp, xmap, overwrite=True, extra_prop=["region", "grain_id"])
        lines = tmp.read_text().splitlines()
        pc = np.asarray(detector.pc_tsl(), dtype=np.float64).reshape(-1, 3).mean(axis=0)
        values = {"# x-star": pc[0], "# y-star": pc[1], "# z-star": pc[2]}
        out = []
        for line in lines:
            name = line[: line.find(" ", 2)] if line.startswith("# ") else ""
            if name in values:
                line = f"{name:<23}{values[name]:.6f}"
            out.append(line)
            if name == "# z-star":
                out.append(f"# SampleTiltAngle        {float(detector.sample_tilt):.6f}")
                out.append(f"# CameraElevationAngle   {float(detector.tilt):.6f}")
        first = next(i for i, line in enumerate(out) if line.startswith("# Phase"))
        block = [f"# {text}" for text in ANG_CONVENTIONS] + ["#"]
        out = out[:first] + block + out[first:]
        data = [i for i, line in enumerate(out) if line and not line.startswith("#")]
        indexed = np.asarray(xmap.is_indexed)
        for row, euler in euler_fixes(xmap.rotations).items():
            if indexed[row]:  # orix writes 4π for the others
                # Each angle is %8.5f and two spaces: the first 28 characters.
                line = out[data[row]]
                out[data[row]] = "  ".join(f"{a:8.5f}" for a in euler) + line[28:]
        tmp.write_text("\n".join(out) + "\n")


def export_scene(store: str | Path, scene: int, to: ExportFormat, out_dir: str | Path) -> Path:
    """Write one stored scene as ``h5ebsd``, ``ang`` or ``orix`` into ``out_dir``.

    Returns
    -------
    path
        ``out_dir/scene_<K>.h5`` (h5ebsd patterns), ``scene_<K>.ang`` or
        ``scene_<K>_truth.h5`` (orix); written atomically.

    Raises
    ------
    ValueError
        For an unknown format or scene; :class:`StoreError` for a store that is not one
        or is incomplete.
    """
    out_dir = Path(out_dir)
    if to == "h5ebsd":
        path = out_dir / f"scene_{scene}.h5"
        save_patterns(scene_signal(store, scene), path)
    elif to == "ang":
        path = out_dir / f"scene_{scene}.ang"
        write_ang(scene_truth(store, scene), scene_detector(store, scene), path)
    elif to == "orix":
        path = out_dir / f"scene_{scene}_truth.h5"
        save_crystal_map(scene_truth(store, scene), path)
    else:
        raise ValueError(f"Export format must be h5ebsd, ang or orix, got {to!r}")
    return path
