"""Workflows: what the command line runs, each writing maps, figures and a JSON summary.

- :func:`run_study`: the end-to-end method-validation study (``synthebsd demo``);
- :func:`write_microstructure`: scenes and in-situ sequences (``synthebsd scene``);
- :func:`index_map`: the validated indexing pipeline on measured maps (``synthebsd index``);
- :func:`write_pattern_gallery`: one orientation under dose and damage (``synthebsd gallery``);
- :func:`predict_map`: a trained neural checkpoint on measured maps (``synthebsd predict``).
"""

from synthebsd.workflows._gallery import write_pattern_gallery
from synthebsd.workflows._index_map import detector_for_signal, index_map, map_geometry
from synthebsd.workflows._predict import predict_map
from synthebsd.workflows._scene import write_microstructure
from synthebsd.workflows._study import format_summary, run_study

__all__ = [
    "detector_for_signal",
    "format_summary",
    "index_map",
    "map_geometry",
    "predict_map",
    "run_study",
    "write_microstructure",
    "write_pattern_gallery",
]
