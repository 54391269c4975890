"""Validated configuration of every stage (pydantic models, units in the field names).

A configuration is plain data: it can be written to and read from YAML, and every field
is range-checked so that a bad value fails early with a :class:`ConfigError` naming the
field. One module per stage: the scene (microstructure generator and its presets), the
patterns (detector, master patterns, beam, camera, damage, mixing), the indexing,
the study that strings them together, and the neural models and their training.
"""

from synthebsd.config._base import ConfigError
from synthebsd.config._benchmark import (
    AXES,
    METHODS,
    BenchmarkConfig,
    BenchmarkGrid,
    BenchmarkPoint,
    InsituConfig,
    load_benchmark_config,
    load_insitu_config,
)
from synthebsd.config._datasets import (
    AugmentConfig,
    DatasetConfig,
    Draw,
    SceneSource,
    load_dataset_config,
)
from synthebsd.config._indexing import IndexingConfig
from synthebsd.config._models import (
    EvaluateConfig,
    EvaluationCase,
    OrientationNetConfig,
    PatternNormConfig,
    SegmentationNetConfig,
    TrainConfig,
    TrainDataConfig,
    TrainRunConfig,
    load_evaluate_config,
    load_train_config,
    load_train_run_config,
)
from synthebsd.config._patterns import (
    BeamConfig,
    CameraConfig,
    DamageConfig,
    DetectorConfig,
    MasterPatternConfig,
    MixingConfig,
    PatternConfig,
    SurfaceLayerConfig,
)
from synthebsd.config._scene import (
    GrainConfig,
    InterfaceConfig,
    IntragranularConfig,
    LayerConfig,
    MicrostructureConfig,
    PoreConfig,
    SceneRunConfig,
    SequenceConfig,
    TextureConfig,
    list_presets,
    load_microstructure_config,
    load_scene_run,
)
from synthebsd.config._study import DEMO_SCENE, IndexerModelConfig, StudyConfig, load_config

__all__ = [
    "AXES",
    "DEMO_SCENE",
    "METHODS",
    "AugmentConfig",
    "BeamConfig",
    "BenchmarkConfig",
    "BenchmarkGrid",
    "BenchmarkPoint",
    "CameraConfig",
    "ConfigError",
    "DamageConfig",
    "DatasetConfig",
    "DetectorConfig",
    "EvaluateConfig",
    "EvaluationCase",
    "Draw",
    "GrainConfig",
    "IndexerModelConfig",
    "IndexingConfig",
    "InsituConfig",
    "InterfaceConfig",
    "IntragranularConfig",
    "LayerConfig",
    "MasterPatternConfig",
    "MicrostructureConfig",
    "MixingConfig",
    "OrientationNetConfig",
    "PatternConfig",
    "PatternNormConfig",
    "PoreConfig",
    "SceneRunConfig",
    "SceneSource",
    "SegmentationNetConfig",
    "SequenceConfig",
    "StudyConfig",
    "SurfaceLayerConfig",
    "TextureConfig",
    "TrainConfig",
    "TrainDataConfig",
    "TrainRunConfig",
    "list_presets",
    "load_benchmark_config",
    "load_config",
    "load_dataset_config",
    "load_evaluate_config",
    "load_insitu_config",
    "load_microstructure_config",
    "load_scene_run",
    "load_train_config",
    "load_train_run_config",
]
