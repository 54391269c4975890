"""Workflows: what the command line runs, each writing maps, figures and a JSON summary.

- :func:`run_study`: the end-to-end method-validation study (``synthebsd demo``);
- :func:`write_microstructure`: scenes and in-situ sequences (``synthebsd scene``);
- :func:`index_map`: the validated indexing pipeline on measured maps (``synthebsd index``);
- :func:`write_pattern_gallery`: one orientation under dose and damage (``synthebsd gallery``);
- :func:`generate_dataset`, :func:`verify_dataset`, :func:`export_dataset_scene`: training
  data stores (``synthebsd generate``, ``verify``, ``export``).
- :func:`predict_map`: a trained neural checkpoint on measured maps (``synthebsd predict``).
- :func:`evaluate_checkpoint`: a checkpoint on held-out scenes beside the classical methods
  (``synthebsd evaluate``).
- :func:`train_run`: a neural model trained on streamed or stored data (``synthebsd train``);
  :func:`with_measured_detector` gives the run a measured file's detector;
  :func:`calibrate_run`: its predicted error calibrated on held-out data
  (``synthebsd calibrate``).
- :func:`run_benchmark`: every indexing method over a grid of dose, damage and model
  mismatch (``synthebsd benchmark``); :func:`run_insitu`: plating and stripping frames
  with accumulating beam damage, indexed by every method (``synthebsd insitu``).
- :func:`index_run`: one truth rendered by a forward model and indexed by every method,
  as a benchmark point does it (benchmarks/).
- :class:`PeakMemory`: the peak resident memory of a run (benchmark points, benchmarks/).
"""

from synthebsd.workflows._benchmark import point_study_config, run_benchmark, run_point
from synthebsd.workflows._calibrate import calibrate_run
from synthebsd.workflows._evaluate import evaluate_checkpoint, format_evaluation
from synthebsd.workflows._export import export_dataset_scene
from synthebsd.workflows._gallery import write_pattern_gallery
from synthebsd.workflows._generate import generate_dataset
from synthebsd.workflows._index_map import detector_for_signal, index_map, map_geometry
from synthebsd.workflows._insitu import run_insitu
from synthebsd.workflows._memory import PeakMemory
from synthebsd.workflows._predict import predict_map
from synthebsd.workflows._runs import index_run
from synthebsd.workflows._scene import write_microstructure
from synthebsd.workflows._study import format_summary, index_methods, run_study
from synthebsd.workflows._train import build_training_data, train_run, with_measured_detector
from synthebsd.workflows._verify import verify_dataset

__all__ = [
    "PeakMemory",
    "calibrate_run",
    "detector_for_signal",
    "evaluate_checkpoint",
    "format_evaluation",
    "export_dataset_scene",
    "format_summary",
    "generate_dataset",
    "index_map",
    "index_methods",
    "index_run",
    "map_geometry",
    "point_study_config",
    "predict_map",
    "run_benchmark",
    "run_insitu",
    "run_point",
    "run_study",
    "build_training_data",
    "train_run",
    "with_measured_detector",
    "verify_dataset",
    "write_microstructure",
    "write_pattern_gallery",
]
