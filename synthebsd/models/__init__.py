"""Neural networks trained on synthebsd's synthetic patterns (torch).

- Orientation from one pattern: a CNN (:class:`OrientationNet`) with a continuous rotation
  output (6-D Gram–Schmidt or 10-D symmetric matrix, through ``roma``), a region-class head
  (collector / metal / pore / electrolyte) and a calibrated uncertainty head (expected
  error in degrees, which calls a point "not indexed").
- Map segmentation: a U-Net over per-pattern embeddings and statistics
  (:class:`SegmentationNet`), trained on whole scenes.
- An explicit registry (:func:`list_models`, :func:`create_model`), the symmetry-aware
  disorientation loss for any point group (:func:`disorientation`), checkpoints
  (safetensors weights + JSON metadata, :func:`save_checkpoint`, :func:`load_checkpoint`),
  the training loop (:func:`train`) and inference to orix maps
  (:func:`predict_orientations`, :func:`predict_regions`), and the held-out calibrations
  of the predicted error (:func:`fit_uncertainty_calibration`) and of the rotation an
  offset of the projection centre makes the network read (:func:`fit_pc_correction`);
- test-time views: each pattern averaged with its left–right mirror, an exact second view
  when the pattern centre is on the detector's middle column (:func:`predict_with_flip`),
  and optionally with turned copies of the pair (:class:`InferenceViews`);
- the shipped default checkpoint for the demo cell (:func:`shipped_checkpoint`).

Models consume the items of the dataset contract (``synthebsd.datasets``). Importing this
package imports torch.
"""

from synthebsd.models._calibration import (
    apply_uncertainty_calibration,
    fit_uncertainty_calibration,
    held_out_predictions,
)
from synthebsd.models._checkpoint import (
    CHECKPOINT_FORMAT,
    Checkpoint,
    CheckpointError,
    IncompatibleInputError,
    OutsideTrainingRangeWarning,
    detector_metadata,
    load_checkpoint,
    package_versions,
    read_checkpoint_metadata,
    save_checkpoint,
    weights_sha256,
)
from synthebsd.models._flip import (
    FLIP_PC_TOLERANCE,
    FLIP_QUATERNION,
    check_flip_pc,
    predict_with_flip,
)
from synthebsd.models._inference import (
    class_phase_ids,
    class_symmetry_table,
    inference_views,
    map_dose_counts,
    predict_orientations,
    predict_regions,
    predict_tensors,
)
from synthebsd.models._losses import disorientation, segmentation_loss, uncertainty_nll
from synthebsd.models._metrics import orientation_metrics, segmentation_metrics
from synthebsd.models._networks import (
    OrientationNet,
    PatternNormalizer,
    SegmentationNet,
    fuse_batch_norm,
    pattern_statistics,
)
from synthebsd.models._pc_correction import (
    TooFewPointsError,
    apply_pc_correction,
    fit_pc_correction,
    sample_frame_errors,
)
from synthebsd.models._registry import (
    ModelEntry,
    UnknownModelError,
    create_model,
    list_models,
    model_config,
)
from synthebsd.models._rotation import (
    REPRESENTATION_DIMS,
    quaternion_from_output,
    quaternion_product,
    symmetry_operators,
    symmetry_table,
)
from synthebsd.models._shipped import (
    DEFAULT_TRAIN_CONFIG,
    SHIPPED_CHECKPOINT,
    resolve_checkpoint,
    shipped_checkpoint,
)
from synthebsd.models._tasks import (
    GRAIN_BOUNDARY,
    estimate_dose_counts,
    evaluate_orientation,
    evaluate_segmentation,
    orientation_losses,
    segmentation_losses,
    segmentation_targets,
)
from synthebsd.models._train import CLASS_NAMES, SHUFFLE_STREAM, resolve_device, train
from synthebsd.models._views import InferenceViews, detector_normal, rotate_patterns

__all__ = [
    "FLIP_PC_TOLERANCE",
    "FLIP_QUATERNION",
    "CHECKPOINT_FORMAT",
    "DEFAULT_TRAIN_CONFIG",
    "SHIPPED_CHECKPOINT",
    "resolve_checkpoint",
    "shipped_checkpoint",
    "CLASS_NAMES",
    "GRAIN_BOUNDARY",
    "REPRESENTATION_DIMS",
    "SHUFFLE_STREAM",
    "Checkpoint",
    "CheckpointError",
    "IncompatibleInputError",
    "ModelEntry",
    "OrientationNet",
    "OutsideTrainingRangeWarning",
    "PatternNormalizer",
    "SegmentationNet",
    "InferenceViews",
    "TooFewPointsError",
    "UnknownModelError",
    "apply_pc_correction",
    "apply_uncertainty_calibration",
    "class_phase_ids",
    "check_flip_pc",
    "class_symmetry_table",
    "create_model",
    "detector_normal",
    "detector_metadata",
    "disorientation",
    "estimate_dose_counts",
    "fit_pc_correction",
    "fit_uncertainty_calibration",
    "fuse_batch_norm",
    "evaluate_orientation",
    "evaluate_segmentation",
    "held_out_predictions",
    "list_models",
    "load_checkpoint",
    "map_dose_counts",
    "model_config",
    "orientation_losses",
    "orientation_metrics",
    "package_versions",
    "pattern_statistics",
    "predict_orientations",
    "predict_regions",
    "predict_tensors",
    "predict_with_flip",
    "quaternion_from_output",
    "quaternion_product",
    "read_checkpoint_metadata",
    "resolve_device",
    "rotate_patterns",
    "sample_frame_errors",
    "save_checkpoint",
    "segmentation_loss",
    "segmentation_losses",
    "segmentation_metrics",
    "segmentation_targets",
    "symmetry_operators",
    "symmetry_table",
    "inference_views",
    "train",
    "uncertainty_nll",
    "weights_sha256",
]
