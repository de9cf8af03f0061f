"""Rate-distortion evaluation against traditional codecs, scored from the files on disk.

`video.py`: a registered video codec (HNeRV) against x264 / x265 / AV1; `image.py`: JPEG, WebP and
AVIF on a photo (the neural image codec joins when it lands); `rd.py`: what both share (points,
BD numbers, plots).
"""

from codec.evaluate.rd import MIN_POINTS, RatePoint, bd_against, check_plot_path, parse_list, rd_curves_figure
from codec.evaluate.video import (
    DEFAULT_BASELINES,
    EvalReport,
    crf_grid,
    evaluate,
    plot_rd,
    rd_figure,
    sweep_baseline,
)

__all__ = [
    "DEFAULT_BASELINES",
    "MIN_POINTS",
    "EvalReport",
    "RatePoint",
    "bd_against",
    "check_plot_path",
    "crf_grid",
    "evaluate",
    "parse_list",
    "plot_rd",
    "rd_curves_figure",
    "rd_figure",
    "sweep_baseline",
]
