"""Image baselines at matched rates on photos no test uses: JPEG 4:2:0 / 4:4:4, WebP, AVIF.

    .venv/bin/python -m bench.image_rd [--photos rocket.jpg,motorcycle_left.png] [--bpps 0.25,0.5,...]

For each photo (scikit-image's bundled data), every baseline is run at the quality closest to each
target bpp, scored from the whole file on disk (PSNR on RGB, MS-SSIM), with BD-rate and BD-PSNR
against JPEG 4:2:0: what `codec eval photo.png` prints. Writes bench/results/image_rd.json and an
RD plot per photo. The neural image codec joins these curves when it lands.
"""

from __future__ import annotations

import argparse
import os
import time
from pathlib import Path

from bench.common import RESULTS, provenance, write_result
from codec.evaluate.image import DEFAULT_BASELINES, DEFAULT_BPPS, evaluate_image, plot_image_rd
from codec.evaluate.rd import parse_list

OUT = RESULTS / "image_rd.json"
MEASURED = ("codec/baselines/image.py", "codec/evaluate", "codec/io/image.py", "bench/image_rd.py")


def skimage_photo(name: str) -> Path:
    import skimage

    path = Path(os.path.dirname(skimage.__file__)) / "data" / name
    if not path.exists():
        raise SystemExit(f"{name} is not among scikit-image's bundled photos")
    return path


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--photos", default="rocket.jpg,motorcycle_left.png", help="scikit-image data files")
    ap.add_argument("--baselines", default=",".join(DEFAULT_BASELINES))
    ap.add_argument("--bpps", default=",".join(f"{b:g}" for b in DEFAULT_BPPS))
    ap.add_argument("--out", type=Path, default=OUT)
    args = ap.parse_args(argv)
    prov = provenance(MEASURED)
    reports = {}
    for name in [p for p in args.photos.split(",") if p]:
        t0 = time.perf_counter()
        report = evaluate_image(
            skimage_photo(name), baselines=args.baselines.split(","), bpps=parse_list(args.bpps, "bpps")
        )
        plot = args.out.with_name(f"{args.out.stem}_{Path(name).stem}.png")
        plot_image_rd(report, plot)
        reports[name] = report.to_dict()
        summary = ", ".join(f"{k} BD-rate {v:+.1f}%" for k, v in report.bd_rate.items() if v is not None)
        seconds = time.perf_counter() - t0
        print(f"{name}: {report.width}x{report.height}, vs {report.anchor}: {summary} ({seconds:.0f} s)")
    write_result(args.out, {"reports": reports}, prov)
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
