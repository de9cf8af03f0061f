"""`make demo`: encode and decode the sample clip, print size, bpp and PSNR next to x265 at the same bpp;
then embed shipped Fashion-MNIST items, search them on a 16-d prefix and at full size, and code them
into vector files; then upgrade a collection from the v1 embedder to its BT² v2 with no re-embedding;
then code a crop of a photo with RECOMBINER next to JPEG and WebP at the same bpp; then code a
procedural Shapes3D-like image into a few QLAE codes, edit one, and draw a traversal.

Sized to finish in about 5 minutes on 2 CPU cores: HNeRV encodes with `--time-limit 2m` (the epochs
fitted to two minutes here), RECOMBINER a 128x128 crop with a short fit; `bench/carphone_cpu.py`
and `bench/recombiner_rd.py` run the real comparisons.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from bench.common import ROOT
from codec import api
from codec.baselines import baseline_at_bpp
from codec.cli.progress import ProgressBar
from codec.io.video import read_frames
from codec.metrics import psnr


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--input", type=Path, default=ROOT / "assets" / "carphone.mp4")
    ap.add_argument("--out", type=Path, default=ROOT / "out" / "demo")
    ap.add_argument("--size", type=float, default=0.05, help="parameter budget, millions")
    ap.add_argument("--time-limit", default="2m", help="the HNeRV encode's --time-limit")
    args = ap.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    bitstream, decoded = args.out / "carphone.hnerv", args.out / "carphone_decoded.mkv"

    t0 = time.perf_counter()
    with ProgressBar(enabled=True) as bar:
        options = {"size": args.size, "time_limit": args.time_limit}
        result = api.encode(args.input, bitstream, "hnerv", options, bar)
    t_enc = time.perf_counter() - t0
    t0 = time.perf_counter()
    n = api.decode(bitstream, decoded).items
    t_dec = time.perf_counter() - t0

    original, info = read_frames(args.input)
    ours, _ = read_frames(decoded)  # the lossless file written by the decoder: what a user gets
    size = bitstream.stat().st_size
    bpp = size * 8 / original[..., 0].size
    x265 = baseline_at_bpp(original, info.fps, "x265", bpp)

    print()
    print(
        f"clip     {args.input.name}: {info.width}x{info.height}, {len(original)} frames"
        f" @ {float(info.fps):.2f} fps"
    )
    print(
        f"encode   {t_enc:.1f} s (--time-limit {args.time_limit}: {result.details['plan']['epochs']} epochs,"
        f" {result.metrics['seconds_per_epoch']:.2f} s/epoch); "
        f"decode {n} frames in {t_dec:.2f} s"
    )
    print(f"{'codec':8} {'bytes':>8} {'bpp':>8} {'PSNR dB':>8}")
    print(f"{'HNeRV':8} {size:8d} {bpp:8.4f} {psnr(ours, original).mean:8.2f}")
    xb = x265.bytes_on_disk
    print(
        f"{'x265':8} {xb:8d} {xb * 8 / original[..., 0].size:8.4f} {psnr(x265.decoded, original).mean:8.2f}"
        f"   (preset slow, crf {x265.params.get('crf')})"
    )
    print(f"files in {args.out}")
    embeddings_demo(args.out)
    upgrade_demo(args.out)
    image_demo(args.out)
    latents_demo(args.out)


IMAGE_DEMO = {"steps": 200, "samples": 1}  # the fastest honest setting: a short fit, one draw per step
IMAGE_DEMO_CROP = (slice(100, 228), slice(250, 378))  # 128x128 of coffee


def image_demo(out: Path) -> None:
    """A 128x128 crop of scikit-image's coffee (a benchmark photo, never seen in prior training)
    through RECOMBINER with the default shipped prior, and JPEG / WebP at the file's bpp."""
    import numpy as np
    from skimage import data as skdata

    from codec.baselines.image import image_baseline_at_bpp
    from codec.io.image import read_image, write_image

    home = out / "image"
    home.mkdir(parents=True, exist_ok=True)
    rgb = np.ascontiguousarray(skdata.coffee()[IMAGE_DEMO_CROP])
    src = home / "coffee_crop.png"
    write_image(src, rgb)
    t0 = time.perf_counter()
    with ProgressBar(enabled=True) as bar:
        r = api.encode(src, home / "coffee_crop.rcb", "recombiner", IMAGE_DEMO, bar)
    t_enc = time.perf_counter() - t0
    t0 = time.perf_counter()
    api.decode(api.open(home / "coffee_crop.rcb"), home / "coffee_crop_decoded.png")
    t_dec = time.perf_counter() - t0
    got, _ = read_image(home / "coffee_crop_decoded.png")
    print()
    steps = IMAGE_DEMO["steps"]
    print(f"image    {src.name} 128x128 with {r.details['prior']}: encode {t_enc:.1f} s ({steps} fitting"
          f" steps; the paper fits 30,000), decode {t_dec:.2f} s")  # fmt: skip
    print(f"{'codec':10} {'bytes':>6} {'bpp':>7} {'PSNR dB':>8}")
    print(f"{'RECOMBINER':10} {r.file_bytes:6d} {r.rate:7.3f} {psnr(got[None], rgb[None]).mean:8.2f}")
    for name in ("jpeg420", "webp"):
        b = image_baseline_at_bpp(rgb, name, r.rate)
        print(f"{name:10} {b.bytes_on_disk:6d} {b.bpp:7.3f} {psnr(b.decoded[None], rgb[None]).mean:8.2f}")


def latents_demo(out: Path) -> None:
    """A sample of the shipped shapes3d model's data coded into QLAE codes (`codec encode --codec
    qlae`), one code edited (`codec latents edit`), and a traversal grid (`codec latents traverse`)."""
    import numpy as np
    from PIL import Image

    from codec import container
    from codec.latents.data import SHAPES3D
    from codec.latents.decode import open_codes
    from codec.latents.edit import base_codes, dim_meanings, edit, traverse_grid

    t0 = time.perf_counter()
    home = out / "latents"
    home.mkdir(parents=True, exist_ok=True)
    images, factors = SHAPES3D.batch(np.random.default_rng(2026), 1)
    src = home / "sample.png"
    Image.fromarray(images[0]).save(src)
    r = api.encode(src, home / "sample.qla", "qlae", {"model": "shapes3d"})
    f = api.open(home / "sample.qla")
    d = open_codes(f.container, f.config)
    meanings = dim_meanings(d.model)
    named = [m for m in meanings if m.factor]
    dim = named[0].dim if named else 0
    value = int((d.codes[0, dim] + d.model.levels // 2) % d.model.levels)
    container.write_file(home / "edited.qla", edit(f.container, f.config, [(dim, value)], None))
    api.decode(api.open(home / "edited.qla"), home / "edited.png", {})
    api.decode(f, home / "decoded.png", {})
    grid = traverse_grid(d.model, dim, np.concatenate([d.codes, base_codes(d.model, 3)]))  # + 3 samples
    Image.fromarray(grid).save(home / f"traverse_dim{dim}.png")
    print()
    truth = ", ".join(f"{n} {int(v)}" for n, v in zip(SHAPES3D.factors, factors[0], strict=True))
    coded = len(f.container.section("codes"))
    print(
        f"latents     {src.name} (factors: {truth}) -> {r.file_bytes} bytes with {d.model.manifest.spec}:"
        f" {coded} bytes of codes (the coder's smallest block; ~5 bytes per image in a file of many),"
        " the rest header and model reference"
    )
    print(f"  codes: {' '.join(str(int(c)) for c in d.codes[0])}")
    print("  dims: " + ", ".join(f"{m.dim}={m.factor or '?'}" for m in meanings))
    factor = meanings[dim].factor or "no known factor"
    trav = home / f"traverse_dim{dim}.png"
    print(f"  edited dim {dim} ({factor}) to {value}: {home / 'edited.png'}; traversal of dim {dim}: {trav};"
          f" {time.perf_counter() - t0:.1f} s")  # fmt: skip


def embeddings_demo(out: Path) -> None:
    """Embed shipped Fashion-MNIST items with the shipped MRL embedder, index them, search on a
    16-d prefix then rerank at full size, and code the gallery into a vectors file."""
    import shutil

    import numpy as np

    from codec.embed.data import FASHION_CLASSES, fashion_mnist
    from codec.embed.embedder import load_embedder
    from codec.index.index import open_index
    from codec.index.spec import CollectionSpec, Search

    t0 = time.perf_counter()
    ds = fashion_mnist(ROOT / "tests" / "data" / "fashion_mnist_small.npz")
    emb = load_embedder("fmnist-mrl@v1")
    gallery = emb.embed_images(ds.train_x)
    queries = emb.embed_images(ds.test_x[:3])
    t_embed = time.perf_counter() - t0
    home = out / "embeddings"
    shutil.rmtree(home, ignore_errors=True)
    with open_index(data_dir=home) as ix:
        ix.create(CollectionSpec("fashion", emb.spec, (16, emb.dim)))
        labels = [{"label": FASHION_CLASSES[int(y)]} for y in ds.train_y]
        ix.add("fashion", [f"train-{i}" for i in range(len(gallery))], gallery, labels)
        short = ix.search("fashion", queries, Search(k=5, mode="adaptive", shortlist=100))
        full = ix.search("fashion", queries, Search(k=5, mode="full"))
    print()
    print(f"embeddings  {emb.spec}: {len(gallery)} gallery items embedded in {t_embed:.1f} s;"
          f" collection of {emb.dim}-d")  # fmt: skip
    print("            vectors with a 16-d prefix (Qdrant Edge, embedded)")
    for i, (a, b) in enumerate(zip(short, full, strict=True)):
        print(f"  query {i} ({FASHION_CLASSES[int(ds.test_y[i])]}):")
        print("    16-d shortlist + rerank: " + ", ".join(f"{h.payload['label']} {h.score:.3f}" for h in a))
        print("    full 256-d exact:        " + ", ".join(f"{h.payload['label']} {h.score:.3f}" for h in b))
    vectors = home / "gallery.npy"
    np.save(vectors, gallery)
    rows = []
    truth = np.argsort(-(queries @ gallery.T), axis=1)[:, :10]
    for budget in (8.0, 32.0):
        r = api.encode(vectors, home / f"gallery_{budget:g}.ncv", "vectors",
                       {"bytes_per_vector": budget, "model": emb.spec})  # fmt: skip
        api.decode(home / f"gallery_{budget:g}.ncv", home / "decoded.npy")
        dec = np.load(home / "decoded.npy")
        found = np.argsort(-(queries @ dec.T), axis=1)[:, :10]
        recall = np.mean([len(set(a) & set(b)) / 10 for a, b in zip(truth, found, strict=True)])
        rows.append((budget, r.file_bytes, r.rate, int(r.metrics["kept_dims"]), recall))
    print(f"vector files (float32 is {4 * emb.dim} bytes/vector):")
    for budget, size, rate, kept, recall in rows:
        print(f"  --bytes-per-vector {budget:g}: {size} bytes, {rate:.2f} bytes/vector, {kept} dims kept,"
              f" recall@10 of the float top-10 {recall:.2f}")  # fmt: skip


def upgrade_demo(out: Path) -> None:
    """A collection filled by fmnist-mrl@v1, upgraded to the shipped BT² fmnist-mrl@v2 and queried
    with v2 at once (no stored vector re-embedded), then backfilled into v2's own space."""
    import shutil

    import numpy as np
    from PIL import Image

    from codec.embed.data import FASHION_CLASSES, fashion_mnist
    from codec.embed.embedder import load_embedder
    from codec.index.backfill import BackfillOptions, backfill
    from codec.index.index import open_index
    from codec.index.spec import CollectionSpec, Search
    from codec.models import default_store

    t0 = time.perf_counter()
    ds = fashion_mnist(ROOT / "tests" / "data" / "fashion_mnist_small.npz")
    home = out / "upgrade"
    shutil.rmtree(home, ignore_errors=True)
    (home / "src").mkdir(parents=True)
    paths = []
    for i, a in enumerate(ds.train_x):  # the items' sources, which a backfill re-embeds
        paths.append(home / "src" / f"item{i:04d}.png")
        Image.fromarray(a).save(paths[-1])
    v1, v2 = load_embedder("fmnist-mrl@v1"), load_embedder("fmnist-mrl@v2")
    labels = [FASHION_CLASSES[int(y)] for y in ds.train_y]

    def top1(ix, q) -> float:
        hits = ix.search("shop", q, Search(k=1, mode="adaptive", shortlist=100))
        return float(np.mean([h[0].payload["label"] == FASHION_CLASSES[int(t)]
                              for h, t in zip(hits, ds.test_y, strict=True)]))  # fmt: skip

    with open_index(data_dir=home) as ix:
        ix.create(CollectionSpec("shop", v1.spec, (16, v1.dim)))
        pays = [{"label": lb, "source": str(p)} for lb, p in zip(labels, paths, strict=True)]
        ix.add("shop", [p.name for p in paths], v1.embed_images(ds.train_x), pays)
        old_old = top1(ix, v1.embed_images(ds.test_x))
        ix.upgrade("shop", default_store().get(v2.spec).manifest)  # codec index upgrade shop --to ...
        new_old = top1(ix, v2.embed_images(ds.test_x))
        hits = ix.search("shop", v2.embed_images(ds.test_x[:1]), Search(k=3))[0]
        r = backfill(ix, BackfillOptions(collection="shop"), default_store())
        new_new = top1(ix, v2.embed_images(ds.test_x))
        info = ix.info("shop")
    print()
    print(f"upgrade     a collection of {len(paths)} items filled by {v1.spec}, upgraded to {v2.spec} (BT²,"
          f" {v2.dim}-d: the first {v1.dim} dims compatible with v1); 1-NN top-1 of {len(ds.test_y)} queries,"
          " 16-d shortlist then rerank:")  # fmt: skip
    print(f"  v1 queries, v1 gallery:                      {old_old:.3f}")
    print(f"  v2 queries, v1 gallery (nothing re-embedded): {new_old:.3f}")
    print(f"  after backfill ({r.rewritten} re-embedded in {r.seconds:.1f} s), v2's own space: {new_new:.3f}")
    print(
        f"  query 0 ({FASHION_CLASSES[int(ds.test_y[0])]}) right after the upgrade: "
        + ", ".join(f"{h.payload['label']} {h.score:.3f} (written by {h.payload['model']})" for h in hits)
    )
    print(f"  searched in {info['searched_in']}; {time.perf_counter() - t0:.1f} s in all")


if __name__ == "__main__":
    main()
