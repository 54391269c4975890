"""Configuration of the neural models and their training (:mod:`synthebsd.models`).

Network settings live in :class:`OrientationNetConfig` and :class:`SegmentationNetConfig`
(the registry, :func:`synthebsd.models.create_model`, fills them from a model name and
keyword overrides); :class:`TrainConfig` holds everything the training loop needs besides
the data. Units are in the field names (``_deg``, ``_px``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

from pydantic import Field, field_validator, model_validator

from synthebsd.config._base import StrictModel, merged_mapping, read_yaml_mapping, validated
from synthebsd.config._datasets import AugmentConfig, DatasetConfig
from synthebsd.config._indexing import IndexingConfig
from synthebsd.config._patterns import DetectorConfig, MasterPatternConfig, PatternConfig
from synthebsd.config._scene import MicrostructureConfig
from synthebsd.config._study import resolve_scene

__all__ = [
    "EvaluateConfig",
    "EvaluationCase",
    "OrientationNetConfig",
    "PatternNormConfig",
    "SegmentationNetConfig",
    "TrainConfig",
    "TrainDataConfig",
    "TrainRunConfig",
    "load_evaluate_config",
    "load_train_config",
    "load_train_run_config",
]


class PatternNormConfig(StrictModel):
    """How a network normalises raw detector counts (inside the network, on its device).

    Each pattern is divided by a Gaussian-blurred copy of itself (σ =
    ``background_sigma_px``; a dynamic background correction that removes the smooth
    backscatter background and the dose), then standardised to zero mean and unit
    variance. ``background_sigma_px = 0`` skips the division (standardisation only).
    """

    background_sigma_px: float = Field(
        6.0, ge=0.0, le=100.0, description="σ of the dynamic background in detector pixels"
    )
    epsilon: float = Field(1e-3, gt=0.0, description="added to counts before the division")


class OrientationNetConfig(StrictModel):
    """A CNN that maps one pattern to an orientation, a region class and an uncertainty.

    A patch layer (``stem_patch_px`` × ``stem_patch_px`` pixels → ``channels[0]``, stride
    = patch size), then stages of 3 × 3 convolutions, each after the first halving the
    image, flattened
    (the band positions matter, so no global pooling) into an embedding from which three
    heads predict a rotation (``rotation_representation``: 6-D Gram–Schmidt, Zhou et al.
    CVPR 2019, or a 10-D symmetric matrix whose smallest eigenvector is the quaternion,
    Peretroukhin et al. RSS 2020, both through ``roma``), region-class logits and the
    expected error in degrees.
    """

    input_shape_px: tuple[int, int] = Field((60, 60), description="pattern (rows, cols)")
    stem_patch_px: int = Field(4, ge=1, le=8, description="patch size of the first layer")
    channels: tuple[int, ...] = Field((32, 64, 128), description="channels per stage")
    blocks_per_stage: int = Field(2, ge=1, le=8, description="convolutions per stage")
    embedding_dim: int = Field(256, ge=8, le=4096)
    rotation_representation: Literal["gram_schmidt6", "symmatrix10"] = "gram_schmidt6"
    n_classes: int = Field(4, ge=2, le=8, description="region classes (Region codes)")
    norm: Literal["batch", "none"] = "batch"
    normalisation: PatternNormConfig = PatternNormConfig()
    min_uncertainty_deg: float = Field(0.01, gt=0.0, description="floor of the error head")

    @field_validator("input_shape_px")
    @classmethod
    def _shape(cls, v: tuple[int, int]) -> tuple[int, int]:
        if min(v) < 16 or max(v) > 1024:
            raise ValueError(f"pattern shape must be 16-1024 px per side, got {v}")
        return v

    @field_validator("channels")
    @classmethod
    def _channels(cls, v: tuple[int, ...]) -> tuple[int, ...]:
        if not 1 <= len(v) <= 6 or min(v) < 1:
            raise ValueError(f"channels needs 1-6 positive stage widths, got {v}")
        return v


class SegmentationNetConfig(StrictModel):
    """Labels every map point from the whole pattern map, with spatial context.

    A small CNN embeds each pattern (``embedding_dim`` channels); pattern statistics
    (brightness relative to the map's median, band contrast after the background
    correction) are appended, and a U-Net over the map (``unet_channels`` per level,
    ``len(unet_channels) - 1`` down-samplings) predicts the class of each point: the
    :class:`~synthebsd.conventions.Region` codes, plus a grain-boundary class (code 4)
    with ``grain_boundary``.
    """

    input_shape_px: tuple[int, int] = Field((60, 60), description="pattern (rows, cols)")
    encoder_channels: tuple[int, ...] = Field((8, 16, 32), description="per-pattern CNN")
    embedding_dim: int = Field(16, ge=1, le=512)
    unet_channels: tuple[int, ...] = Field((32, 64, 128), description="channels per level")
    grain_boundary: bool = False
    normalisation: PatternNormConfig = PatternNormConfig()

    @property
    def n_classes(self) -> int:
        return 5 if self.grain_boundary else 4

    @field_validator("encoder_channels", "unet_channels")
    @classmethod
    def _channels(cls, v: tuple[int, ...]) -> tuple[int, ...]:
        if not 1 <= len(v) <= 5 or min(v) < 1:
            raise ValueError(f"needs 1-5 positive widths, got {v}")
        return v


class TrainConfig(StrictModel):
    """How to train a registered model on items of the dataset contract.

    Steps count optimiser updates; one step sees ``batch_size`` patterns (orientation
    models) or scenes (segmentation models) per process. AdamW with a linear warm-up and
    a cosine decay to ``final_lr_fraction`` of the peak.
    """

    model: str = Field("orientation_cnn_small", description="registered model name")
    model_kwargs: dict[str, Any] = Field(default_factory=dict, description="config overrides")
    seed: int = Field(0, ge=0)
    steps: int = Field(2000, ge=1)
    batch_size: int = Field(64, ge=1)
    learning_rate: float = Field(2e-3, gt=0.0, le=1.0)
    weight_decay: float = Field(1e-4, ge=0.0, le=1.0)
    warmup_steps: int = Field(100, ge=0)
    final_lr_fraction: float = Field(0.02, ge=0.0, le=1.0)
    grad_clip_norm: float | None = Field(5.0, gt=0.0)
    orientation_weight: float = Field(1.0, ge=0.0, description="per radian of disorientation")
    phase_weight: float = Field(0.2, ge=0.0, description="region-class cross-entropy")
    uncertainty_weight: float = Field(0.05, ge=0.0, description="error-head NLL")
    uncertainty_floor_deg: float = Field(
        0.05, gt=0.0, description="smallest error the uncertainty head is asked to predict"
    )
    non_indexable_error_deg: float = Field(
        90.0, gt=0.0, le=180.0, description="target error of points without an orientation"
    )
    max_uncertainty_deg: float = Field(
        5.0, gt=0.0, description="predicted error above which a point is not indexed"
    )
    friedel: bool = Field(
        True, description="patterns are centrosymmetric: use the Laue group's rotations"
    )
    init_from: Path | None = Field(
        None,
        description="start from this checkpoint's weights (an earlier stage of a curriculum, "
        "same model); ignored when resuming",
    )
    checkpoint_every_steps: int = Field(200, ge=1)
    log_every_steps: int = Field(20, ge=1)
    validate_every_steps: int | None = Field(None, ge=1, description="None: at the end only")
    num_workers: int = Field(0, ge=0, le=64, description="DataLoader worker processes")
    device: Literal["auto", "cpu", "cuda"] = "auto"
    num_threads: int | None = Field(None, ge=1, description="CPU threads; None: torch's")

    @model_validator(mode="after")
    def _warmup(self) -> TrainConfig:
        if self.warmup_steps >= self.steps and self.steps > 1:
            raise ValueError(f"warmup_steps ({self.warmup_steps}) must be < steps ({self.steps})")
        return self


def load_train_config(path: str | Path) -> TrainConfig:
    """Read and validate a YAML training configuration.

    Raises
    ------
    ConfigError
        If the file is missing, not YAML, or a value is invalid; the message names the
        file and the field.
    """
    return validated(TrainConfig, read_yaml_mapping(path), f"training config {path}")


class TrainDataConfig(StrictModel):
    """Where the items of a training (or validation) run come from.

    Exactly one of ``stream`` (a :class:`~synthebsd.config.DatasetConfig` rendered on the
    fly, with ``seed``, on ``device``) or ``store`` (a folder written by ``synthebsd
    generate``; a relative path is relative to the YAML file). ``shuffle_buffer``
    patterns are mixed at a time (a scene's neighbouring points are alike): a stream is
    read through a seeded shuffle buffer of that size; a store's chunks are read in a
    seeded order, and the items of each window of that many patterns' chunks are
    permuted (each chunk is decoded once per epoch).
    """

    stream: DatasetConfig | None = None
    store: Path | None = None
    seed: int = Field(0, ge=0, description="seed of the streamed data set")
    augment: AugmentConfig | None = None
    device: str = Field(
        "cpu", pattern=r"^(cpu|cuda(:\d+)?)$", description="where a stream renders"
    )
    shuffle_buffer: int = Field(4096, ge=1, le=1_000_000, description="patterns mixed")
    max_patterns: int | None = Field(
        None, ge=1, description="use at most this many items (validation sets)"
    )

    @model_validator(mode="after")
    def _one_source(self) -> TrainDataConfig:
        if (self.stream is None) == (self.store is None):
            raise ValueError(
                "give exactly one of 'stream' (a data-set config) or 'store' (a path)"
            )
        return self


class TrainRunConfig(StrictModel):
    """One ``synthebsd train`` run: the data, optional held-out data, and the training.

    ``train.model_kwargs.input_shape_px`` defaults to the data's pattern shape.
    """

    data: TrainDataConfig
    validation: TrainDataConfig | None = None
    train: TrainConfig = TrainConfig()


def load_train_run_config(path: str | Path) -> TrainRunConfig:
    """Read and validate a YAML ``synthebsd train`` configuration.

    Relative ``store`` paths are taken relative to the file's folder.

    Raises
    ------
    ConfigError
        If the file is missing, not YAML, or a value is invalid; the message names the
        file and the field.
    """
    path = Path(path)
    config = validated(TrainRunConfig, read_yaml_mapping(path), f"training run config {path}")
    updates = {}
    for name in ("data", "validation"):
        part = getattr(config, name)
        if part is not None and part.store is not None and not part.store.is_absolute():
            updates[name] = part.model_copy(update={"store": path.parent / part.store})
    return config.model_copy(update=updates)


#: The held-out cell of the default evaluation: the demo's Cu | Li | LLZTO on 30 × 24
#: points of 0.6 µm, layers thinned to fit (3 µm Cu, 9 µm Li), the LLZTO crystalline as
#: in the default training (``synthebsd/models/default_train.yaml``).
_HELD_OUT_CELL = {
    "preset": "cu_li_llzto",
    "shape_px": (30, 24),
    "step_size_um": 0.6,
    "collector": {"thickness_um": 3.0},
    "metal": {"thickness_um": 9.0},
    "pores": {"porosity": 0.06},
}


def _default_cases() -> list[dict]:
    cell = _HELD_OUT_CELL
    big = {**cell, "metal": {"thickness_um": 9.0, "grains": {"mean_ecd_um": 7.0}},
           "pores": {"porosity": 0.1, "mean_diameter_um": 3.5}}  # fmt: skip
    # another preset's geometry (columnar Li of aspect 2.5, rough electrolyte interface,
    # small electrolyte particles, untextured collector) with the demo cell's phases
    other = {
        "preset": "ss_li_lpscl",
        "shape_px": (30, 24),
        "step_size_um": 0.6,
        "collector": {"phase": "Cu", "thickness_um": 3.0},
        "metal": {"thickness_um": 9.0},
        "electrolyte": {"phase": "LLZTO"},
    }
    dose50 = {"name": "cell_dose50", "scene": cell, "seed": 101, "dose_counts": 50.0}
    dose1000 = {"name": "cell_dose1000", "scene": cell, "seed": 101, "dose_counts": 1000.0}
    dose200 = {"name": "cell_dose200", "scene": cell, "seed": 101, "dose_counts": 200.0}
    # in order of priority (the summary is written after every case)
    return [
        dose1000,
        dose50,
        # the same patterns averaged with their similar neighbours (NLPAR) first
        {**dose50, "name": "cell_dose50_nlpar", "nlpar": True},
        {"name": "ss_li_lpscl_geometry", "scene": other, "seed": 103, "dose_counts": 1000.0},
        {
            "name": "big_grains_pores",
            "scene": big,
            "seed": 102,
            "dose_counts": 1000.0,
            "pc_offset_bruker": (0.01, -0.01, 0.01),
        },  # fmt: skip
        {
            "name": "cell_damage",
            "scene": cell,
            "seed": 101,
            "dose_counts": 1000.0,
            "damage": True,
        },  # fmt: skip
        dose200,
        {**dose200, "name": "cell_dose200_nlpar", "nlpar": True},
        # cell_dose1000's scenes and noise seeds with one piece of physics the default
        # training never had (it renders a PSF of 0.5 px, a background of 35°, Poisson
        # counts, no surface layer, no mixing), each scored apart from the goals
        {**dose1000, "name": "unseen_psf", "patterns": {"psf_sigma_px": 1.0}},
        {**dose1000, "name": "unseen_background", "patterns": {"background_sigma_deg": 28.0}},
        # a 12-bit camera with a bias, read noise and 0.5 ADU per electron; 2.0e6
        # electrons per pattern of yield 1 are ~990 per pixel at the background peak of
        # the default detector (its background sums to 2,024), as cell_dose1000's counts
        {**dose1000, "name": "unseen_camera",
         "patterns": {"camera": {"enabled": True, "electrons_per_pattern": 2.0e6,
                                 "gain_adu_per_electron": 0.5, "read_noise_adu": 8.0,
                                 "offset_adu": 100.0, "bit_depth": 12}}},
        # the specimen: a 20 nm amorphous FIB layer; the interaction volume's mixing
        {**dose1000, "name": "unseen_surface_layer", "patterns": {"surface_layer": {"enabled": True}}},
        {**dose1000, "name": "unseen_mixing", "patterns": {"mixing": {"enabled": True}}},
    ]  # fmt: skip


class EvaluationCase(StrictModel):
    """One held-out map of ``synthebsd evaluate``: a scene, a seed, a dose, damage, a PC.

    ``scene`` as in the study (a preset name or ``{preset: NAME, ...changes}``);
    ``pc_offset_bruker`` moves the map-centre projection centre from the detector's. The
    case runs at :attr:`EvaluateConfig.n_seeds` seeds: ``seed``, ``seed`` + 1000, ...
    """

    name: str = Field(pattern=r"^[A-Za-z0-9_.-]+$", description="folder name of the case")
    scene: MicrostructureConfig
    seed: int = Field(ge=0, description="first scene and noise seed (use seeds not trained on)")
    dose_counts: float = Field(1000.0, gt=0.0, le=1e6, description="counts at background peak")
    damage: bool = Field(False, description="beam damage during the scan")
    pc_offset_bruker: tuple[float, float, float] = (0.0, 0.0, 0.0)
    nlpar: bool = Field(
        False,
        description="every method indexes the patterns after NLPAR (indexing.nlpar); with "
        "the seed of a case without it, the same raw patterns",
    )

    patterns: dict[str, Any] = Field(
        default_factory=dict,
        description="pattern physics other than the default (PatternConfig settings, nested "
        "mappings merged key by key; not dose_counts or damage, the case's own fields): "
        "physics a network may not have been trained on. Such a case is scored apart from "
        "the goals and beside its twin, the case of the same scene, seed, dose, damage, "
        "PC and NLPAR without it ('unseen_physics' in summary.json)",
    )

    @field_validator("scene", mode="before")
    @classmethod
    def _scene(cls, v: Any) -> Any:
        return resolve_scene(v)

    @field_validator("patterns")
    @classmethod
    def _patterns(cls, v: dict[str, Any]) -> dict[str, Any]:
        own = sorted({"dose_counts", "damage"} & set(v))
        if own:
            raise ValueError(f"set {own} with the case's own fields, not in 'patterns'")
        return v

    @model_validator(mode="after")
    def _physics(self) -> EvaluationCase:
        # the physics as the case renders it (with its own dose): an unknown or invalid
        # setting, or a dose that would saturate, is named when the config loads, not
        # when the case's turn comes after earlier cases have run
        self.pattern_config()
        return self

    def pattern_config(self) -> PatternConfig:
        """The pattern physics of this case: the default with ``patterns`` merged in, the
        case's dose and damage."""
        return PatternConfig.model_validate(merged_mapping(self.patterns, self._own_physics()))

    def _own_physics(self) -> dict[str, Any]:
        return {"dose_counts": self.dose_counts, "damage": {"enabled": self.damage}}

    @property
    def unseen_physics(self) -> bool:
        """Whether the case renders with pattern physics other than the default."""
        return self.pattern_config() != PatternConfig.model_validate(self._own_physics())


class EvaluateConfig(StrictModel):
    """Held-out evaluation of an orientation checkpoint beside the classical methods.

    Every case is one study (realistic forward model only) with the checkpoint's rows
    (``neural``, ``neural_refined``) beside Hough and dictionary indexing + refinement,
    on the same patterns, at ``n_seeds`` seeds per case. The defaults are held out from
    the default training (``synthebsd/models/default_train.yaml``): other seeds, larger
    grains and pores, a PC offset, another preset's geometry, doses 50-1,000 and beam
    damage, and the low-dose maps again after NLPAR. Five more cases render the
    default-dose maps with one piece of physics each that the training never had (a wider
    PSF, a narrower background, a camera, a FIB surface layer, boundary mixing:
    :attr:`EvaluationCase.patterns`): the network is trained on the realistic forward
    model, so on the other cases it is scored on the physics it was given.
    """

    cases: list[EvaluationCase] = Field(
        default_factory=lambda: [EvaluationCase.model_validate(c) for c in _default_cases()],
        min_length=1,
    )
    detector: DetectorConfig = DetectorConfig()
    master_pattern: MasterPatternConfig = MasterPatternConfig()
    indexing: IndexingConfig = IndexingConfig(kinematical_dictionary=False)
    low_dose_counts: float = Field(
        60.0, gt=0.0, description="cases at or below this dose are the 'low dose' goal rows"
    )
    n_seeds: int = Field(
        3,
        ge=1,
        le=20,
        description="runs of every case, at seeds seed, seed + 1000, ... (other scenes, noise)",
    )

    def case_seeds(self, case: EvaluationCase) -> list[int]:
        """The seeds ``case`` runs at: its own, then steps of 1000 (``n_seeds`` in all)."""
        return [case.seed + 1000 * k for k in range(self.n_seeds)]

    @model_validator(mode="after")
    def _unique(self) -> EvaluateConfig:
        names = [c.name for c in self.cases]
        if len(set(names)) != len(names):
            raise ValueError(f"case names must be unique, got {names}")
        return self


def load_evaluate_config(path: str | Path) -> EvaluateConfig:
    """Read and validate a YAML ``synthebsd evaluate`` configuration.

    Raises
    ------
    ConfigError
        If the file is missing, not YAML, or a value is invalid.
    """
    return validated(EvaluateConfig, read_yaml_mapping(path), f"evaluate config {path}")
