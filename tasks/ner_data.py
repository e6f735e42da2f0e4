"""CoNLL-2003 as the NER task reads it: words -> word, casing and character ids (cached), padded batches,
encoded splits, and a check of the data before a run starts."""
from __future__ import annotations

import numpy as np
import torch
from tokenizers import Tokenizer

from zoo.batching import batched, pad, pad_array
from zoo.data import DataUnavailable, require
from zoo.embedding import UNK_ID, casing
from zoo.vocab import CACHED_WORD_CHARS, WordIds, build_char_vocab, build_word_tokenizer

MAX_WORD_CHARS = 20    # longer words are cut for the character CNN
CACHE_WORDS = 200_000  # distinct words a Featurizer remembers (CoNLL-2003 has about 30k)
CHAR_DTYPE = np.dtype("<i4")
_PAD_ROW = bytes(MAX_WORD_CHARS * CHAR_DTYPE.itemsize)


def char_row(ids) -> bytes:
    """A word's character ids as one row of the chars array: MAX_WORD_CHARS little-endian int32, 0-padded.
    Rows are immutable and cached per word, and a batch's chars tensor is one join of them: 40x faster than
    a tensor built from nested lists (2.3 ms per batch of 64 sentences)."""
    return np.array(list(ids) + [0] * (MAX_WORD_CHARS - len(ids)), dtype=CHAR_DTYPE).tobytes()


def char_ids(row: bytes) -> list[int]:
    """char_row's ids back (its padding dropped)."""
    return [int(i) for i in np.frombuffer(row, dtype=CHAR_DTYPE) if i]


class Featurizer:
    """Words -> the ids the model reads: word ids, casing ids, character ids (as char_row rows)."""

    def __init__(self, tokenizer: Tokenizer, chars: list[str]):
        self.tokenizer, self.chars = tokenizer, chars
        self.word_ids = WordIds(tokenizer)
        self.char_ids = {ch: i for i, ch in enumerate(chars)}
        self._cache: dict[str, tuple[int, int, bytes]] = {}

    @classmethod
    def fit(cls, sentences: list[list[str]], min_word_freq: int = 2) -> "Featurizer":
        tok = build_word_tokenizer((" ".join(s) for s in sentences), min_frequency=min_word_freq,
                                   digits_to_zero=True, split_punctuation=False)
        return cls(tok, build_char_vocab((w for s in sentences for w in s), min_frequency=2))

    def __call__(self, words: list[str]) -> dict:
        feats = [self._word(w) for w in words]
        return {"words": [f[0] for f in feats], "casing": [f[1] for f in feats], "chars": [f[2] for f in feats]}

    def _word(self, w: str) -> tuple[int, int, bytes]:
        """One word's (word id, casing id, char_row), cached: most tokens repeat, and the uncached path
        calls into the tokenizer's normaliser once per word (featurizing was a third of NER inference)."""
        f = self._cache.get(w)
        if f is None:
            if len(self._cache) >= CACHE_WORDS:  # bounded, whatever a caller streams through
                self._cache.clear()
            chars = [self.char_ids.get(ch, UNK_ID) for ch in w[:MAX_WORD_CHARS]] or [UNK_ID]
            f = (self.word_ids.lookup(w), casing(w), char_row(chars))  # cached here, so not in word_ids too
            if len(w) <= CACHED_WORD_CHARS:  # a 200,000-character "word" is featurized, not kept
                self._cache[w] = f
        return f


def arrays(examples: list[dict]) -> dict[str, np.ndarray]:
    """Encoded sentences -> the padded NumPy arrays a network reads: words, casing (B, T), chars (B, T, W),
    lengths (B,); W is the longest word in characters (at most MAX_WORD_CHARS). collate's tensors share them;
    predict on an exported network feeds them as they are: one sentence at a time on onnxruntime, predict
    without torch tensors around the network is 1.09-1.27x faster (bench/ner_one.py)."""
    T = max(len(e["words"]) for e in examples)
    rows = np.frombuffer(b"".join(b"".join(e["chars"]) + _PAD_ROW * (T - len(e["chars"])) for e in examples),
                         dtype=CHAR_DTYPE).reshape(len(examples), T, MAX_WORD_CHARS)
    used = np.flatnonzero(rows.any(axis=(0, 1)))  # character positions some word fills (real ids are >= 1)
    W = int(used[-1]) + 1 if used.size else 1
    return {"words": pad_array([e["words"] for e in examples]), "casing": pad_array([e["casing"] for e in examples]),
            "chars": rows[:, :, :W].astype(np.int64),
            "lengths": np.fromiter((len(e["words"]) for e in examples), dtype=np.int64, count=len(examples))}


def collate(examples: list[dict]) -> dict:
    """Encoded sentences -> padded tensors: arrays' words, casing (B, T), chars (B, T, W) and lengths (B,), tags
    (B, T), and for a batch of several its distinct words' characters once each, char_rows (U, W), with char_of
    (B, T), each token's row there (padding's: row 0, all padding), which inference reads instead of chars
    (a batch of 64 CoNLL-2003 sentences holds about 520 distinct words in 1,000 places)."""
    B, T = len(examples), max(len(e["words"]) for e in examples)
    batch = {k: torch.from_numpy(v) for k, v in arrays(examples).items()}
    W = batch["chars"].size(2)
    if B > 1:  # one sentence (predict) has few words to share, and onnxruntime reads chars anyway
        distinct = {_PAD_ROW: 0}  # a word's row -> its index; rows are bytes, so equal words are one key
        char_of = [[distinct.setdefault(r, len(distinct)) for r in e["chars"]] + [0] * (T - len(e["chars"]))
                   for e in examples]
        char_rows = np.frombuffer(b"".join(distinct), dtype=CHAR_DTYPE).reshape(len(distinct), MAX_WORD_CHARS)
        batch.update(char_rows=torch.from_numpy(char_rows[:, :W].astype(np.int64)), char_of=pad(char_of))
    if "tags" in examples[0]:
        batch["tags"] = pad([e["tags"] for e in examples])
    return batch


def encode_split(split, featurize: Featurizer) -> list[dict]:
    """A datasets split with tokens and ner_tags -> encoded examples (empty sentences dropped)."""
    return [{**featurize(toks), "tags": tags} for toks, tags in zip(split["tokens"], split["ner_tags"]) if toks]


def batches(examples: list[dict], batch_size: int, shuffle=False, seed=0):
    return batched(examples, collate, batch_size, shuffle, seed)


def row_problem(split, n_tags: int) -> str | None:
    """The first row a tagger cannot read, said in words (None when every row is fine): tokens or tags missing,
    their numbers differing, a tag id outside the tag names. In Arrow, not row by row in Python."""
    import pyarrow.compute as pc
    toks, tags = split.data.column("tokens"), split.data.column("ner_tags")
    missing = pc.or_(pc.is_null(toks), pc.is_null(tags))
    differ = pc.fill_null(pc.not_equal(pc.list_value_length(toks), pc.list_value_length(tags)), True)
    bad = pc.or_(missing, differ)
    if pc.any(bad).as_py():
        row = pc.index(bad, True).as_py()
        w, t = toks[row].as_py(), tags[row].as_py()
        return f"row {row}: {'no' if w is None else len(w)} tokens and {'no' if t is None else len(t)} tags; each word needs its tag"
    flat = pc.list_flatten(tags)
    if len(flat) and (pc.min(flat).as_py() < 0 or pc.max(flat).as_py() >= n_tags):
        row = next(i for i, t in enumerate(tags.to_pylist()) if any(x < 0 or x >= n_tags for x in t))
        return f"row {row}: tag id {next(x for x in tags[row].as_py() if x < 0 or x >= n_tags)}; the tags are 0 to {n_tags - 1}"
    return None


def tag_names(split) -> list[str]:
    """A split's tag names, for training and scoring alike; ValueError where its ner_tags are not a sequence of
    ClassLabel (tag ids with their names, as in eriktks/conll2003): one value a row, plain numbers, or strings."""
    feat = split.features["ner_tags"]
    inner = getattr(feat, "feature", None)
    if inner is None:
        raise ValueError(f"ner_tags are {feat}, one value a row; a tagger needs a list of tags a sentence, one per word")
    names = getattr(inner, "names", None)
    if not names:
        kind = "tag strings" if getattr(inner, "dtype", None) in ("string", "large_string") else "plain numbers"
        raise ValueError(f"ner_tags are {feat}, {kind} without the list of tag names; a tagger needs a sequence of "
                         "ClassLabel (tag ids with their names, as in eriktks/conll2003): datasets' cast_column "
                         "to List(ClassLabel(names=[...])) makes one")
    return names


def check_data(ds, where: str) -> None:
    """Before a run writes anything: train and validation splits with tokens and named tags (tag_names);
    DataUnavailable, one line, otherwise."""
    require(ds, where, splits=("train", "validation"), columns=("tokens", "ner_tags"))
    names = {}
    for s in ("train", "validation", "test"):
        if s in ds:
            try:
                names[s] = tag_names(ds[s])
            except ValueError as e:
                raise DataUnavailable(f"{where}: the {s} split's {e}") from None
    other = [s for s, n in names.items() if n != names["train"]]
    if other:
        raise DataUnavailable(f"{where}: the {', '.join(other)} split names its tags differently from train")
    for split, split_names in names.items():
        problem = row_problem(ds[split], len(split_names))
        if problem:
            raise DataUnavailable(f"{where}: the {split} split's {problem}")
