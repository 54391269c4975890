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
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

import h5py
import numpy as np

from synthebsd.io._atomic import atomic_path
from synthebsd.phases import atomic_number

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


def write_emsoft_master_pattern(
    path: str | Path,
    master_pattern: EBSDMasterPattern,
    energy_kv: float,
    metadata: dict,
    to_stereographic: Callable[[np.ndarray], np.ndarray],
    debye_waller_nm2: float | None = None,
) -> Path:
    """Write a master pattern in EMsoft's HDF5 master-pattern layout, atomically.

    The file is written under a temporary name (:func:`~synthebsd.io.atomic_path`) and
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
    to_stereographic
        The projection of one Lambert hemisphere (n, n) onto the stereographic n × n grid
        (:func:`synthebsd.simulate.stereographic_from_lambert`), for the ``masterSP*``
        datasets.
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
        atom_types[i] = atomic_number(atom.element)
    a, b, c, alpha, beta, gamma = (float(v) for v in phase.structure.lattice.abcABG())
    lattice_nm_deg = np.array([a / 10.0, b / 10.0, c / 10.0, alpha, beta, gamma])

    def _bytes(text: str) -> np.ndarray:
        return np.array([text.encode()])

    compression = {"compression": "gzip", "compression_opts": 4, "shuffle": True}
    with atomic_path(path) as tmp:
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
                stereo = to_stereographic(hemisphere)[::-1]
                em.create_dataset(key, data=stereo[None], **compression)
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
