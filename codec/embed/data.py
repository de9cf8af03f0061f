"""Labelled training sets for embedders, from packages or the user's own files.

- `fashion-mnist`: Debian's `dataset-fashion-mnist` (IDX files under /usr/share/datasets/fashion-mnist,
  or $CODEC_FASHION_MNIST), its own train/test split; also an `.npz` with train_x/train_y/test_x/test_y.
- `wordnet`: Debian's `wordnet-base` (/usr/share/wordnet, or $CODEC_WORDNET): one item per synset,
  text "lemma, lemma: definition", label the lexicographer file (field 2 of data.noun etc.: 45
  topics such as noun.animal, verb.motion). Test split: every 10th synset by offset hash.
- a directory of class subfolders of images (gray, resized to 28x28), or a labelled text file
  (`LABEL<TAB>TEXT` per line); both split 90/10 by a hash of the item, like the built-in sets.

`scripts/fetch_data.sh` installs the two Debian packages.
"""

from __future__ import annotations

import gzip
import hashlib
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from codec.errors import InvalidInput

FASHION_MNIST_DIR = Path("/usr/share/datasets/fashion-mnist")
WORDNET_DIR = Path("/usr/share/wordnet")
FASHION_CLASSES = (
    "t-shirt/top",
    "trouser",
    "pullover",
    "dress",
    "coat",
    "sandal",
    "shirt",
    "sneaker",
    "bag",
    "ankle boot",
)
WORDNET_PARTS = ("noun", "verb", "adj", "adv")
MAX_TEXT_ITEMS = 5_000_000
SOURCES = {  # dataset -> (source, licence), recorded in the manifests of models trained on them
    "fashion-mnist": ("Fashion-MNIST (Zalando Research), Debian dataset-fashion-mnist", "MIT"),
    "wordnet": ("WordNet 3.0 (Princeton University), Debian wordnet-base", "WordNet 3.0 licence"),
}


@dataclass
class Dataset:
    """A labelled set split in two; x is a uint8 image array (N, 28, 28) or a list of texts."""

    name: str
    kind: str  # "image" or "text"
    train_x: np.ndarray | list[str]
    train_y: np.ndarray
    test_x: np.ndarray | list[str]
    test_y: np.ndarray
    classes: tuple[str, ...]

    def limit(self, n: int, seed: int = 0) -> Dataset:
        """At most n training items, a fixed random subset (the test split is kept whole)."""
        if not n or n >= len(self.train_y):
            return self
        idx = np.sort(np.random.default_rng(seed).choice(len(self.train_y), n, replace=False))
        x = self.train_x[idx] if isinstance(self.train_x, np.ndarray) else [self.train_x[i] for i in idx]
        return Dataset(self.name, self.kind, x, self.train_y[idx], self.test_x, self.test_y, self.classes)


def _in_test(key: str) -> bool:
    return hashlib.sha256(key.encode()).digest()[0] % 10 == 0


def _idx(path: Path, header: int) -> np.ndarray:
    try:
        raw = gzip.open(path).read() if path.suffix == ".gz" else path.read_bytes()
    except OSError as e:
        raise InvalidInput(f"cannot read {path.name}: {e.strerror or e}") from None
    return np.frombuffer(raw, np.uint8, offset=header)


def fashion_mnist(root: str | os.PathLike[str] | None = None) -> Dataset:
    p = Path(root or os.environ.get("CODEC_FASHION_MNIST", FASHION_MNIST_DIR))
    if p.suffix == ".npz":
        with np.load(p) as d:
            parts = [d[k] for k in ("train_x", "train_y", "test_x", "test_y")]
        return Dataset("fashion-mnist", "image", *parts[:2], *parts[2:], FASHION_CLASSES)  # type: ignore[arg-type]
    if not (p / "train-images-idx3-ubyte.gz").exists():
        raise InvalidInput(
            f"Fashion-MNIST not found in {p}: run scripts/fetch_data.sh"
            " (apt-get install dataset-fashion-mnist)"
        )
    parts = []
    for split in ("train", "t10k"):
        x = _idx(p / f"{split}-images-idx3-ubyte.gz", 16).reshape(-1, 28, 28)
        y = _idx(p / f"{split}-labels-idx1-ubyte.gz", 8).astype(np.int64)
        parts += [x, y]
    return Dataset("fashion-mnist", "image", *parts, FASHION_CLASSES)  # type: ignore[arg-type]


# WordNet 3.0's lexicographer files, by number (lexnames(5WN)); Debian's package omits the file.
LEXNAMES = (
    "adj.all adj.pert adv.all noun.Tops noun.act noun.animal noun.artifact noun.attribute noun.body"
    " noun.cognition noun.communication noun.event noun.feeling noun.food noun.group noun.location"
    " noun.motive noun.object noun.person noun.phenomenon noun.plant noun.possession noun.process"
    " noun.quantity noun.relation noun.shape noun.state noun.substance noun.time verb.body verb.change"
    " verb.cognition verb.communication verb.competition verb.consumption verb.contact verb.creation"
    " verb.emotion verb.motion verb.perception verb.possession verb.social verb.stative verb.weather adj.ppl"
).split()


def wordnet(root: str | os.PathLike[str] | None = None) -> Dataset:
    p = Path(root or os.environ.get("CODEC_WORDNET", WORDNET_DIR))
    if not (p / "data.noun").exists():
        raise InvalidInput(
            f"WordNet not found in {p}: run scripts/fetch_data.sh (apt-get install wordnet-base)"
        )
    items: dict[bool, tuple[list[str], list[int]]] = {False: ([], []), True: ([], [])}
    for part in WORDNET_PARTS:
        for line in (p / f"data.{part}").read_text(encoding="latin-1").splitlines():
            if line.startswith("  ") or "|" not in line:
                continue  # licence header
            head, gloss = line.split("|", 1)
            f = head.split()
            lexfile, count = int(f[1]), int(f[3], 16)
            words = [f[4 + 2 * i].replace("_", " ") for i in range(count)]
            words = [w.split("(")[0] for w in words]  # adjective markers such as (p)
            definition = gloss.strip().split(";")[0].strip()
            texts, labels = items[_in_test(f"{part}:{f[0]}")]
            texts.append(f"{', '.join(words[:3])}: {definition}")
            labels.append(lexfile)
    (trx, try_), (tex, tey) = items[False], items[True]
    return Dataset("wordnet", "text", trx, np.array(try_), tex, np.array(tey), tuple(LEXNAMES))


def image_folder(root: Path) -> Dataset:
    from PIL import Image

    classes = sorted(d.name for d in root.iterdir() if d.is_dir())
    if len(classes) < 2:
        raise InvalidInput(f"{root.name}: a training folder needs at least two class subfolders of images")
    split: dict[bool, tuple[list[np.ndarray], list[int]]] = {False: ([], []), True: ([], [])}
    for label, cls in enumerate(classes):
        for f in sorted((root / cls).iterdir()):
            try:
                with Image.open(f) as im:
                    a = np.asarray(im.convert("L").resize((28, 28), Image.BILINEAR), dtype=np.uint8)
            except (OSError, ValueError):
                continue  # not an image
            xs, ys = split[_in_test(f"{cls}/{f.name}")]
            xs.append(a)
            ys.append(label)
    (trx, try_), (tex, tey) = split[False], split[True]
    if not trx or not tex:
        raise InvalidInput(f"{root.name}: too few readable images to split into train and test")
    return Dataset(
        root.name, "image", np.stack(trx), np.array(try_), np.stack(tex), np.array(tey), tuple(classes)
    )


def text_file(path: Path) -> Dataset:
    classes: dict[str, int] = {}
    split: dict[bool, tuple[list[str], list[int]]] = {False: ([], []), True: ([], [])}
    for n, line in enumerate(path.read_text(encoding="utf-8", errors="replace").splitlines(), 1):
        if not line.strip():
            continue
        if "\t" not in line:
            raise InvalidInput(f"{path.name} line {n}: expected LABEL<TAB>TEXT")
        label, text = line.split("\t", 1)
        texts, labels = split[_in_test(f"{n}:{text}")]
        texts.append(text)
        labels.append(classes.setdefault(label, len(classes)))
        if n > MAX_TEXT_ITEMS:
            raise InvalidInput(f"{path.name}: more than {MAX_TEXT_ITEMS} lines")
    (trx, try_), (tex, tey) = split[False], split[True]
    if len(classes) < 2 or not trx or not tex:
        raise InvalidInput(f"{path.name}: needs at least two labels and enough lines to split")
    return Dataset(path.stem, "text", trx, np.array(try_), tex, np.array(tey), tuple(classes))


def load(spec: str) -> Dataset:
    """A dataset by name (fashion-mnist, wordnet) or path (folder, .npz, labelled text file)."""
    if spec == "fashion-mnist":
        return fashion_mnist()
    if spec == "wordnet":
        return wordnet()
    p = Path(spec)
    if p.is_dir():
        return image_folder(p)
    if p.suffix == ".npz":
        return fashion_mnist(p)
    if p.is_file():
        return text_file(p)
    raise InvalidInput(f"--data {spec}: not fashion-mnist, wordnet, a folder or a labelled text file")
