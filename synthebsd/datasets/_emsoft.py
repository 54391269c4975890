"""Master patterns in EMsoft's HDF5 layout, the one ``kikuchipy.load`` reads back.

The file holds what kikuchipy's ``emsoft_ebsd_master_pattern`` reader needs: the program
name ``EMheader/EBSDmaster/ProgramName``, the crystal in ``CrystalData`` (lattice in nm,
Debye–Waller factors in nm², atomic numbers), the name lists in ``NMLparameters`` and the
data in ``EMData/EBSDmaster`` (square Lambert ``mLPNH``/``mLPSH`` and stereographic
``masterSPNH``/``masterSPSH``, one energy). A JSON string attribute on the root holds the
caller's metadata (cache key, engine, parameters) and a SHA-256 of the Lambert data, so
that a reader can tell a complete file for the right key from a stale or damaged one.

Read it back with ``kikuchipy.load(path, projection="lambert", hemisphere="both")``;
kikuchipy's defaults (``projection="stereographic"``, ``hemisphere="upper"``) give the
stereographic upper hemisphere.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

import h5py
import numpy as np

if TYPE_CHECKING:
    from kikuchipy.signals import EBSDMasterPattern

__all__ = ["read_emsoft_metadata", "write_emsoft_master_pattern"]

#: Root attribute holding the JSON metadata.
METADATA_ATTR = "synthebsd_metadata"
#: Root attribute holding the SHA-256 of the Lambert data (upper then lower hemisphere).
CHECKSUM_ATTR = "synthebsd_lambert_sha256"

_PROGRAM_NAME = "EMEBSDmaster.f90"


def _lambert_checksum(upper: np.ndarray, lower: np.ndarray) -> str:
    digest = hashlib.sha256()
    for array in (upper, lower):
        digest.update(np.ascontiguousarray(array, dtype=np.float32).tobytes())
    return digest.hexdigest()


def _stereographic_from_lambert(hemisphere: np.ndarray) -> np.ndarray:
    """Resample one square-Lambert hemisphere (n × n) onto a stereographic n × n grid.

    Pixel (row, column) of the output is the stereographic point (X, Y) =
    (``linspace(-1, 1, n)[column]``, ``linspace(-1, 1, n)[row]``), the layout
    kikuchipy's ``as_lambert`` expects after reading; points outside the unit circle
    are 0. The Lambert grid is EMsoft's: rows are its Y, columns its X.
    """
    from scipy.ndimage import map_coordinates

    n = hemisphere.shape[-1]
    grid = np.linspace(-1.0, 1.0, n)
    x, y = np.meshgrid(grid, grid)
    r2 = x * x + y * y
    inside = r2 <= 1.0
    vx, vy = 2.0 * x / (1.0 + r2), 2.0 * y / (1.0 + r2)
    vz = (1.0 - r2) / (1.0 + r2)

    # EMsoft's square Lambert projection of unit vectors (Callahan & De Graef, 2013)
    q = np.sqrt(np.clip(2.0 * (1.0 - np.abs(vz)), 0.0, None))
    with np.errstate(divide="ignore", invalid="ignore"):
        x_major = np.abs(vy) <= np.abs(vx)
        ratio_x = np.where(vx != 0, np.arctan(vy / np.where(vx != 0, vx, 1.0)), 0.0)
        ratio_y = np.where(vy != 0, np.arctan(vx / np.where(vy != 0, vy, 1.0)), 0.0)
    lam_x = np.where(
        x_major,
        np.sign(vx) * q * np.sqrt(np.pi) / 2,
        np.sign(vy) * q * 2 / np.sqrt(np.pi) * ratio_y,
    )
    lam_y = np.where(
        x_major,
        np.sign(vx) * q * 2 / np.sqrt(np.pi) * ratio_x,
        np.sign(vy) * q * np.sqrt(np.pi) / 2,
    )
    scale = (n - 1) / 2
    cols = scale * lam_x / np.sqrt(np.pi / 2) + scale
    rows = scale * lam_y / np.sqrt(np.pi / 2) + scale
    values = map_coordinates(
        np.asarray(hemisphere, dtype=np.float64), [rows, cols], order=1, mode="nearest"
    )
    return np.where(inside, values, 0.0).astype(np.float32)


def _element_number(raw: Any) -> int:
    from de_ebsd.crystal.data.scattering_tables import ELEMENT_SYMBOLS

    from synthebsd.simulate._dynamical import element_symbol

    return ELEMENT_SYMBOLS.index(element_symbol(raw)) + 1


def write_emsoft_master_pattern(
    path: str | Path,
    master_pattern: EBSDMasterPattern,
    energy_kv: float,
    metadata: dict,
    debye_waller_nm2: float | None = None,
) -> Path:
    """Write a master pattern in EMsoft's HDF5 master-pattern layout, atomically.

    The file is written to ``<stem>.partial-<pid>.h5`` in the same folder and then
    renamed onto ``path``, so ``path`` is either absent, the old file or the complete
    new one.

    Parameters
    ----------
    path
        Output file (``.h5``). Its folder is created if missing.
    master_pattern
        Square Lambert projection, ``hemisphere="both"``, data shape (2, n, n) with
        the upper hemisphere first, n odd, and a phase with a space group and a
        structure (lattice in Å, atoms with element, position and occupancy). The
        phase name becomes EMsoft's ``xtalname`` ``<name>/<name>.xtal``, from which
        kikuchipy takes the phase name.
    energy_kv
        Beam energy in kV of the master pattern.
    metadata
        JSON-serialisable dictionary (cache key, engine name and version,
        parameters); read it back with :func:`read_emsoft_metadata`.
    debye_waller_nm2
        Debye–Waller factor B in nm² written for atoms without their own
        ``Uisoequiv`` (U in Å², B = 8π²U / 100 nm²); 0 if not given.

    Returns
    -------
    path
        The written file.

    Raises
    ------
    ValueError
        If the master pattern is not a two-hemisphere square Lambert projection or
        has no phase structure.
    TypeError
        If ``metadata`` is not JSON-serialisable.
    """
    path = Path(path)
    if master_pattern.projection != "lambert" or master_pattern.hemisphere != "both":
        raise ValueError(
            "Need a master pattern with projection 'lambert' and hemisphere 'both', got "
            f"{master_pattern.projection!r} and {master_pattern.hemisphere!r}"
        )
    data = np.asarray(master_pattern.data, dtype=np.float32)
    if (
        data.ndim != 3
        or data.shape[0] != 2
        or data.shape[1] != data.shape[2]
        or data.shape[1] % 2 == 0
    ):
        raise ValueError(f"Need data of shape (2, n, n) with n odd, got {data.shape}")
    phase = master_pattern.phase
    if phase.space_group is None or len(phase.structure) == 0:
        raise ValueError(f"Phase {phase.name!r} needs a space group and atoms")
    try:
        metadata_json = json.dumps(metadata, sort_keys=True)
    except TypeError as err:
        raise TypeError(f"metadata must be JSON-serialisable: {err}") from err

    n = data.shape[1]
    npx = (n - 1) // 2
    energy = float(energy_kv)
    name = phase.name or "phase"
    upper, lower = data[0], data[1]

    atom_data = np.zeros((5, len(phase.structure)), dtype=np.float32)
    atom_types = np.zeros(len(phase.structure), dtype=np.int32)
    for i, atom in enumerate(phase.structure):
        u_iso = float(atom.Uisoequiv or 0.0)
        b_nm2 = 8.0 * np.pi**2 * u_iso / 100.0 if u_iso > 0 else float(debye_waller_nm2 or 0.0)
        atom_data[:, i] = [*np.asarray(atom.xyz, dtype=float), float(atom.occupancy), b_nm2]
        atom_types[i] = _element_number(atom.element)
    a, b, c, alpha, beta, gamma = (float(v) for v in phase.structure.lattice.abcABG())
    lattice_nm_deg = np.array([a / 10.0, b / 10.0, c / 10.0, alpha, beta, gamma])

    def _bytes(text: str) -> np.ndarray:
        return np.array([text.encode()])

    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f"{path.stem}.partial-{os.getpid()}.h5")
    compression = {"compression": "gzip", "compression_opts": 4, "shuffle": True}
    try:
        with h5py.File(tmp, "w") as f:
            f.attrs[METADATA_ATTR] = metadata_json
            f.attrs[CHECKSUM_ATTR] = _lambert_checksum(upper, lower)
            f.create_dataset("EMheader/EBSDmaster/ProgramName", data=_bytes(_PROGRAM_NAME))

            crystal = f.create_group("CrystalData")
            crystal.create_dataset("AtomData", data=atom_data)
            crystal.create_dataset("Atomtypes", data=atom_types)
            crystal.create_dataset("LatticeParameters", data=lattice_nm_deg)
            crystal.create_dataset("Natomtypes", data=np.array([len(atom_types)], dtype=np.int32))
            crystal.create_dataset(
                "SpaceGroupNumber", data=np.array([phase.space_group.number], dtype=np.int32)
            )
            crystal.create_dataset("SpaceGroupSetting", data=np.array([1], dtype=np.int32))
            crystal.create_dataset("Source", data=_bytes("synthebsd"))

            nml = f.create_group("NMLparameters")
            master_nml = nml.create_group("EBSDMasterNameList")
            master_nml.create_dataset("npx", data=np.array([npx], dtype=np.int32))
            master_nml.create_dataset("latgridtype", data=_bytes("Lambert"))
            mc_nml = nml.create_group("MCCLNameList")
            mc_nml.create_dataset("EkeV", data=np.array([energy]))
            mc_nml.create_dataset("Ehistmin", data=np.array([energy]))
            mc_nml.create_dataset("Ebinsize", data=np.array([1.0]))
            mc_nml.create_dataset("xtalname", data=_bytes(f"{name}/{name}.xtal"))

            em = f.create_group("EMData/EBSDmaster")
            em.create_dataset("EkeVs", data=np.array([energy], dtype=np.float32))
            em.create_dataset("numEbins", data=np.array([1], dtype=np.int32))
            em.create_dataset("numset", data=np.array([1], dtype=np.int32))
            em.create_dataset("xtalname", data=_bytes(f"{name}/{name}.xtal"))
            em.create_dataset("mLPNH", data=upper[None, None], **compression)
            em.create_dataset("mLPSH", data=lower[None, None], **compression)
            # kikuchipy flips stereographic data up-down when reading
            for key, hemisphere in (("masterSPNH", upper), ("masterSPSH", lower)):
                stereo = _stereographic_from_lambert(hemisphere)[::-1]
                em.create_dataset(key, data=stereo[None], **compression)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    return path


def read_emsoft_metadata(path: str | Path, verify_data: bool = True) -> dict:
    """Return the metadata stored by :func:`write_emsoft_master_pattern`.

    Parameters
    ----------
    path
        The HDF5 file.
    verify_data
        Whether to check the Lambert data against the stored SHA-256 as well.

    Returns
    -------
    metadata
        The dictionary given when writing.

    Raises
    ------
    ValueError
        Naming the file, if it is missing, unreadable or truncated, has no (valid)
        metadata, or (with ``verify_data``) its data do not match the checksum.
    """
    path = Path(path)
    try:
        with h5py.File(path, "r") as f:
            if METADATA_ATTR not in f.attrs:
                raise ValueError(f"{str(path)!r} has no {METADATA_ATTR!r} attribute")
            text = f.attrs[METADATA_ATTR]
            metadata = json.loads(text.decode() if isinstance(text, bytes) else str(text))
            if verify_data:
                em = f["EMData/EBSDmaster"]
                checksum = _lambert_checksum(em["mLPNH"][0, 0], em["mLPSH"][0, 0])
                if checksum != f.attrs.get(CHECKSUM_ATTR):
                    raise ValueError(f"{str(path)!r}: master pattern data do not match checksum")
    except json.JSONDecodeError as err:
        raise ValueError(f"{str(path)!r}: metadata is not valid JSON: {err}") from err
    except ValueError:
        raise
    except (OSError, KeyError, TypeError, RuntimeError) as err:
        raise ValueError(f"Cannot read master-pattern metadata from {str(path)!r}: {err}") from err
    if not isinstance(metadata, dict):
        raise ValueError(f"{str(path)!r}: metadata is not a JSON object")
    return metadata
