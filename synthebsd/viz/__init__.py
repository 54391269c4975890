"""Every figure of synthebsd: IPF, region, error, score and dose maps, patterns, panels,
and the neural models' learning curves, uncertainty maps and calibration.

The only subpackage that imports matplotlib. Figures are
:class:`matplotlib.figure.Figure` objects rendered by the Agg canvas (no pyplot), so
importing synthebsd never changes a user's matplotlib backend; files are written
atomically.
"""

from synthebsd.viz._benchmark import plot_insitu_series, plot_metric_bars, plot_metric_lines
from synthebsd.viz._evaluation import plot_evaluation
from synthebsd.viz._figure import colormap, new_figure, save_figure
from synthebsd.viz._maps import (
    grain_boundary_segments,
    ipf_rgb,
    plot_dose_map,
    plot_error_curves,
    plot_error_histogram,
    plot_error_map,
    plot_ipf_key,
    plot_ipf_map,
    plot_method_comparison,
    plot_region_map,
    plot_score_map,
    region_colormap,
)
from synthebsd.viz._models import (
    plot_calibration,
    plot_class_map,
    plot_learning_curves,
    plot_uncertainty_map,
)
from synthebsd.viz._patterns import plot_master_pattern, plot_pattern_grid
from synthebsd.viz._scene import plot_scene_panel

__all__ = [
    "colormap",
    "grain_boundary_segments",
    "ipf_rgb",
    "new_figure",
    "plot_calibration",
    "plot_class_map",
    "plot_dose_map",
    "plot_error_curves",
    "plot_error_histogram",
    "plot_error_map",
    "plot_evaluation",
    "plot_insitu_series",
    "plot_ipf_key",
    "plot_ipf_map",
    "plot_learning_curves",
    "plot_master_pattern",
    "plot_method_comparison",
    "plot_metric_bars",
    "plot_metric_lines",
    "plot_pattern_grid",
    "plot_region_map",
    "plot_scene_panel",
    "plot_score_map",
    "plot_uncertainty_map",
    "region_colormap",
    "save_figure",
]
