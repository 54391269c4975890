"""Master patterns of a data set, loaded once per process.

Until :func:`~synthebsd.simulate.get_master_pattern` keeps its own in-memory cache, this
module holds one per process, keyed like the disk cache
(:func:`~synthebsd.simulate.master_pattern_key`), so a stream or a dask worker reads and
checks each master-pattern file once, not once per scene. It is the only place that
does: when the in-memory cache lands in ``get_master_pattern``, :func:`master_pattern`
reduces to calling it.
"""

from __future__ import annotations

import contextlib
import functools
import io
import json
import threading
from pathlib import Path
from typing import TYPE_CHECKING

from synthebsd.config import DatasetConfig, MasterPatternConfig
from synthebsd.phases import get_phase
from synthebsd.simulate import get_master_pattern, master_pattern_key
from synthebsd.simulate.masterpatterns import SAMPLE_TILT_DEG

if TYPE_CHECKING:
    from kikuchipy.signals import EBSDMasterPattern

__all__ = ["dataset_master_pattern_keys", "master_pattern", "preload_master_patterns"]

_CACHE: dict[str, EBSDMasterPattern] = {}
_LOCK = threading.Lock()


def master_pattern(
    phase_name: str,
    energy_kv: float,
    config: MasterPatternConfig,
    cache_dir: str | Path | None = None,
    sample_tilt_deg: float = SAMPLE_TILT_DEG,
) -> EBSDMasterPattern:
    """The master pattern of a phase, from this process's cache or the disk cache.

    Thread-safe (dask and stream threads call it); computed or read at most once per key
    and process. Callers must not modify the returned pattern: it is shared.
    ``sample_tilt_deg`` (degrees, the data set's ``detector.sample_tilt_deg``) is the
    tilt of the dynamical engine's Monte Carlo.
    """
    phase, key = _phase_and_key(phase_name, float(energy_kv), config, float(sample_tilt_deg))
    with _LOCK:
        mp = _CACHE.get(key)
        if mp is None:
            # get_master_pattern prints when it computes; a stream's output is its progress bar.
            with contextlib.redirect_stdout(io.StringIO()):
                mp = get_master_pattern(phase, energy_kv, config, cache_dir, sample_tilt_deg)
            _CACHE[key] = mp
        return mp


@functools.lru_cache(maxsize=64)
def _phase_and_key(
    name: str, energy_kv: float, config: MasterPatternConfig, sample_tilt_deg: float
) -> tuple:
    """The phase and its cache key as a string (both take milliseconds to make)."""
    phase = get_phase(name)
    key = master_pattern_key(phase, energy_kv, config, sample_tilt_deg)
    return phase, json.dumps(key, sort_keys=True)


def _needed(config: DatasetConfig) -> list[tuple[str, MasterPatternConfig]]:
    """(phase name, master-pattern settings) of every phase and engine the data set uses."""
    out = []
    for engine in config.engines:
        mp_config = config.master_pattern.model_copy(update={"engine": engine})
        out += [(name, mp_config) for name in config.phase_names.values()]
    return out


def preload_master_patterns(config: DatasetConfig, cache_dir: str | Path | None = None) -> None:
    """Load (or compute) every master pattern a data set needs, e.g. before writing a store.

    Raises
    ------
    ValueError
        If one cannot be made (e.g. the kinematical engine refuses a non-orthogonal cell);
        the message names the phase and engine.
    """
    energy = config.detector.energy_kv
    tilt = config.detector.sample_tilt_deg
    for name, mp_config in _needed(config):
        try:
            master_pattern(name, energy, mp_config, cache_dir, tilt)
        except (ValueError, NotImplementedError) as e:
            raise ValueError(
                f"Cannot make the {mp_config.engine} master pattern of {name}: {e}"
            ) from e


def dataset_master_pattern_keys(config: DatasetConfig) -> list[dict]:
    """The cache keys of every master pattern of a data set (for its manifest)."""
    energy, tilt = config.detector.energy_kv, config.detector.sample_tilt_deg
    return [master_pattern_key(get_phase(n), energy, c, tilt) for n, c in _needed(config)]
