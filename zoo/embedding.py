"""Token features shared by the text tasks: word embeddings, a casing feature and a character CNN.

Word vectors are learned from the training corpus (no pretrained vectors). Words seen too rarely are
<unk>; the character CNN (Ma & Hovy 2016) and the casing feature still describe them, which is the
known cure for out-of-vocabulary names. Word dropout trains the <unk> vector on real contexts.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from .tensor_key import KeepsWeightResults, kept

PAD_ID, UNK_ID = 0, 1

CASINGS = ("<pad>", "other", "numeric", "mostly_numeric", "lower", "upper", "title", "has_digit", "mixed")


def casing(word: str) -> int:
    """Index in CASINGS of a word's shape (Reimers & Gurevych 2017): lower-casing the vocabulary loses it."""
    if not word:
        return CASINGS.index("other")
    digits = sum(ch.isdigit() for ch in word)
    if word.isdigit():
        return CASINGS.index("numeric")
    if digits / len(word) > 0.5:
        return CASINGS.index("mostly_numeric")
    if word.islower():
        return CASINGS.index("lower")
    if word.isupper():
        return CASINGS.index("upper")
    if word[0].isupper():
        return CASINGS.index("title")
    if digits:
        return CASINGS.index("has_digit")
    return CASINGS.index("mixed") if any(ch.isalpha() for ch in word) else CASINGS.index("other")


@dataclass
class EmbeddingConfig:
    vocab_size: int
    word_dim: int = 100
    n_chars: int = 0          # 0: no character CNN
    char_dim: int = 30
    char_filters: int = 50
    char_width: int = 3
    casing_dim: int = 0       # 0: no casing feature
    word_dropout: float = 0.0  # probability of replacing a training word by <unk>
    dropout: float = 0.5

    @property
    def output_size(self) -> int:
        return self.word_dim + (self.char_filters if self.n_chars else 0) + self.casing_dim


class Dropout(nn.Module):
    """Inverted dropout from a uniform mask: the same distribution as nn.Dropout, and on the CPU 2-2.5x
    faster forward and backward (torch's bernoulli_ is slow there; bench/peers.py profiled it)."""

    def __init__(self, p: float):
        super().__init__()
        if not 0 <= p < 1:
            raise ValueError(f"dropout must be in [0, 1), got {p}")
        self.p = p

    def forward(self, x):
        if not self.training or self.p == 0:
            return x
        return x * ((torch.rand_like(x) >= self.p) * (1 / (1 - self.p)))

    def extra_repr(self) -> str:
        return f"p={self.p}"


class TokenEmbedder(KeepsWeightResults):
    WEIGHT_RESULTS = ("_tables",)  # project's projected tables

    def __init__(self, cfg: EmbeddingConfig):
        super().__init__()
        self.cfg = cfg
        self.words = nn.Embedding(cfg.vocab_size, cfg.word_dim, padding_idx=PAD_ID)
        with torch.no_grad():  # small, as Keras starts them, not N(0, 1): learned from scratch, they train faster
            self.words.weight.uniform_(-0.05, 0.05)
            self.words.weight[PAD_ID] = 0.0
        if cfg.n_chars:
            self.chars = nn.Embedding(cfg.n_chars, cfg.char_dim, padding_idx=PAD_ID)
            self.char_cnn = nn.Conv1d(cfg.char_dim, cfg.char_filters, cfg.char_width, padding=cfg.char_width // 2)
        if cfg.casing_dim:
            self.casing = nn.Embedding(len(CASINGS), cfg.casing_dim, padding_idx=0)
        self.dropout = Dropout(cfg.dropout)

    def forward(self, batch) -> torch.Tensor:
        """batch["words"] (B, T), optional batch["chars"] (B, T, W) and batch["casing"] (B, T) -> (B, T, E)."""
        words = batch["words"]
        if self.training and self.cfg.word_dropout > 0:
            drop = (torch.rand(words.shape, device=words.device) < self.cfg.word_dropout) & (words != PAD_ID)
            words = words.masked_fill(drop, UNK_ID)
        parts = [self.words(words)]
        if self.cfg.n_chars:
            parts.append(self.char_features(batch) * (words != PAD_ID)[..., None])  # padding tokens -> 0
        if self.cfg.casing_dim:
            parts.append(self.casing(batch["casing"]))
        return self.dropout(torch.cat(parts, dim=-1) if len(parts) > 1 else parts[0])  # a cat of one is a copy

    def project(self, batch, weight, *biases, key=None) -> torch.Tensor:
        """At inference: self(batch) @ weight.T + sum(biases), time-major (T, B, H), for the vanilla RNN's steps
        route (zoo.encoder). A projection of a looked-up vector is a looked-up row of a projected table, so the
        word and casing columns read (vocabulary, H) tables, built once and rebuilt when a weight changes
        (the biases ride in the word table, whose <pad> row is then the bias alone, as a zero vector's
        projection is); the character CNN's features are multiplied as they come. The same numbers as
        projecting self(batch), up to float rounding (tests/test_encoder_and_checkpoint.py). key: the
        parameters that weight and biases are computed from, when they are kept copies (the encoder's
        sigmoid form): the tables follow those, since a copy made again may reuse a freed one's address."""
        if self.training:
            raise ValueError("project is for inference: training drops words and features out first")
        words = batch["words"]
        tables = self._projected_tables(weight, biases, key)
        out = nn.functional.embedding(words.t(), tables["words"])  # (T, B, H)
        if self.cfg.casing_dim:
            out += nn.functional.embedding(batch["casing"].t(), tables["casing"])
        if self.cfg.n_chars:
            c = self.char_features(batch) * (words != PAD_ID)[..., None]  # (B, T, F); padding tokens -> 0
            D, F = self.cfg.word_dim, self.cfg.char_filters
            out += (c @ weight[:, D:D + F].t()).transpose(0, 1)
        return out

    def _projected_tables(self, weight, biases, key=None) -> dict:
        """{"words": (V, H), "casing": (C, H)}: project's tables, cached under the tensors they come from."""
        sources = [self.words.weight, *(key or (weight, *biases))] + ([self.casing.weight] if self.cfg.casing_dim else [])

        def make():
            D, E = self.cfg.word_dim, self.cfg.output_size
            bias = sum(biases, weight.new_zeros(weight.size(0)))
            tables = {"words": torch.addmm(bias, self.words.weight, weight[:, :D].t())}
            if self.cfg.casing_dim:
                tables["casing"] = self.casing.weight @ weight[:, E - self.cfg.casing_dim:].t()
            return tables
        return kept(self, "_tables", sources, make)

    def char_features(self, batch) -> torch.Tensor:
        """(B, T, F): each token's character feature, the CNN's max over its characters. At inference, where the
        batch lists its distinct words (char_rows, char_of: tasks.ner_data.collate), each is computed once:
        the same numbers, 2.3x faster on CoNLL-2003 validation's batches of 64 (bench/char_features.py)."""
        if not self.training and "char_of" in batch:
            return self.char_conv(batch["char_rows"]).amax(dim=1)[batch["char_of"]]  # (U, F) -> (B, T, F)
        B, T, W = batch["chars"].shape
        return self.char_conv(batch["chars"].view(B * T, W)).amax(dim=1).view(B, T, -1)

    def char_conv(self, chars) -> torch.Tensor:
        """Character ids (N, W) -> the character CNN's outputs (N, W, F), where positions past a word's
        last character are about -1e4, far below any real output, so a max over W sees real ones only.

        Training convolves the (dropped-out) character vectors. Without dropout, a convolution of looked-up
        vectors is a sum of looked-up products, so inference looks up k tables of (characters, F) instead,
        table[j][v] = W_j @ E[v], and the middle table's <pad> row does the masking. The same numbers up
        to float rounding, without the convolution's C * k multiply-adds per output
        (tests/test_encoder_and_checkpoint.py)."""
        if self.training:
            out = self.char_cnn(self.dropout(self.chars(chars).transpose(1, 2))).transpose(1, 2)
            return out.masked_fill_((chars == PAD_ID)[..., None], -1e4)
        k, pad = self.char_cnn.kernel_size[0], self.char_cnn.padding[0]
        tables = torch.einsum("vc,fcj->jvf", self.chars.weight, self.char_cnn.weight)  # (k, V, F)
        tables[pad, PAD_ID] = -1e4  # the middle table reads each position's own character
        ids = nn.functional.pad(chars, (pad, pad), value=PAD_ID)  # the side tables' <pad> rows are 0: zero padding
        L = ids.size(1) - k + 1
        lookup = nn.functional.embedding  # whole rows (index_select): several times faster than tables[j][ids]
        out = lookup(ids[:, :L], tables[0]).add_(self.char_cnn.bias)  # (N, L, F)
        for j in range(1, k):
            out += lookup(ids[:, j:j + L], tables[j])
        return out
